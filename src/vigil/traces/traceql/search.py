"""`search`: a TraceQL query over a `SpanQuerier`, answered as Tempo's `/api/search` does.

The spans are asked for with `SpanHints` read off the query's first filter (its service,
span name, duration bounds and error status when they are conjuncts of it), so a store reads
only what can match. Every stage after that filter only sees its spans, so each batch is cut
down to them as it arrives (one mask per batch) and the rest of the query runs on what is
left; the answer's root service, start and duration then come from the `limit` traces
fetched by id together (`querier.traces()`: a page read once for all it holds). A query
with trace-level intrinsics (`trace:rootService`, `trace:duration`, ...) needs whole
traces: spans within the hints only nominate candidate traces, which are fetched by id,
newest first, until `limit` traces match. Without hints the spans in range are the whole
traces as far as the range goes. The store is asked for the span attributes the query
reads only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from vigil.traces._api import (
    KIND_NAMES,
    STATUS_ERROR,
    STATUS_NAMES,
    Span,
    SpanHints,
    SpanQuerier,
    Spans,
)
from vigil.traces.distinct import distinct
from vigil.traces.traceql import ast, structure
from vigil.traces.traceql.ast import Intrinsic, Type
from vigil.traces.traceql.fields import EnumValue, Value, column, matches, values
from vigil.traces.traceql.parser import parse
from vigil.traces.traceql.result import (
    ROOT_SPAN_NOT_YET_RECEIVED,
    MatchedSpan,
    SpanSet,
    TraceResult,
)
from vigil.traces.traceql.spansets import Spansets, evaluate
from vigil.traces.traceql.table import SpanTable

_UNSHOWN = frozenset(
    {Intrinsic.NAME, Intrinsic.DURATION, Intrinsic.TRACE_DURATION, Intrinsic.ROOT_NAME,
     Intrinsic.ROOT_SERVICE, Intrinsic.TRACE_ID, Intrinsic.SPAN_ID}
)  # fmt: skip
_SHOWN_AS = {
    Intrinsic.STATUS: "status",
    Intrinsic.STATUS_MESSAGE: "statusMessage",
    Intrinsic.KIND: "kind",
}
_CANDIDATE_CHUNK = 64
_FEW = 16


def search(
    querier: SpanQuerier, query: str | ast.Query, limit: int = 20, spss: int = 3
) -> list[TraceResult]:
    """The most recent `limit` traces matching `query`, each with its matched spansets (at
    most `spss` spans shown per spanset). Raises ParseError for a bad query."""
    parsed = parse(query) if isinstance(query, str) else query
    plan = _Plan.of(parsed)
    first = _first_filter(parsed.root)
    if plan.trace_level and plan.hints != SpanHints():
        batches = querier.select(replace(plan.hints, attributes=frozenset()))
        return _search_candidates(querier, parsed, plan, batches, limit, spss)
    batches = querier.select(replace(plan.hints, attributes=plan.attributes))
    if not plan.trace_level and first is not None and first.field is not None:
        # Every later stage sees only the first filter's spans: keep just those.
        table = SpanTable.of(distinct(_matching(batches, first.field)))
        complete = False
    else:
        table = SpanTable.of(distinct(list(batches)))
        complete = plan.hints == SpanHints()
    if len(table) == 0:
        return []
    spansets = evaluate(parsed.root, table, Spansets.whole_traces(table))
    found = _newest(table, _traces_of(spansets, table), limit)
    facts = [None] * len(found) if complete else _fetched(querier, table, found)
    results = [
        _result(table, t, spansets, plan, spss, f) for t, f in zip(found, facts, strict=True)
    ]
    return sorted(results, key=lambda r: r.start_ns, reverse=True)


def _traces_of(spansets: Spansets, table: SpanTable) -> npt.NDArray[np.intp]:
    """The traces with a spanset, ascending (a count per trace: numpy 2's np.unique hashes
    ints, many times slower than this)."""
    return np.flatnonzero(np.bincount(spansets.trace, minlength=table.trace_count))


def _matching(batches: Iterable[Spans], field: ast.Field) -> list[Spans]:
    """The spans of each batch that `field` matches; a few matches of a batch are kept as
    rows (one column of them all at the end) rather than a column each."""
    parts: list[Spans] = []
    few: list[Span] = []
    for batch in batches:
        keep = np.flatnonzero(
            matches(field, SpanTable(batch), np.arange(len(batch), dtype=np.intp))
        )
        if len(keep) == len(batch):
            parts.append(batch)
        elif len(keep) > _FEW:
            parts.append(batch.take(keep))
        else:
            few += [batch.row(i) for i in keep.tolist()]
    return [*parts, Spans.of(few)] if few else parts


def _fetched(querier: SpanQuerier, table: SpanTable, traces: list[int]) -> list[_Facts | None]:
    """The traces' roots and extents from the whole traces (the spans read hold only some),
    read together."""
    whole = querier.traces([table.trace_id(t) for t in traces])
    return [_facts(SpanTable.of([spans]), 0) if len(spans) else None for spans in whole]


def hints(query: str | ast.Query) -> SpanHints:
    """The hints `search` passes to the querier for this query, but for the attributes it
    reads (None here: every attribute)."""
    return _Plan.of(parse(query) if isinstance(query, str) else query).hints


def span_attribute_keys(query: ast.Query) -> frozenset[str]:
    """The span attribute keys the query reads (what `search` asks the store for)."""
    return _Plan.of(query).attributes


def needs_whole_traces(query: str | ast.Query) -> bool:
    """Whether the query reads trace-level intrinsics (root, trace duration) or structure."""
    return _Plan.of(parse(query) if isinstance(query, str) else query).trace_level


@dataclass(frozen=True, slots=True)
class _Plan:
    hints: SpanHints
    trace_level: bool
    shown: tuple[ast.Field, ...]
    attributes: frozenset[str]  # the span attribute keys the query reads

    @classmethod
    def of(cls, query: ast.Query) -> _Plan:
        fields = list(_fields(query.root))
        leaves = [f for field in fields for f in _leaves(field)]
        trace_level = structure.used_in(query.root) or any(
            isinstance(f, ast.IntrinsicField) and f.intrinsic.trace_level for f in leaves
        )
        first = _first_filter(query.root)
        conjuncts = list(_conjuncts(first.field)) if first and first.field else []
        found = _span_hints(conjuncts)
        if found == SpanHints() and trace_level:
            found = _root_hints(conjuncts)
        shown: dict[ast.Field, None] = {}
        for leaf in leaves:
            if isinstance(leaf, ast.Attribute) or (
                isinstance(leaf, ast.IntrinsicField) and leaf.intrinsic not in _UNSHOWN
            ):
                shown.setdefault(leaf)
        attributes = frozenset(
            leaf.name
            for leaf in leaves
            if isinstance(leaf, ast.Attribute) and leaf.scope in ("", "span")
        )
        return cls(found, trace_level, tuple(shown), attributes)


def _fields(node: ast.Spanset) -> Iterator[ast.Field]:
    if isinstance(node, ast.SpansetFilter) and node.field is not None:
        yield node.field
    elif isinstance(node, ast.Select | ast.GroupBy):
        yield from node.fields
    elif isinstance(node, ast.ScalarFilter):
        yield from _scalar_fields(node.lhs)
        yield from _scalar_fields(node.rhs)
    elif isinstance(node, ast.SpansetOp | ast.Pipe):
        yield from _fields(node.lhs)
        yield from _fields(node.rhs)


def _scalar_fields(node: ast.Scalar) -> Iterator[ast.Field]:
    if isinstance(node, ast.Aggregate) and node.field is not None:
        yield node.field
    elif isinstance(node, ast.ScalarBinary):
        yield from _scalar_fields(node.lhs)
        yield from _scalar_fields(node.rhs)


def _leaves(field: ast.Field) -> Iterator[ast.Field]:
    if isinstance(field, ast.Binary):
        yield from _leaves(field.lhs)
        yield from _leaves(field.rhs)
    elif isinstance(field, ast.Unary):
        yield from _leaves(field.operand)
    elif not isinstance(field, ast.Static):
        yield field


def _first_filter(node: ast.Spanset) -> ast.SpansetFilter | None:
    """The filter every later stage's spans come through, if the query starts with one."""
    while isinstance(node, ast.Pipe):
        node = node.lhs
    return node if isinstance(node, ast.SpansetFilter) else None


