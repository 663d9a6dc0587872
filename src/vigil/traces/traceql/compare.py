"""TraceQL's `compare({filter}, topN, start, end)`, as Grafana's trace drilldown asks Tempo for
it: the spans the query matches split into a selection (those the filter matches, started in
[start, end) when both are given) and a baseline (the rest), and for every field the spans
carry (intrinsics, resource and span attributes; durations and ids left out), a series per
value among its topN commonest of each side (labels `__meta_type="baseline"|"selection"`
and the field), a total per field and side (`baseline_total`, `selection_total`, the field
without a value) and, for a field with more values than topN on a side, a series
`__meta_error="__too_many_values__"` without samples."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.logs.query_source import Source
from vigil.traces._api import KIND_NAMES, STATUS_NAMES
from vigil.traces.traceql import ast
from vigil.traces.traceql._lex import Kind, Token
from vigil.traces.traceql.fields import EnumValue, Value, column
from vigil.traces.traceql.parser import parse
from vigil.traces.traceql.spansets import Spansets, evaluate
from vigil.traces.traceql.table import SpanTable
from vigil.traces.traceql.value_codes import value_codes

META_TYPE, META_ERROR, TOO_MANY = "__meta_type", "__meta_error", "__too_many_values__"
BASELINE, SELECTION = "baseline", "selection"
_DEFAULT_TOP = 10

# the span's own fields a comparison counts; Tempo leaves durations and ids out
_INTRINSICS = tuple(
    ast.IntrinsicField(i)
    for i in (
        ast.Intrinsic.NAME,
        ast.Intrinsic.STATUS,
        ast.Intrinsic.STATUS_MESSAGE,
        ast.Intrinsic.KIND,
        ast.Intrinsic.ROOT_NAME,
        ast.Intrinsic.ROOT_SERVICE,
    )
)

LabelValue = str | bool | int | float | None  # None: a field without a value
Label = tuple[str, LabelValue]
Evaluated = list[tuple[tuple[Label, ...], npt.NDArray[np.float64]]]  # series, values per step


@dataclass(frozen=True, slots=True)
class Compare:
    """compare()'s arguments: the selection's filter, how many values per field, and the
    selection's window in Unix ns (0, 0: the whole range)."""

    selection: ast.Query
    top: int = _DEFAULT_TOP
    start_ns: int = 0
    end_ns: int = 0


def compare_arguments(
    source: Source, text: str, word: Token, arguments: list[list[Token]]
) -> Compare:
    """compare()'s arguments as Tempo checks them: a spanset filter, then optionally topN
    (> 0) and a start and end in Unix nanoseconds (both positive, end after start)."""
    if not arguments or not arguments[0] or len(arguments) not in (1, 2, 4):
        raise source.error(
            "compare() takes a spanset filter, then optionally topN, start and end", word.pos
        )
    first = arguments[0]
    if first[0].text != "{" or first[-1].text != "}":
        raise source.error(
            "compare() takes a spanset filter such as { status = error }", first[0].pos
        )
    end = first[-1].pos + len(first[-1].text)
    selection = parse(" " * first[0].pos + text[first[0].pos : end])
    if not isinstance(selection.root, ast.SpansetFilter):
        raise source.error("compare() takes one spanset filter", first[0].pos)
    numbers = []
    for argument in arguments[1:]:
        if len(argument) != 1 or argument[0].kind is not Kind.INTEGER:
            raise source.error("compare()'s topN, start and end are integers", argument[0].pos)
        numbers.append(int(argument[0].text))
    top, start, stop = (*numbers, 0, 0, 0)[:3] if numbers else (_DEFAULT_TOP, 0, 0)
    if top <= 0:
        raise source.error("compare() top number of values must be greater than 0", word.pos)
    if len(numbers) == 3 and (start <= 0 or stop <= start):
        raise source.error(
            "compare()'s start and end are Unix nanoseconds, end after start", word.pos
        )
    return Compare(selection, top, start, stop)


def compare(
    spec: Compare,
    table: SpanTable,
    rows: npt.NDArray[np.intp],
    step: npt.NDArray[np.int64],
    steps: int,
    fields: Iterable[tuple[str, ast.Field]],
) -> Evaluated:
    """The comparison's series over `rows` (the spans the query matched, `step[i]` the step
    of row i), for each of `fields` (label name, field)."""
    selected = _selected(spec, table, rows)
    found: Evaluated = []
    errors: list[tuple[Label, ...]] = []
    for name, field in fields:
        codes, distinct = value_codes(column(field, table, rows), len(rows))
        for side, in_side in ((BASELINE, ~selected), (SELECTION, selected)):
            present = in_side & (codes >= 0)
            if not present.any():
                continue
            counts = np.bincount(
                codes[present] * steps + step[present], minlength=len(distinct) * steps
            ).reshape(len(distinct), steps)
            totals = counts.sum(axis=1)
            used = np.flatnonzero(totals)
            order = used[np.argsort(-totals[used], kind="stable")]
            for code in order[: spec.top].tolist():
                labels = ((META_TYPE, side), (name, label_value(distinct[code])))
                found.append((labels, counts[code].astype(np.float64)))
            found.append(
                (
                    ((META_TYPE, f"{side}_total"), (name, None)),
                    counts.sum(axis=0).astype(np.float64),
                )
            )
            if len(used) > spec.top and ((META_ERROR, TOO_MANY), (name, None)) not in errors:
                errors.append(((META_ERROR, TOO_MANY), (name, None)))
    return found + [(labels, np.full(steps, np.nan)) for labels in errors]


def span_fields(table: SpanTable, rows: npt.NDArray[np.intp]) -> list[tuple[str, ast.Field]]:
    """Every field the rows carry: the intrinsics compare() counts, then resource and span
    attributes by name."""
    resources = np.unique(table.spans.resource[rows]).tolist()
    resource_keys = {k for r in resources for k, _ in table.spans.resources[r].attributes}
    span_keys: set[str] = set()
    for r in rows.tolist():
        span_keys.update(k for k, _ in table.spans.attributes[r])
    from_intrinsics: list[tuple[str, ast.Field]] = [(_name(f), f) for f in _INTRINSICS]
    return (
        from_intrinsics
        + [(f"resource.{k}", ast.Attribute("resource", k)) for k in sorted(resource_keys)]
        + [(f"span.{k}", ast.Attribute("span", k)) for k in sorted(span_keys)]
    )


def _name(field: ast.IntrinsicField) -> str:
    """The intrinsic as Tempo names it in a series label."""
    if field.intrinsic is ast.Intrinsic.ROOT_SERVICE:
        return "rootServiceName"
    spelled: str = field.intrinsic.value
    return spelled.rpartition(":")[2]


def _selected(spec: Compare, table: SpanTable, rows: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    matched = np.zeros(len(table), dtype=bool)
    matched[evaluate(spec.selection.root, table, Spansets.whole_traces(table)).rows] = True
    selected = matched[rows]
    if spec.start_ns and spec.end_ns:
        begins = table.spans.start_ns[rows]
        selected &= (begins >= spec.start_ns) & (begins < spec.end_ns)
    return selected


def label_value(value: Value) -> LabelValue:
    """A field's value as a series label: statuses and kinds by their TraceQL words."""
    if isinstance(value, EnumValue):
        return (STATUS_NAMES if value.type is ast.Type.STATUS else KIND_NAMES)[value.code]
    if value is None or isinstance(value, str | bool | int | float):
        return value
    return str(value)
