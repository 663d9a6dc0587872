"""Prometheus's HTTP API (`/api/v1/*`): the JSON envelope, error types, status codes and
value formatting that Grafana's Prometheus datasource and `promtool query` rely on.

Thin by design: it parses parameters, calls the engine or a Querier, renders the result.
Queries run in a worker thread so a long one never blocks scraping on the event loop; one
whose last run took under 2 ms (dashboards repeat theirs) skips that hop and runs on the loop. Results are rendered straight to
JSON bytes, the sample values of a whole matrix in one orjson call plus a few bytes passes.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qsl

import numpy as np
import numpy.typing as npt
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive

import vigil
from vigil.config.duration import DurationError, parse_seconds_or_duration
from vigil.model import Labels, Matcher
from vigil.model.gofloat import format_json, format_json_all, rewrite_orjson_floats
from vigil.model.histogram import FloatHistogram
from vigil.promql import ast
from vigil.promql.ast_json import parse_query_ast
from vigil.promql.engine import Queryable, QueryEngine
from vigil.promql.errors import (
    InvalidQueryError,
    ParseError,
    PromQLError,
    QueryCancelledError,
    QueryTimeoutError,
    UnsupportedFeatureError,
)
from vigil.promql.parser import parse, prettify
from vigil.promql.value import (
    F64,
    QueryResult,
    QueryValue,
    Sample,
    Scalar,
    Series,
    String,
    Vector,
)
from vigil.web.body import read_capped

_T = TypeVar("_T")

MIN_TIME_MS = -(2**63) // 1000 * 1000  # Prometheus's minTime, rounded to ms
MAX_TIME_MS = (2**63 - 1) // 1000 * 1000
_FAR_TIME_MS = 2**62
MAX_POINTS = 11_000
MAX_FORM_BYTES = 10 << 20  # Go's ParseForm limit, which Prometheus's API inherits
MAX_FORM_FIELDS = 10_000
_PARSE_INLINE_BYTES = 64 << 10  # a larger form is parsed in a worker thread


class APIError(Exception):
    """An error the API reports in Prometheus's envelope: its type decides the HTTP code."""

    STATUS: ClassVar[dict[str, int]] = {
        "bad_data": 400,
        "execution": 422,
        "canceled": 503,
        "timeout": 503,
        "internal": 500,
        "not_found": 404,
        "unavailable": 503,
    }

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message


@dataclass(slots=True)
class APIContext:
    """What the API reads from the rest of the process; each piece is passed in by the server."""

    engine: QueryEngine
    queryable: Queryable
    clock: Callable[[], float] = time.time
    flags: Mapping[str, str] = field(default_factory=dict)
    config_yaml: Callable[[], str] = lambda: ""
    tsdb_stats: Callable[[], Mapping[str, Any]] = lambda: {}
    metadata: Callable[[], Mapping[str, list[dict[str, str]]]] = lambda: {}
    runtime: Callable[[], Mapping[str, Any]] = lambda: {}
    max_concurrency: int = 20  # --query.max-concurrency: more queries wait their turn
    monotonic: Callable[[], float] = time.monotonic  # measures how long a query waited


# --- formatting -------------------------------------------------------------------------


def format_timestamp(t_ms: int) -> str:
    """Prometheus's `jsonutil.MarshalTimestamp`: seconds, with milliseconds when there are any."""
    sign, t_ms = ("-", -t_ms) if t_ms < 0 else ("", t_ms)
    seconds, ms = divmod(t_ms, 1000)
    return f"{sign}{seconds}.{ms:03d}" if ms else f"{sign}{seconds}"


_EXACT_MS = 2**53  # below it, float seconds print back as the exact milliseconds
_BREAK_TIME, _BREAK_VALUE = np.array([np.nan]), np.zeros(1)
_SERIES_BREAK = b'],[null,"0"],['  # that row [NaN, 0] between two series' points