def _conjuncts(field: ast.Field) -> Iterator[ast.Binary]:
    if isinstance(field, ast.Binary) and field.op == "&&":
        yield from _conjuncts(field.lhs)
        yield from _conjuncts(field.rhs)
    elif isinstance(field, ast.Binary):
        yield field


def _span_hints(conjuncts: list[ast.Binary]) -> SpanHints:
    services: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    lowest: int | None = None
    highest: int | None = None
    error_only = False
    for c in conjuncts:
        if not isinstance(c.rhs, ast.Static):
            continue
        value = c.rhs.value
        if c.op == "=" and isinstance(value, str) and value:
            if c.lhs == ast.Attribute("resource", "service.name"):
                services = services or (value,)
            elif c.lhs == ast.IntrinsicField(Intrinsic.NAME):
                names = names or (value,)
        elif c.lhs == ast.IntrinsicField(Intrinsic.DURATION) and isinstance(value, int):
            if c.op in (">", ">="):
                bound = value + (c.op == ">")
                lowest = bound if lowest is None else max(lowest, bound)
            elif c.op in ("<", "<="):
                bound = value - (c.op == "<")
                highest = bound if highest is None else min(highest, bound)
        elif c.lhs == ast.IntrinsicField(Intrinsic.STATUS) and c.op == "=":
            error_only = error_only or c.rhs == ast.Static(Type.STATUS, 2)
    return SpanHints(services, names, lowest, highest, error_only)


