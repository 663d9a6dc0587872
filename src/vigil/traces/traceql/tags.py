"""Tag autocomplete for Tempo's tag APIs, optionally narrowed by a TraceQL query (Grafana
sends the query being typed as `q=`): the attribute names per scope, and the typed values
of one tag (`resource.service.name`, `span.http.route`, `.http.route`, `name`, `status`,
`kind`, `span:name`, ...) among the spans the query matches.

Values come in Tempo's v2 shape: a type (`string`, `int`, `float`, `bool`, `keyword` for
status and kind) and the value as text. Dictionary-coded fields (names, resources, scopes)
are read once per distinct value; only span attributes are read span by span.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from vigil.model.sorted_set import sorted_set
from vigil.traces._api import KIND_NAMES, STATUS_NAMES, KeyValues, SpanQuerier
from vigil.traces.traceql import ast
from vigil.traces.traceql.attribute_column import AttributeColumn
from vigil.traces.traceql.fields import Coded, Column, EnumValue, Num, Rows, Value, column
from vigil.traces.traceql.parser import parse
from vigil.traces.traceql.search import hints, needs_whole_traces
from vigil.traces.traceql.spansets import Spansets, evaluate
from vigil.traces.traceql.table import SpanTable

SCOPES = ("resource", "span", "intrinsic", "instrumentation")
# The intrinsics vigil evaluates, as Tempo lists its intrinsic scope.
INTRINSICS = tuple(sorted(ast.INTRINSIC_WORDS))
MAX_VALUES = 10_000


@dataclass(frozen=True, slots=True, order=True)
class TagValue:
    type: str
    value: str


def tag_names(
    querier: SpanQuerier, scope: str | None = None, query: str | None = None
) -> dict[str, list[str]]:
    """Per scope (all of SCOPES when None), the sorted attribute names of the spans `query`
    matches (every span in range without a query). Raises ParseError, ValueError."""
    scopes = SCOPES if scope is None else (scope,)
    if any(s not in SCOPES for s in scopes):
        raise ValueError(f"invalid scope {scope!r}: want one of {', '.join(SCOPES)}")
    table, rows = _matched(querier, query)
    spans = table.spans
    found: dict[str, list[str]] = {}
    for s in scopes:
        if s == "intrinsic":
            found[s] = list(INTRINSICS)
        elif s == "resource":
            found[s] = _keys(spans.resources[r].attributes for r in _distinct(spans.resource, rows))
        elif s == "instrumentation":
            found[s] = _keys(spans.scopes[i].attributes for i in _distinct(spans.scope, rows))
        else:
            found[s] = _keys(spans.attributes[i] for i in rows.tolist())
    return found


def tag_values(querier: SpanQuerier, tag: str, query: str | None = None) -> list[TagValue]:
    """The distinct typed values of `tag` (a TraceQL field) among the spans `query` matches,
    sorted by value, at most MAX_VALUES; durations and ids have none. Raises ParseError
    (a tag that is no field, a bad query)."""
    field = _tag_field(tag)
    if isinstance(field, ast.IntrinsicField) and (
        field.type is ast.Type.DURATION
        or field.intrinsic
        in (ast.Intrinsic.TRACE_ID, ast.Intrinsic.SPAN_ID, ast.Intrinsic.PARENT_ID)
    ):
        return []
    table, rows = _matched(querier, query)
    values: set[TagValue] = set()
    for value in _distinct_values(column(field, table, rows)):
        values.update(_typed(value))
        if len(values) >= MAX_VALUES:
            break
    return sorted(values, key=lambda v: (v.value, v.type))


def _tag_field(tag: str) -> ast.Field:
    """The field a tag names: the left side of `{ tag = nil }`."""
    parsed = parse(f"{{ {tag} = nil }}")
    assert isinstance(parsed.root, ast.SpansetFilter) and isinstance(parsed.root.field, ast.Binary)
    field = parsed.root.field.lhs
    if not isinstance(field, ast.Attribute | ast.IntrinsicField):
        raise ValueError(
            f"invalid tag {tag!r}: want an attribute (span.x, resource.x, .x) or an intrinsic"
        )
    return field


def _matched(querier: SpanQuerier, query: str | None) -> tuple[SpanTable, Rows]:
    """The spans in range and the rows among them that `query` matches."""
    parsed = parse(query) if query and query.strip() else None
    hinted = parsed is not None and not needs_whole_traces(parsed)
    selection = hints(parsed) if parsed is not None and hinted else None
    table = SpanTable.of(list(querier.select(selection)))
    if parsed is None or len(table) == 0:
        return table, np.arange(len(table), dtype=np.intp)
    spansets = evaluate(parsed.root, table, Spansets.whole_traces(table))
    return table, np.sort(spansets.rows)


def _distinct(codes: np.ndarray, rows: Rows) -> list[int]:
    return [int(c) for c in sorted_set(codes[rows]).tolist()]


def _keys(attribute_lists: Iterable[tuple[tuple[str, object], ...]]) -> list[str]:
    return sorted({key for attributes in attribute_lists for key, _ in attributes})


def _distinct_values(col: Column) -> Iterable[Value]:
    if isinstance(col, AttributeColumn):
        return col.distinct()
    if isinstance(col, Coded):
        return [col.table[c] for c in sorted_set(col.codes).tolist()]
    if isinstance(col, Num):
        codes = sorted_set(col.values[col.present]).tolist()
        return [EnumValue(col.type, int(c)) for c in codes]
    return [col.value]


def _typed(value: Value) -> list[TagValue]:
    if value is None or isinstance(value, bytes | KeyValues):
        return []
    if isinstance(value, tuple):
        return [typed for item in value for typed in _typed(item)]
    if isinstance(value, EnumValue):
        names = STATUS_NAMES if value.type is ast.Type.STATUS else KIND_NAMES
        return [TagValue("keyword", names[value.code])]
    if isinstance(value, bool):
        return [TagValue("bool", "true" if value else "false")]
    if isinstance(value, int):
        return [TagValue("int", str(value))]
    if isinstance(value, float):
        return [TagValue("float", repr(value))]
    return [TagValue("string", value)] if value else []