def _matrix_json(series: Sequence[Series]) -> bytes:
    """All series' `[t, "v"]` points in one orjson call and a few passes over its bytes."""
    if not series:
        return b"[]"
    if any(s.histograms for s in series):
        return b"[" + b",".join(_series_json_exactly(s) for s in series) + b"]"
    times_parts: list[npt.NDArray[Any]] = []
    values_parts: list[F64] = []
    for s in series:
        times_parts.extend((s.timestamps, _BREAK_TIME))
        values_parts.extend((s.values, _BREAK_VALUE))
    times = np.concatenate(times_parts[:-1])
    if not all(len(s.values) for s in series) or (np.abs(times) >= _EXACT_MS).any():
        return b"[" + b",".join(_series_json_exactly(s) for s in series) + b"]"
    rows = np.empty((len(times), 2))
    rows[:, 0] = times / 1000
    rows[:, 1] = np.concatenate(values_parts[:-1])
    text = orjson.dumps(rows, option=orjson.OPT_SERIALIZE_NUMPY).replace(b".0,", b",")
    text = text.replace(b",", b',"').replace(b'],"[', b'"],[')[:-2] + b'"]]'
    points = rewrite_orjson_floats(text, rows[:, 1])[2:-2].split(_SERIES_BREAK)
    return (
        b"["
        + b",".join(
            b'{"metric":' + orjson.dumps(dict(s.labels)) + b',"values":[[' + p + b"]]}"
            for s, p in zip(series, points, strict=True)
        )
        + b"]"
    )


def _series_json_exactly(series: Series) -> bytes:
    """The slow way, for points whose time in float seconds would not print exactly, and for
    series with histogram points (`values` only when there are float points, as Prometheus)."""
    out = b'{"metric":' + orjson.dumps(dict(series.labels))
    if len(series.values) or not series.histograms:
        times = map(format_timestamp, series.timestamps.tolist())
        values = format_json_all(series.values)
        out += b',"values":[' + ",".join(map('[{},"{}"]'.format, times, values)).encode() + b"]"
    if series.histograms:
        points = (
            b"[" + format_timestamp(t).encode() + b"," + histogram_json(h) + b"]"
            for t, h in series.histograms
        )
        out += b',"histograms":[' + b",".join(points) + b"]"
    return out + b"}"


def histogram_json(h: FloatHistogram) -> bytes:
    """Prometheus's JSON of a native histogram: count, sum, and each populated bucket as
    [boundary rule, lower, upper, count] (rule 0: (lower, upper], 1: [lower, upper),
    2: (lower, upper), 3: [lower, upper])."""
    text = {"count": format_json(h.count), "sum": format_json(h.sum)}
    rows = [
        [
            (3 if b.upper_inclusive else 1)
            if b.lower_inclusive
            else (0 if b.upper_inclusive else 2),
            format_json(b.lower),
            format_json(b.upper),
            format_json(b.count),
        ]
        for b in h.buckets()
        if b.count != 0
    ]
    return orjson.dumps({**text, "buckets": rows} if rows else text)


def _sample_json(sample: Sample, value: str) -> bytes:
    point = (
        b',"histogram":['
        + format_timestamp(sample.t_ms).encode()
        + b","
        + histogram_json(sample.histogram)
        if sample.histogram is not None
        else b',"value":[' + format_timestamp(sample.t_ms).encode() + b',"' + value.encode() + b'"'
    )
    return b'{"metric":' + orjson.dumps(dict(sample.labels)) + point + b"]}"


def render_value(value: QueryValue) -> bytes:
    """A query's value as the JSON of the API's `data` member."""
    if isinstance(value, Scalar | String):
        text = format_json(value.value) if isinstance(value, Scalar) else value.value
        kind = b"scalar" if isinstance(value, Scalar) else b"string"
        result = b"[" + format_timestamp(value.t_ms).encode() + b"," + orjson.dumps(text) + b"]"
    elif isinstance(value, Vector):
        values = format_json_all(np.array([s.value for s in value.samples], dtype=np.float64))
        if any(s.histogram is not None for s in value.samples):
            result = b"[" + b",".join(map(_sample_json, value.samples, values)) + b"]"
        else:
            result = (
                b"["
                + b",".join(
                    b'{"metric":'
                    + orjson.dumps(dict(s.labels))
                    + b',"value":['
                    + format_timestamp(s.t_ms).encode()
                    + b',"'
                    + v.encode()
                    + b'"]}'
                    for s, v in zip(value.samples, values, strict=True)
                )
                + b"]"
            )
        kind = b"vector"
    else:
        result, kind = _matrix_json(value.series), b"matrix"
    return b'{"resultType":"' + kind + b'","result":' + result + b"}"