def _root_hints(conjuncts: list[ast.Binary]) -> SpanHints:
    """A trace whose root has service s (name n) has a span with service s (name n)."""
    for c in conjuncts:
        if c.op == "=" and isinstance(c.rhs, ast.Static) and isinstance(c.rhs.value, str):
            if c.lhs == ast.IntrinsicField(Intrinsic.ROOT_SERVICE) and c.rhs.value:
                return SpanHints(services=(c.rhs.value,))
            if c.lhs == ast.IntrinsicField(Intrinsic.ROOT_NAME):
                return SpanHints(names=(c.rhs.value,))
    return SpanHints()


def _search_candidates(
    querier: SpanQuerier,
    query: ast.Query,
    plan: _Plan,
    batches: Iterable[Spans],
    limit: int,
    spss: int,
) -> list[TraceResult]:
    """Traces with a span within the hints, newest first, fetched whole and evaluated in
    chunks until `limit` match."""
    results: list[TraceResult] = []
    for chunk in _chunks(_candidates(batches, plan.hints), _CANDIDATE_CHUNK):
        whole = SpanTable.of([s for s in querier.traces(chunk) if len(s)])
        if len(whole) == 0:
            continue
        spansets = evaluate(query.root, whole, Spansets.whole_traces(whole))
        found = _traces_of(spansets, whole).tolist()
        results += [_result(whole, t, spansets, plan, spss) for t in found]
        if len(results) >= limit:
            break
    results.sort(key=lambda r: r.start_ns, reverse=True)
    return results[:limit]


