"""Loki's query parameters, read as Loki's `loghttp` package reads them: timestamps as Unix
nanoseconds, Unix seconds (10 digits or fewer, or with a fraction) or RFC 3339; `end`
defaults to now and `start` to an hour before it (or `since` before it); `step` and
`interval` as float seconds or a duration; `limit` and `direction` with Loki's defaults.
A bad parameter is a `LokiError`: a plain-text 400 in Loki's words."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import PlainTextResponse

from vigil.config.duration import DurationError, parse_seconds_or_duration
from vigil.web.body import read_capped

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
DEFAULT_SINCE_NS = 3600 * NS_PER_S
DEFAULT_LIMIT = 100
MAX_POINTS = 11_000
MAX_FORM_BYTES = 10 << 20
MAX_FORM_FIELDS = 10_000
_INT64 = re.compile(r"[+-]?[0-9]+\Z")
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})\Z"
)


class LokiError(Exception):
    """A request Loki refuses: `status` (400 for bad parameters) and its message, which Loki
    answers as the plain-text body."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def response(self) -> PlainTextResponse:
        return PlainTextResponse(self.message + "\n", status_code=self.status)


class Direction(StrEnum):
    FORWARD = "forward"
    BACKWARD = "backward"


Params = dict[str, list[str]]


async def read_params(request: Request) -> Params:
    """Query-string parameters and, for a POST form, its fields; each name with its values."""
    params: Params = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method != "POST":
        return params
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != "application/x-www-form-urlencoded":
        return params
    body = await read_capped(request, MAX_FORM_BYTES)
    if body is None:
        raise LokiError(f"http: POST too large: a form may have at most {MAX_FORM_BYTES} bytes")
    try:
        fields = parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        raise LokiError(f"a form may have at most {MAX_FORM_FIELDS} fields") from None
    for key, value in fields:
        params.setdefault(key, []).append(value)
    return params


def first(params: Params, name: str) -> str:
    """The parameter's first value, or "" when it is absent (Go's `Form.Get`)."""
    values = params.get(name)
    return values[0] if values else ""


def parse_timestamp(text: str, default_ns: int) -> int:
    """Unix nanoseconds of `text`: float seconds when it has a dot, else an integer (seconds
    when 10 digits or fewer, nanoseconds when longer), else RFC 3339."""
    if not text:
        return default_ns
    if "." in text:
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if math.isfinite(seconds):
            whole = math.trunc(seconds)
            fraction = round((seconds - whole) * 1000) / 1000
            return whole * NS_PER_S + round(fraction * NS_PER_S)
    if _INT64.match(text):
        value = int(text)
        if -(2**63) <= value < 2**63:
            return value * NS_PER_S if len(text) <= 10 else value
        raise LokiError(f'strconv.ParseInt: parsing "{text}": value out of range')
    parsed = _rfc3339_ns(text)
    if parsed is None:
        raise LokiError(f'strconv.ParseInt: parsing "{text}": invalid syntax')
    return parsed


def _rfc3339_ns(text: str) -> int | None:
    match = _RFC3339.match(text)
    if match is None:
        return None
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        seconds = datetime.fromisoformat(f"{day}T{clock}{zone}").timestamp()
    except ValueError:
        return None
    return int(seconds) * NS_PER_S + int((fraction or "0").ljust(9, "0"))


def parse_duration_ns(text: str, name: str) -> int:
    """Float seconds or a duration (`1m30s`, `500ms`), to nanoseconds."""
    try:
        return parse_seconds_or_duration(text) * NS_PER_MS
    except DurationError as err:
        raise LokiError(f'invalid parameter "{name}": {err}') from None


@dataclass(frozen=True, slots=True)
class Bounds:
    start_ns: int
    end_ns: int


def bounds(params: Params, now_ns: int) -> Bounds:
    """`start` and `end` as Loki reads them: `end` defaults to now; `start` to `since` (an
    hour by default) before `end`, or before now when `end` is in the future."""
    end = parse_timestamp(first(params, "end"), now_ns)
    since = DEFAULT_SINCE_NS
    if first(params, "since"):
        since = parse_duration_ns(first(params, "since"), "since")
    start = parse_timestamp(first(params, "start"), min(end, now_ns) - since)
    return Bounds(start, end)


def parse_limit(params: Params) -> int:
    text = first(params, "limit")
    if not text:
        return DEFAULT_LIMIT
    if not _INT64.match(text):
        raise LokiError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
    limit = int(text)
    if limit <= 0:
        raise LokiError("limit must be a positive value")
    return limit


def parse_direction(params: Params) -> Direction:
    text = first(params, "direction")
    if not text:
        return Direction.BACKWARD
    try:
        return Direction(text.lower())
    except ValueError:
        raise LokiError(f"invalid direction '{text}'") from None


@dataclass(frozen=True, slots=True)
class RangeParams:
    """What `query_range` reads besides the query: its bounds, `step` (default: a 250th of
    the range, at least a second) and `interval` (0: every entry) in nanoseconds."""

    start_ns: int
    end_ns: int
    step_ns: int
    interval_ns: int
    limit: int
    direction: Direction


def range_params(params: Params, now_ns: int) -> RangeParams:
    span = bounds(params, now_ns)
    if span.end_ns < span.start_ns:
        raise LokiError("end timestamp must not be before or equal to start time")
    step = max((span.end_ns - span.start_ns) // NS_PER_S // 250, 1) * NS_PER_S
    if first(params, "step"):
        step = parse_duration_ns(first(params, "step"), "step")
    if step <= 0:
        raise LokiError(
            "zero or negative query resolution step widths are not accepted. Try a positive integer"
        )
    if (span.end_ns - span.start_ns) // step > MAX_POINTS:
        raise LokiError(
            "exceeded maximum resolution of 11,000 points per timeseries. "
            "Try decreasing the query resolution (?step=XX)"
        )
    interval = 0
    if first(params, "interval"):
        interval = parse_duration_ns(first(params, "interval"), "interval")
        if interval < 0:
            raise LokiError("interval must be >= 0")
    return RangeParams(
        span.start_ns, span.end_ns, step, interval, parse_limit(params), parse_direction(params)
    )