def success(data: Any, warnings: Sequence[str] = (), infos: Sequence[str] = ()) -> Response:
    return _success_json(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), warnings, infos)


def _success_json(data: bytes, warnings: Sequence[str], infos: Sequence[str]) -> Response:
    body = b'{"status":"success","data":' + data
    if warnings:
        body += b',"warnings":' + orjson.dumps(list(warnings))
    if infos:
        body += b',"infos":' + orjson.dumps(list(infos))
    return Response(body + b"}", media_type="application/json")


def failure(err: APIError) -> Response:
    return Response(
        orjson.dumps({"status": "error", "errorType": err.error_type, "error": err.message}),
        status_code=APIError.STATUS.get(err.error_type, 500),
        media_type="application/json",
    )


async def storage_not_ready(_: Request, err: Exception) -> Response:
    """The server's handler for `StorageNotReady` from any route: 503 `unavailable`."""
    return failure(APIError("unavailable", str(err)))


async def storage_corrupt(_: Request, err: Exception) -> Response:
    """The server's handler for `CorruptDataError` from a route that reads storage without
    the engine (series, labels, remote read): 422 `execution`, as for a query."""
    return failure(APIError("execution", str(err)))


# --- parameters -------------------------------------------------------------------------


def parse_time(text: str, name: str) -> int:
    """A Unix timestamp (float seconds) or RFC 3339 time, to milliseconds."""
    bad = APIError(
        "bad_data", f'invalid parameter "{name}": cannot parse "{text}" to a valid timestamp'
    )
    try:
        seconds = float(text)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise bad from None
        if parsed.tzinfo is None:
            raise bad from None
        return round(parsed.timestamp() * 1000)
    if not math.isfinite(seconds):
        raise bad
    # Prometheus answers far-off times (an empty result) rather than refusing them; clamped,
    # they stay clear of int64 overflow in the engine's arithmetic.
    return round(max(-_FAR_TIME_MS, min(_FAR_TIME_MS, seconds * 1000.0)))


def parse_duration(text: str, name: str) -> int:
    """Float seconds or a Prometheus duration (`1m30s`), to milliseconds; as in Prometheus, one
    that does not fit Go's int64 nanoseconds (~292 years) is refused."""
    try:
        return parse_seconds_or_duration(text)
    except DurationError as err:
        raise APIError("bad_data", f'invalid parameter "{name}": {err}') from None


async def _params(request: Request) -> dict[str, list[str]]:
    """Query string and (for POST) form parameters, each name with all its values."""
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)
    if request.method != "POST":
        return params
    body = await read_capped(request, MAX_FORM_BYTES)
    if body is None:
        raise APIError(
            "bad_data", f"http: POST too large: a form may have at most {MAX_FORM_BYTES} bytes"
        )
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        # Starlette's form parser, without its per-byte callbacks; raw bytes are UTF-8 as in Go.
        text = body.decode("utf-8", "replace")
        try:
            if len(body) < _PARSE_INLINE_BYTES:
                fields = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
            else:
                fields = await _in_thread(
                    lambda: parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
                )
        except ValueError:
            raise APIError(
                "bad_data", f"a form may have at most {MAX_FORM_FIELDS} fields"
            ) from None
        for key, value in fields:
            params.setdefault(key, []).append(value)
        return params
    form = await Request(request.scope, _replay(body)).form(max_fields=MAX_FORM_FIELDS)
    for key, field_value in form.multi_items():
        if isinstance(field_value, str):
            params.setdefault(key, []).append(field_value)
    return params


def _replay(body: bytes) -> Receive:
    """An ASGI `receive` that hands over `body`, already read, as the whole request."""

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _signed(params: Mapping[str, list[str]], name: str) -> int:
    """An optional integer parameter as Prometheus's metadata API reads it; -1 when absent."""
    text = _one(params, name)
    if not text:
        return -1
    try:
        return int(text)
    except ValueError:
        raise APIError("bad_data", f"{name} must be a number") from None