def _candidates(batches: Iterable[Spans], wanted: SpanHints) -> list[bytes]:
    """Ids of the traces with a span the hints allow, latest such span first."""
    ids: list[npt.NDArray[np.void]] = []
    starts: list[npt.NDArray[np.int64]] = []
    for batch in batches:
        keep = _within(batch, wanted)
        ids.append(np.frombuffer(batch.trace_ids, dtype="V16")[keep])
        starts.append(batch.start_ns[keep])
    if not ids:
        return []
    unique, inverse = np.unique(np.concatenate(ids), return_inverse=True)
    latest = np.full(len(unique), np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(latest, inverse.reshape(-1), np.concatenate(starts))
    return [bytes(unique[t]) for t in np.argsort(-latest, kind="stable").tolist()]


def _within(batch: Spans, wanted: SpanHints) -> npt.NDArray[np.bool_]:
    keep = np.ones(len(batch), dtype=bool)
    for column_codes, allowed in ((batch.service, wanted.services), (batch.name, wanted.names)):
        if allowed:
            codes = [i for i, s in enumerate(batch.strings) if s in allowed]
            keep &= np.isin(column_codes, codes)
    if wanted.min_duration_ns is not None:
        keep &= batch.duration_ns >= wanted.min_duration_ns
    if wanted.max_duration_ns is not None:
        keep &= batch.duration_ns <= wanted.max_duration_ns
    if wanted.error_only:
        keep &= batch.status_code == STATUS_ERROR
    return keep


def _chunks(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for at in range(0, len(items), size):
        yield items[at : at + size]


def _newest(table: SpanTable, traces: np.ndarray, limit: int) -> list[int]:
    starts = table.trace_start_ns[traces]
    order = np.lexsort((traces, -starts))
    return [int(t) for t in traces[order[:limit]]]


@dataclass(frozen=True, slots=True)
class _Facts:
    root_service_name: str
    root_trace_name: str
    start_ns: int
    duration_ns: int


def _facts(table: SpanTable, t: int) -> _Facts:
    root = int(table.root[t])
    spans = table.spans
    return _Facts(
        spans.strings[spans.service[root]] if root >= 0 else ROOT_SPAN_NOT_YET_RECEIVED,
        spans.strings[spans.name[root]] if root >= 0 else "",
        int(table.trace_start_ns[t]),
        int(table.trace_duration_ns[t]),
    )


def _result(
    table: SpanTable,
    t: int,
    spansets: Spansets,
    plan: _Plan,
    spss: int,
    facts: _Facts | None = None,
) -> TraceResult:
    """Trace t's answer; `facts` from the whole trace when `table` holds only some spans."""
    span_sets = []
    spans = table.spans
    for g in np.flatnonzero(spansets.trace == t).tolist():
        rows = spansets.rows[spansets.group == g]
        by_start = np.lexsort((spans.span_id_words()[rows], spans.start_ns[rows]))
        shown = rows[by_start[:spss]]
        span_sets.append(
            SpanSet(
                _spans(table, shown, plan.shown),
                len(rows),
                tuple((f"by({ast.field_text(f)})", _shown_value(v)) for f, v in spansets.labels[g]),
            )
        )
    # A trace's spansets are disjoint: their first spans order them, however the spans
    # were read.
    span_sets.sort(key=lambda s: (s.spans[0].start_ns, s.spans[0].span_id) if s.spans else (0, b""))
    facts = facts or _facts(table, t)
    return TraceResult(
        table.trace_id(t),
        facts.root_service_name,
        facts.root_trace_name,
        facts.start_ns,
        facts.duration_ns,
        tuple(span_sets),
    )


def _spans(
    table: SpanTable, rows: np.ndarray, fields: tuple[ast.Field, ...]
) -> tuple[MatchedSpan, ...]:
    spans = table.spans
    per_field = [(_shown_key(f), values(column(f, table, rows), len(rows))) for f in fields]
    return tuple(
        MatchedSpan(
            spans.span_id(row),
            spans.strings[spans.name[row]],
            int(spans.start_ns[row]),
            int(spans.duration_ns[row]),
            tuple(
                (key, _shown_value(found[k])) for key, found in per_field if found[k] is not None
            ),
        )
        for k, row in enumerate(rows.tolist())
    )


def _shown_key(field: ast.Field) -> str:
    if isinstance(field, ast.Attribute):
        return field.name
    assert isinstance(field, ast.IntrinsicField)
    return _SHOWN_AS.get(field.intrinsic, field.intrinsic.value)


def _shown_value(value: Value) -> Value:
    if isinstance(value, EnumValue):
        return (STATUS_NAMES if value.type is Type.STATUS else KIND_NAMES)[value.code]
    return value
