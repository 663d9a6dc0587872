"""TraceQL metrics queries, as Tempo's `/api/metrics/query_range` (and `/api/metrics/query`, one
value over the whole range) answer them: a spanset query
followed by `| rate()` (matching spans per second) or `| count_over_time()` (matching spans per
step), optionally `by (field, ...)`. Each matching span counts once, in the step its start
falls in: step i covers [start + i·step, start + (i+1)·step), start aligned down to a whole
step, as Tempo aligns it. Other metrics functions (quantile_over_time, histogram_over_time,
compare, ...) are refused saying so."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.logs.query_source import ParseError, Source
from vigil.traces._api import KIND_NAMES, STATUS_NAMES, SpanHints, SpanQuerier
from vigil.traces.distinct import distinct
from vigil.traces.traceql import ast
from vigil.traces.traceql._lex import Kind, tokenize
from vigil.traces.traceql.ast import Type
from vigil.traces.traceql.fields import EnumValue, Value, column, values
from vigil.traces.traceql.parser import parse
from vigil.traces.traceql.search import hints, needs_whole_traces
from vigil.traces.traceql.spansets import Spansets, evaluate
from vigil.traces.traceql.table import SpanTable

RATE, COUNT_OVER_TIME = "rate", "count_over_time"
FUNCTIONS = frozenset({RATE, COUNT_OVER_TIME})
_LATER = frozenset(
    {
        "min_over_time", "max_over_time", "avg_over_time", "sum_over_time",
        "quantile_over_time", "histogram_over_time", "compare", "topk", "bottomk",
    }
)  # fmt: skip

_GROUPING = "{ } | "  # `by (...)` parsed as the pipeline stage it also is

Label = tuple[str, "str | bool | int | float"]


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    spans: ast.Query
    function: str
    by: tuple[ast.Field, ...] = ()


@dataclass(frozen=True, slots=True)
class Series:
    """One series: its labels (the `by` fields' values, or `__name__` and the function)
    and a value per step, at `timestamps_ms`."""

    labels: tuple[Label, ...]
    timestamps_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


def parse_metrics(text: str) -> MetricsQuery:
    """`{ ... } | rate() by (...)` as its spanset query, function and grouping; ParseError
    naming line and column otherwise."""
    source = Source(text)
    tokens = tokenize(source)
    depth, stage = 0, None
    for i, token in enumerate(tokens):
        if token.kind is Kind.OP and token.text in ("{", "("):
            depth += 1
        elif token.kind is Kind.OP and token.text in ("}", ")"):
            depth -= 1
        elif token.kind is Kind.OP and token.text == "|" and depth == 0:
            stage = i
    if stage is None or tokens[stage + 1].kind is not Kind.WORD:
        raise source.error("a metrics query ends in '| rate()' or '| count_over_time()'", len(text))
    word = tokens[stage + 1]
    if word.text in _LATER:
        raise source.error(f"metrics function ({word.text!r}) not supported yet", word.pos)
    if word.text not in FUNCTIONS:
        raise source.error(
            f"syntax error: unexpected {word.describe()}, expecting rate or count_over_time",
            word.pos,
        )
    at = stage + 2
    if tokens[at].kind is Kind.OP and tokens[at].text == "()":
        at += 1
    elif [t.text for t in tokens[at : at + 2]] == ["(", ")"]:
        at += 2
    else:
        raise source.error(f"{word.text}() takes no arguments", tokens[at].pos)
    spans = parse(text[: tokens[stage].pos])
    rest = tokens[at]
    if rest.kind is Kind.EOF:
        return MetricsQuery(spans, word.text)
    if not (rest.kind is Kind.WORD and rest.text == "by"):
        raise source.error(f"syntax error: unexpected {rest.describe()}, expecting by", rest.pos)
    try:
        grouped = parse(_GROUPING + text[rest.pos :]).root
    except ParseError as err:
        raise source.error(err.message, rest.pos + err.pos - len(_GROUPING)) from None
    assert isinstance(grouped, ast.Pipe) and isinstance(grouped.rhs, ast.GroupBy)
    return MetricsQuery(spans, word.text, grouped.rhs.fields)


def aligned_start(start_ns: int, step_ns: int) -> int:
    return start_ns // step_ns * step_ns


def query_range(
    querier: SpanQuerier, query: MetricsQuery, start_ns: int, end_ns: int, step_ns: int
) -> list[Series]:
    """The query's series over [start, end] (the querier's range must cover the aligned
    start), one value per step."""
    start = aligned_start(start_ns, step_ns)
    steps = (end_ns - start) // step_ns + 1
    timestamps = (start + np.arange(steps, dtype=np.int64) * step_ns) // 1_000_000
    found = _matching(querier, query, start, end_ns)
    if found is None:
        return []
    table, rows = found
    step = (table.spans.start_ns[rows] - start) // step_ns
    keys, group = _groups(query, table, rows)
    counts = np.bincount(group * steps + step, minlength=len(keys) * steps).reshape(-1, steps)
    scale = 1.0 if query.function == COUNT_OVER_TIME else step_ns / 1e9
    return [
        Series(labels, timestamps, counts[g].astype(np.float64) / scale)
        for g, labels in enumerate(keys)
    ]


def query_instant(
    querier: SpanQuerier, query: MetricsQuery, start_ns: int, end_ns: int
) -> list[tuple[tuple[Label, ...], float]]:
    """The query's one value per series over [start, end]: a count, or a rate over the
    whole range."""
    found = _matching(querier, query, start_ns, end_ns)
    if found is None:
        return []
    table, rows = found
    keys, group = _groups(query, table, rows)
    counts = np.bincount(group, minlength=len(keys)).astype(np.float64)
    if query.function == RATE:
        counts /= max(end_ns - start_ns, 1) / 1e9
    return list(zip(keys, counts.tolist(), strict=True))


def _matching(
    querier: SpanQuerier, query: MetricsQuery, start_ns: int, end_ns: int
) -> tuple[SpanTable, npt.NDArray[np.intp]] | None:
    """The spans the spanset query matches that start in [start, end], each once."""
    wanted = SpanHints() if needs_whole_traces(query.spans) else hints(query.spans)
    table = SpanTable.of(distinct(list(querier.select(wanted))))
    if not len(table):
        return None
    spansets = evaluate(query.spans.root, table, Spansets.whole_traces(table))
    rows = np.unique(spansets.rows)
    begins = table.spans.start_ns[rows]
    return table, rows[(begins >= start_ns) & (begins <= end_ns)]


def _groups(
    query: MetricsQuery, table: SpanTable, rows: npt.NDArray[np.intp]
) -> tuple[list[tuple[Label, ...]], npt.NDArray[np.int64]]:
    """Each row's series: the labels of every series and each row's index among them."""
    if not query.by:
        return [(("__name__", query.function),)], np.zeros(len(rows), dtype=np.int64)
    per_field = [values(column(f, table, rows), len(rows)) for f in query.by]
    names = [_label_name(f) for f in query.by]
    found: dict[tuple[Label, ...], int] = {}
    group = np.empty(len(rows), dtype=np.int64)
    for k, key in enumerate(zip(*per_field, strict=True)):
        labels = tuple(
            (name, _label(value))
            for name, value in zip(names, key, strict=True)
            if value is not None
        )
        group[k] = found.setdefault(labels, len(found))
    return list(found), group


def _label_name(field: ast.Field) -> str:
    """An attribute as written (`resource.service.name`), an intrinsic by its word (`status`)."""
    if isinstance(field, ast.IntrinsicField):
        return field.intrinsic.value.rpartition(":")[2]
    return ast.field_text(field)


def _label(value: Value) -> str | bool | int | float:
    if isinstance(value, EnumValue):
        return (STATUS_NAMES if value.type is Type.STATUS else KIND_NAMES)[value.code]
    if isinstance(value, str | bool | int | float):
        return value
    return str(value)
