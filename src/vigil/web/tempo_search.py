"""Tempo's `/api/search`: its parameters (`tags` logfmt, `minDuration`/`maxDuration` of the
whole trace, `limit`, `spss`, `start`/`end` in Unix seconds; `q` TraceQL) and its answer,
`{"traces": [{traceID, rootServiceName, rootTraceName, startTimeUnixNano, durationMs,
serviceStats, spanSet, spanSets}], "metrics": {...}}` with Tempo's spelling (64-bit numbers as strings,
trace ids without leading zeros)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
from starlette.datastructures import QueryParams

from vigil.traces import STATUS_ERROR, Spans
from vigil.web.trace_params import logfmt_tags, parse_duration_ns
from vigil.web.trace_search import FoundTrace, SpanFilter

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
DEFAULT_LIMIT = 20
DEFAULT_SPSS = 3
DEFAULT_WINDOW_NS = 3600 * NS_PER_S
_MATCH_ALL = re.compile(r"\s*(\{\s*\})?\s*\Z")


class TempoError(Exception):
    """A request Tempo refuses: its status and the plain-text message it answers."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def seconds_range(params: QueryParams, now_ns: int) -> tuple[int, int]:
    """`start`/`end` in Unix seconds; without them, the hour before now."""
    end = _number(params, "end", now_ns // NS_PER_S) * NS_PER_S if params.get("end") else now_ns
    start = (
        _number(params, "start", 0) * NS_PER_S if params.get("start") else end - DEFAULT_WINDOW_NS
    )
    if start > end:
        raise TempoError(f"invalid start: {start // NS_PER_S} is after end {end // NS_PER_S}")
    return start, end


def _number(params: QueryParams, name: str, default: int) -> int:
    text = params.get(name, "")
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise TempoError(f"invalid {name}: {text!r} is not an integer") from None


def _positive(params: QueryParams, name: str, default: int) -> int:
    value = _number(params, name, default)
    if value <= 0:
        raise TempoError(f"invalid {name}: must be a positive number")
    return value


@dataclass(frozen=True, slots=True)
class SearchRequest:
    span_filter: SpanFilter
    min_duration_ns: int | None
    max_duration_ns: int | None
    limit: int
    spans_per_set: int

    def keep(self, trace: FoundTrace) -> bool:
        duration = trace.duration_ns
        if self.min_duration_ns is not None and duration < self.min_duration_ns:
            return False
        return self.max_duration_ns is None or duration <= self.max_duration_ns


def is_match_all(query: str) -> bool:
    """`q` empty or `{}`: every trace, as Grafana's search builder sends with no filter."""
    return _MATCH_ALL.match(query) is not None


def search_request(params: QueryParams) -> SearchRequest:
    try:
        tags = logfmt_tags(params.get("tags", ""))
        low = params.get("minDuration")
        high = params.get("maxDuration")
        min_ns = parse_duration_ns(low, "minDuration") if low else None
        max_ns = parse_duration_ns(high, "maxDuration") if high else None
    except ValueError as err:
        raise TempoError(str(err)) from None
    if min_ns is not None and max_ns is not None and max_ns < min_ns:
        raise TempoError("invalid maxDuration: must be greater than minDuration")
    return SearchRequest(
        span_filter=SpanFilter(tags=tags),
        min_duration_ns=min_ns,
        max_duration_ns=max_ns,
        limit=_positive(params, "limit", DEFAULT_LIMIT),
        spans_per_set=_positive(params, "spss", DEFAULT_SPSS),
    )


def tempo_id(trace_id: bytes) -> str:
    """Tempo's spelling: hex without leading zeros."""
    return trace_id.hex().lstrip("0") or "0"


def _string_attribute(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": {"stringValue": value}}


def _span_set(trace: FoundTrace, request: SearchRequest) -> dict[str, Any]:
    spans: Spans = trace.spans
    wanted = set(trace.matched)
    rows = [i for i in range(len(spans)) if spans.span_id(i) in wanted]
    rendered = []
    for i in rows[: request.spans_per_set]:
        attributes = [_string_attribute("service.name", spans.strings[int(spans.service[i])])]
        attributes += [
            _string_attribute(k, v) for k, v in request.span_filter.tags if k != "service.name"
        ]
        rendered.append(
            {
                "spanID": spans.span_id(i).hex(),
                "name": spans.strings[int(spans.name[i])],
                "startTimeUnixNano": str(int(spans.start_ns[i])),
                "durationNanos": str(int(spans.duration_ns[i])),
                "attributes": attributes,
            }
        )
    return {"spans": rendered, "matched": len(rows)}


def _service_stats(spans: Spans) -> dict[str, dict[str, int]]:
    """Tempo's serviceStats: the trace's spans and erroring spans per service (a zero count
    left out, as protobuf's JSON leaves zeros out)."""
    failed = spans.status_code == STATUS_ERROR
    stats: dict[str, dict[str, int]] = {}
    for code in np.unique(spans.service).tolist():
        mine = spans.service == code
        entry = {"spanCount": int(mine.sum())}
        errors = int((mine & failed).sum())
        if errors:
            entry["errorCount"] = errors
        stats[spans.strings[code]] = entry
    return stats


def search_answer(traces: list[FoundTrace], request: SearchRequest) -> dict[str, Any]:
    found = []
    for trace in traces:
        span_set = _span_set(trace, request)
        found.append(
            {
                "traceID": tempo_id(trace.trace_id),
                "rootServiceName": trace.root_service,
                "rootTraceName": trace.root_name,
                "startTimeUnixNano": str(trace.start_ns),
                "durationMs": trace.duration_ns // NS_PER_MS,
                "serviceStats": _service_stats(trace.spans),
                "spanSet": span_set,
                "spanSets": [span_set],
            }
        )
    return {
        "traces": found,
        "metrics": {"completedJobs": 1, "totalJobs": 1},
    }
