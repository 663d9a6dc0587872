"""Tempo's `/api/metrics/query_range` (and `/api/metrics/query`, one value per series over the
range): a TraceQL metrics query (`q`, e.g.
`{ status = error } | rate() by (resource.service.name)`) over `start`/`end` (Unix seconds,
nanoseconds or RFC 3339; the last hour by default) by `step` (a duration; by default the
range over 250, at least 1s), answered as Tempo's `QueryRangeResponse` in JSON: series with
OTLP key-value labels (`__bucket` and `p` as doubles), `promLabels` and `samples` of
`timestampMs` and `value`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import QueryParams

from vigil.traces.traceql import ParseError
from vigil.traces.traceql.compare import META_ERROR, Label
from vigil.traces.traceql.metrics import (
    MetricsQuery,
    Series,
    aligned_start,
    parse_metrics,
)
from vigil.web.tempo_search import DEFAULT_WINDOW_NS, NS_PER_S, TempoError
from vigil.web.trace_params import parse_duration_ns

_STEPS = 250
_NS_DIGITS = 15  # an integer with more digits is nanoseconds, not seconds


@dataclass(frozen=True, slots=True)
class RangeRequest:
    query: MetricsQuery
    start_ns: int
    end_ns: int
    step_ns: int

    @property
    def span(self) -> tuple[int, int]:
        """The range the spans are read from: the start aligned down to a step."""
        return aligned_start(self.start_ns, self.step_ns), self.end_ns


def range_request(params: QueryParams, now_ns: int) -> RangeRequest:
    text = params.get("q", "")
    if not text.strip():
        raise TempoError("invalid q: a TraceQL metrics query is required")
    try:
        query = parse_metrics(text)
    except ParseError as err:
        raise TempoError(f"invalid TraceQL query: {err}") from None
    end = _time(params, "end", now_ns)
    start = _time(params, "start", end - DEFAULT_WINDOW_NS)
    if start >= end:
        raise TempoError("invalid start: it must be before end")
    step_text = params.get("step", "")
    try:
        step = (
            parse_duration_ns(step_text, "step")
            if step_text
            else max((end - start) // _STEPS // NS_PER_S, 1) * NS_PER_S
        )
    except ValueError as err:
        raise TempoError(str(err)) from None
    if step <= 0:
        raise TempoError("invalid step: must be a positive duration")
    return RangeRequest(query, start, end, step)


def _time(params: QueryParams, name: str, default: int) -> int:
    text = params.get(name, "").strip()
    if not text:
        return default
    try:
        number = float(text)
    except ValueError:
        try:
            return round(datetime.fromisoformat(text).timestamp() * NS_PER_S)
        except ValueError:
            raise TempoError(
                f"invalid {name}: {text!r} is not Unix seconds, nanoseconds or RFC 3339"
            ) from None
    digits = len(text.partition(".")[0].lstrip("-"))
    return int(text) if digits >= _NS_DIGITS and text.isdigit() else round(number * NS_PER_S)


def instant_request(params: QueryParams, now_ns: int) -> RangeRequest:
    """`q`, `start` and `end` of an instant query; its one step spans the range."""
    wanted = range_request(params, now_ns)
    return RangeRequest(
        wanted.query, wanted.start_ns, wanted.end_ns, wanted.end_ns - wanted.start_ns
    )


def instant_answer(series: list[tuple[tuple[Label, ...], float]]) -> dict[str, Any]:
    return {
        "series": [
            {
                "labels": [{"key": k, "value": _any_value(v)} for k, v in labels],
                "promLabels": _prom_labels(labels),
                "value": value,
            }
            for labels, value in series
        ],
        "metrics": {},
    }


def range_answer(series: list[Series]) -> dict[str, Any]:
    """Steps without a value (NaN) are left out, and series without any, as Tempo does, but
    compare()'s `__meta_error` series, which say a field had too many values."""
    answered = []
    for s in series:
        samples = [
            {"timestampMs": str(t), "value": v}
            for t, v in zip(s.timestamps_ms.tolist(), s.values.tolist(), strict=True)
            if not math.isnan(v)
        ]
        if samples or any(k == META_ERROR for k, _ in s.labels):
            answered.append(
                {
                    "labels": [{"key": k, "value": _any_value(v)} for k, v in s.labels],
                    "promLabels": _prom_labels(s.labels),
                    "samples": samples,
                }
            )
    return {"series": answered, "metrics": {}}


def _any_value(value: str | bool | int | float | None) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value}


def _prom_labels(labels: tuple[Label, ...]) -> str:
    def text(value: str | bool | int | float | None) -> str:
        if value is None:
            return "nil"
        shown = str(value).lower() if isinstance(value, bool) else str(value)
        return '"' + shown.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ", ".join(f"{k}={text(v)}" for k, v in labels) + "}"