def _one(params: Mapping[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _request_timeout(params: Mapping[str, list[str]]) -> float | None:
    """A query's own `timeout` in seconds, if it has one; --query.timeout bounds it too."""
    text = _one(params, "timeout")
    return parse_duration(text, "timeout") / 1000 if text else None


def _matchers_of(selectors: Sequence[str]) -> list[list[Matcher]]:
    """`match[]` selectors to matcher sets (one per selector and per `or` alternative)."""
    out: list[list[Matcher]] = []
    for text in selectors:
        try:
            node = parse(text)
        except PromQLError as err:
            raise APIError("bad_data", f'invalid parameter "match[]": {err}') from None
        if not isinstance(node, ast.VectorSelector):
            raise APIError(
                "bad_data", f'invalid parameter "match[]": {text!r} is not a series selector'
            )
        out.extend(list(group) for group in node.matcher_groups)
    return out


# --- handlers ---------------------------------------------------------------------------

_INLINE_S = 0.002  # a query that last ran faster runs on the event loop
_REMEMBERED_QUERIES = 4096  # query keys whose last run time is kept


async def _in_thread(fn: Callable[[], _T]) -> _T:
    """`fn` in the loop's default executor: a cheaper hop than Starlette's (anyio's) one."""
    return await asyncio.get_running_loop().run_in_executor(None, fn)


class PrometheusAPI:
    """The `/api/v1` routes over one APIContext."""

    def __init__(self, ctx: APIContext) -> None:
        self.ctx = ctx
        self._slots = asyncio.Semaphore(max(1, ctx.max_concurrency))
        self._seconds: dict[tuple[object, ...], float] = {}  # last run's, oldest key first
        self._may_inline = ctx.engine.in_process

    def routes(self) -> list[BaseRoute]:
        both = ["GET", "POST"]
        return [
            Route("/api/v1/query", self._wrap(self.query), methods=both),
            Route("/api/v1/query_range", self._wrap(self.query_range), methods=both),
            Route("/api/v1/series", self._wrap(self.series), methods=both),
            Route("/api/v1/labels", self._wrap(self.labels), methods=both),
            Route("/api/v1/label/{name}/values", self._wrap(self.label_values), methods=["GET"]),
            Route("/api/v1/metadata", self._wrap(self.metadata), methods=["GET"]),
            Route("/api/v1/query_exemplars", self._wrap(self.exemplars), methods=both),
            Route("/api/v1/format_query", self._wrap(self.format_query), methods=both),
            Route("/api/v1/parse_query", self._wrap(self.parse_query), methods=both),
            Route("/api/v1/status/buildinfo", self._wrap(self.buildinfo), methods=["GET"]),
            Route("/api/v1/status/runtimeinfo", self._wrap(self.runtimeinfo), methods=["GET"]),
            Route("/api/v1/status/config", self._wrap(self.status_config), methods=["GET"]),
            Route("/api/v1/status/flags", self._wrap(self.flags), methods=["GET"]),
            Route("/api/v1/status/tsdb", self._wrap(self.status_tsdb), methods=["GET"]),
        ]

    @staticmethod
    def _wrap(
        handler: Callable[[dict[str, list[str]], Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(await _params(request), request)
            except APIError as err:
                return failure(err)

        return endpoint

    def _now_ms(self) -> int:
        return round(self.ctx.clock() * 1000)

    async def _run(
        self,
        key: tuple[object, ...],
        query: Callable[[float], QueryResult],
        parse_error_prefix: str = "",
    ) -> QueryResult:
        """Run `query(seconds it waited)` in a worker thread, or on the event loop when the
        in-process engine last ran the same `key` (text, range, step) in under _INLINE_S; each
        run's time decides where the next one runs. The wait for a slot (and for a thread)
        counts against the query's timeout, as in Prometheus. A parse error's message starts
        with `parse_error_prefix`: Prometheus's instant query names the parameter, its range
        query does not."""
        arrived = self.ctx.monotonic()

        def fn() -> QueryResult:
            return query(self.ctx.monotonic() - arrived)

        try:
            async with self._slots:
                began = time.perf_counter()
                if self._seconds.pop(key, math.inf) < _INLINE_S and self._may_inline:
                    result = fn()
                else:
                    result = await _in_thread(fn)
                self._seconds[key] = time.perf_counter() - began
                if len(self._seconds) > _REMEMBERED_QUERIES:
                    del self._seconds[next(iter(self._seconds))]
                return result
        except ParseError as err:
            raise APIError("bad_data", f"{parse_error_prefix}{err}") from None
        except InvalidQueryError as err:
            raise APIError("bad_data", str(err)) from None
        except UnsupportedFeatureError as err:
            raise APIError("bad_data", str(err)) from None
        except QueryTimeoutError as err:
            raise APIError("timeout", str(err)) from None
        except QueryCancelledError as err:
            raise APIError("canceled", str(err)) from None
        except PromQLError as err:
            raise APIError("execution", str(err)) from None

    async def query(self, params: dict[str, list[str]], _: Request) -> Response:
        timeout = _request_timeout(params)
        text = _one(params, "query")
        if text is None:
            raise APIError("bad_data", 'invalid parameter "query": query must not be empty')
        when = _one(params, "time")
        t_ms = parse_time(when, "time") if when else self._now_ms()
        result = await self._run(
            (text,),
            lambda queued: self.ctx.engine.instant_query(
                text, t_ms, timeout_s=timeout, queued_s=queued
            ),
            parse_error_prefix='invalid parameter "query": ',
        )
        return _success_json(render_value(result.value), result.warnings, result.infos)

    async def query_range(self, params: dict[str, list[str]], _: Request) -> Response:
        timeout = _request_timeout(params)
        text = _one(params, "query")
        start_text, end_text, step_text = (_one(params, n) for n in ("start", "end", "step"))
        if start_text is None:
            raise APIError(
                "bad_data", 'invalid parameter "start": cannot parse "" to a valid timestamp'
            )
        if end_text is None:
            raise APIError(
                "bad_data", 'invalid parameter "end": cannot parse "" to a valid timestamp'
            )
        start, end = parse_time(start_text, "start"), parse_time(end_text, "end")
        if end < start:
            raise APIError(
                "bad_data", 'invalid parameter "end": end timestamp must not be before start time'
            )
        if step_text is None:
            raise APIError(
                "bad_data", 'invalid parameter "step": cannot parse "" to a valid duration'
            )
        step = parse_duration(step_text, "step")
        if step <= 0:
            raise APIError(
                "bad_data",
                'invalid parameter "step": zero or negative query resolution step widths are not accepted. Try a positive integer',
            )
        if (end - start) // step > MAX_POINTS:
            raise APIError(
                "bad_data",
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            )
        if not text:
            raise APIError("bad_data", 'invalid parameter "query": query must not be empty')
        result = await self._run(
            (text, end - start, step),
            lambda queued: self.ctx.engine.range_query(
                text, start, end, step, timeout_s=timeout, queued_s=queued
            ),
        )
        return _success_json(render_value(result.value), result.warnings, result.infos)

    def _range(self, params: Mapping[str, list[str]]) -> tuple[int, int]:
        start_text, end_text = _one(params, "start"), _one(params, "end")
        start = parse_time(start_text, "start") if start_text else MIN_TIME_MS
        end = parse_time(end_text, "end") if end_text else MAX_TIME_MS
        if end < start:
            raise APIError(
                "bad_data", 'invalid parameter "end": end timestamp must not be before start time'
            )
        return start, end

    def _limit(self, params: Mapping[str, list[str]]) -> int | None:
        text = _one(params, "limit")
        if not text:
            return None
        if not text.isdigit():
            raise APIError(
                "bad_data",
                f'invalid parameter "limit": cannot parse "{text}" as a positive integer',
            )
        return int(text) or None

    async def series(self, params: dict[str, list[str]], _: Request) -> Response:
        selectors = params.get("match[]", [])
        if not selectors:
            raise APIError("bad_data", "no match[] parameter provided")
        matcher_sets = await _in_thread(lambda: _matchers_of(selectors))
        start, end = self._range(params)
        limit = self._limit(params)

        def run() -> list[dict[str, str]]:
            querier = self.ctx.queryable(start, end)
            try:
                found: dict[Labels, None] = {}
                for matchers in matcher_sets:
                    found.update(dict.fromkeys(querier.series(matchers)))
            finally:
                querier.close()
            ordered = sorted(found)
            return [dict(labels) for labels in (ordered[:limit] if limit else ordered)]

        return success(await _in_thread(run))

    async def labels(self, params: dict[str, list[str]], _: Request) -> Response:
        matcher_sets = await _in_thread(lambda: _matchers_of(params.get("match[]", [])))
        start, end = self._range(params)
        limit = self._limit(params)

        def run() -> list[str]:
            querier = self.ctx.queryable(start, end)
            try:
                names: set[str] = set()
                for matchers in matcher_sets or [[]]:
                    names.update(querier.label_names(matchers))
            finally:
                querier.close()
            ordered = sorted(names)
            return ordered[:limit] if limit else ordered

        return success(await _in_thread(run))

    async def label_values(self, params: dict[str, list[str]], request: Request) -> Response:
        name = request.path_params["name"]
        if name.startswith("U__"):
            name = _unescape_label_name(name)
        matcher_sets = await _in_thread(lambda: _matchers_of(params.get("match[]", [])))
        start, end = self._range(params)
        limit = self._limit(params)

        def run() -> list[str]:
            querier = self.ctx.queryable(start, end)
            try:
                values: set[str] = set()
                for matchers in matcher_sets or [[]]:
                    values.update(querier.label_values(name, matchers))
            finally:
                querier.close()
            ordered = sorted(values)
            return ordered[:limit] if limit else ordered

        return success(await _in_thread(run))

    async def metadata(self, params: dict[str, list[str]], _: Request) -> Response:
        """Per metric name, the distinct (type, help, unit) the targets' expositions carried;
        `limit` caps the metrics, `limit_per_metric` the entries of each (negative: no cap)."""
        metric = _one(params, "metric")
        limit = _signed(params, "limit")
        per_metric = _signed(params, "limit_per_metric")
        found: dict[str, list[dict[str, str]]] = {}
        for name, entries in sorted(self.ctx.metadata().items()):
            if metric and name != metric:
                continue
            if 0 <= limit <= len(found):
                break
            found[name] = list(entries[:per_metric] if per_metric > 0 else entries)
        return success(found)

    async def exemplars(self, params: dict[str, list[str]], _: Request) -> Response:
        """No exemplars are stored; the request is still checked as Prometheus checks it."""
        self._range(params)
        text = _one(params, "query") or ""
        try:
            await _in_thread(lambda: parse(text))
        except PromQLError as err:
            raise APIError("bad_data", str(err)) from None
        return success([])

    async def format_query(self, params: dict[str, list[str]], _: Request) -> Response:
        text = _one(params, "query") or ""
        try:
            return success(await _in_thread(lambda: prettify(text)))
        except ParseError as err:
            raise APIError("bad_data", f'invalid parameter "query": {err}') from None

    async def parse_query(self, params: dict[str, list[str]], _: Request) -> Response:
        text = _one(params, "query") or ""
        try:
            return success(await _in_thread(lambda: parse_query_ast(text)))
        except (ParseError, UnsupportedFeatureError) as err:
            raise APIError("bad_data", f'invalid parameter "query": {err}') from None

    async def buildinfo(self, params: dict[str, list[str]], _: Request) -> Response:
        import platform

        return success(
            {
                "version": vigil.__version__,
                "revision": "",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": f"python{platform.python_version()}",
            }
        )

    async def runtimeinfo(self, params: dict[str, list[str]], _: Request) -> Response:
        return success(dict(self.ctx.runtime()))

    async def status_config(self, params: dict[str, list[str]], _: Request) -> Response:
        return success({"yaml": self.ctx.config_yaml()})

    async def flags(self, params: dict[str, list[str]], _: Request) -> Response:
        return success(dict(self.ctx.flags))

    async def status_tsdb(self, params: dict[str, list[str]], _: Request) -> Response:
        return success(dict(self.ctx.tsdb_stats()))


def _unescape_label_name(name: str) -> str:
    """Prometheus 3's `U__` escaping of UTF-8 label names in URL paths (`U__a_2e_b` → `a.b`)."""
    body = name[3:]
    return re.sub(r"_([0-9a-fA-F]+)_", lambda m: chr(int(m.group(1), 16)), body)
