"""Tempo's `/api/search`: its parameters (`tags` logfmt, `minDuration`/`maxDuration` of the
whole trace, `limit`, `spss`, `start`/`end` in Unix seconds; `q` TraceQL) and its answer,
`{"traces": [{traceID, rootServiceName, rootTraceName, startTimeUnixNano, durationMs,
serviceStats, spanSet, spanSets}], "metrics": {...}}` with Tempo's spelling (64-bit numbers as strings,
trace ids without leading zeros)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.datastructures import QueryParams

from vigil.model.sorted_set import sorted_set
from vigil.traces import KIND_NAMES, STATUS_ERROR, STATUS_NAMES, SpanQuerier, Spans, traceql
from vigil.traces.traceql.ast import Type
from vigil.traces.traceql.fields import EnumValue, Value
from vigil.web.trace_params import logfmt_tags, parse_duration_ns
from vigil.web.trace_search import FoundTrace, SpanFilter, value_text

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
Stats = dict[str, dict[str, int]]
DEFAULT_LIMIT = 20
DEFAULT_SPSS = 3
DEFAULT_WINDOW_NS = 3600 * NS_PER_S


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
        span_filter=_span_filter(tags),
        min_duration_ns=min_ns,
        max_duration_ns=max_ns,
        limit=_positive(params, "limit", DEFAULT_LIMIT),
        spans_per_set=_positive(params, "spss", DEFAULT_SPSS),
    )


@dataclass(frozen=True, slots=True)
class TraceQLRequest:
    query: traceql.ast.Query
    limit: int
    spans_per_set: int


def traceql_request(params: QueryParams) -> TraceQLRequest:
    """`q` parsed (a syntax error is a 400 naming line and column), `limit` and `spss`."""
    try:
        query = traceql.parse(params.get("q", ""))
    except traceql.ParseError as err:
        raise TempoError(f"invalid TraceQL query: {err}") from None
    return TraceQLRequest(
        query,
        limit=_positive(params, "limit", DEFAULT_LIMIT),
        spans_per_set=_positive(params, "spss", DEFAULT_SPSS),
    )


def _span_filter(tags: tuple[tuple[str, str], ...]) -> SpanFilter:
    """The tags, with `service.name` and `name` (what Grafana's search form adds) moved to
    the service and name columns: compared once per distinct value, and hints to the store."""
    service = next((v for k, v in tags if k == "service.name"), "")
    name = next((v for k, v in tags if k == "name"), "")
    lifted = {("service.name", service), ("name", name)}
    rest = tuple(pair for pair in tags if pair not in lifted)
    return SpanFilter(service=service, name=name, tags=rest)


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


def _service_stats(spans: Spans) -> Stats:
    """Tempo's serviceStats: the trace's spans and erroring spans per service (a zero count
    left out, as protobuf's JSON leaves zeros out)."""
    failed = spans.status_code == STATUS_ERROR
    stats: Stats = {}
    for code in sorted_set(spans.service).tolist():
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


def _any_value(value: Value) -> dict[str, Any]:
    """A TraceQL value as OTLP JSON's AnyValue; a status or kind as its name."""
    if isinstance(value, EnumValue):
        names = STATUS_NAMES if value.type is Type.STATUS else KIND_NAMES
        return {"stringValue": names[value.code]}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    return {"stringValue": value_text(value)} if value is not None else {}


def _attributes(pairs: tuple[tuple[str, Value], ...]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _any_value(v)} for k, v in pairs if v is not None]


def _traceql_span_set(span_set: traceql.SpanSet) -> dict[str, Any]:
    rendered: dict[str, Any] = {
        "spans": [
            {
                "spanID": span.span_id.hex(),
                "name": span.name,
                "startTimeUnixNano": str(span.start_ns),
                "durationNanos": str(span.duration_ns),
                "attributes": _attributes(span.attributes),
            }
            for span in span_set.spans
        ],
        "matched": span_set.matched,
    }
    if span_set.attributes:
        rendered["attributes"] = _attributes(span_set.attributes)
    return rendered


def service_stats(querier: SpanQuerier, results: list[traceql.TraceResult]) -> list[Stats]:
    """Each result's serviceStats, from its whole trace (read together)."""
    return [_service_stats(spans) for spans in querier.traces([r.trace_id for r in results])]


def traceql_answer(results: list[traceql.TraceResult], stats: list[Stats]) -> dict[str, Any]:
    found = []
    for result, trace_stats in zip(results, stats, strict=True):
        span_sets = [_traceql_span_set(s) for s in result.span_sets]
        trace: dict[str, Any] = {
            "traceID": tempo_id(result.trace_id),
            "rootServiceName": result.root_service_name,
            "rootTraceName": result.root_trace_name,
            "startTimeUnixNano": str(result.start_ns),
            "durationMs": result.duration_ns // NS_PER_MS,
            "serviceStats": trace_stats,
            "spanSets": span_sets,
        }
        if span_sets:
            trace["spanSet"] = span_sets[0]
        found.append(trace)
    return {"traces": found, "metrics": {"completedJobs": 1, "totalJobs": 1}}
