"""What a TraceQL search finds, in the shape of Tempo's `/api/search` answer: per matching
trace its root service and name, start and duration, and its matched spansets with (at most
`spss` of) their spans and the attributes the query asked about."""

from __future__ import annotations

from dataclasses import dataclass

from vigil.traces.traceql.fields import Value

# Tempo's placeholder when a trace's root span is not (yet) stored.
ROOT_SPAN_NOT_YET_RECEIVED = "<root span not yet received>"


@dataclass(frozen=True, slots=True)
class MatchedSpan:
    span_id: bytes
    name: str
    start_ns: int
    duration_ns: int
    # Fields the query names (filters, select, by) that the span has, keyed as Tempo
    # shows them: an attribute by its name, an intrinsic by its unscoped word ("status").
    attributes: tuple[tuple[str, Value], ...] = ()


@dataclass(frozen=True, slots=True)
class SpanSet:
    spans: tuple[MatchedSpan, ...]  # the first `spss` by start time
    matched: int  # spans in the spanset, shown or not
    attributes: tuple[tuple[str, Value], ...] = ()  # `by()` values: ("by(.a)", value)


@dataclass(frozen=True, slots=True)
class TraceResult:
    trace_id: bytes
    root_service_name: str
    root_trace_name: str
    start_ns: int
    duration_ns: int
    span_sets: tuple[SpanSet, ...]
