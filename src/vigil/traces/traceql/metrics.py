"""TraceQL metrics queries, as Tempo's `/api/metrics/query_range` (and `/api/metrics/query`, one
value over the whole range) answer them: a spanset query followed by `| rate()` (matching
spans per second), `| count_over_time()` (per step), `| min_over_time(f)`, `max_over_time`,
`sum_over_time`, `avg_over_time` (of a field's numbers, a duration in seconds),
`| histogram_over_time(f)` (spans per power-of-two bucket of f, label `__bucket`) or
`| quantile_over_time(f, q, ...)` (from those buckets, a series per quantile, label `p`),
optionally `by (field, ...)`. Each matching span counts once, in the step its start falls
in: step i covers [start + i·step, start + (i+1)·step), start aligned down to a whole step,
as Tempo aligns it. A step without a value (min, max, sum, avg) is NaN: Tempo's answer
leaves it out. `| compare({filter}, ...)` compares the spans the filter selects with the
rest (see `compare`). A second stage `| topk(n)` or `| bottomk(n)` keeps the n series whose
mean over their steps with a value is highest (lowest), as Tempo ranks them."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from vigil.logs.query_source import ParseError, Source
from vigil.traces._api import SpanHints, SpanQuerier
from vigil.traces.distinct import distinct
from vigil.traces.traceql import ast, over_time
from vigil.traces.traceql._lex import Kind, Token, tokenize
from vigil.traces.traceql.compare import (
    Compare,
    Evaluated,
    Label,
    compare,
    compare_arguments,
    label_value,
    span_fields,
)
from vigil.traces.traceql.fields import column
from vigil.traces.traceql.parser import parse
from vigil.traces.traceql.search import hints, needs_whole_traces, span_attribute_keys
from vigil.traces.traceql.spansets import Spansets, evaluate
from vigil.traces.traceql.table import SpanTable
from vigil.traces.traceql.value_codes import combined, value_codes

RATE, COUNT_OVER_TIME = "rate", "count_over_time"
HISTOGRAM, QUANTILE = "histogram_over_time", "quantile_over_time"
REDUCTIONS = frozenset({"min_over_time", "max_over_time", "sum_over_time", "avg_over_time"})
COMPARE = "compare"
FUNCTIONS = frozenset({RATE, COUNT_OVER_TIME, HISTOGRAM, QUANTILE, COMPARE, *REDUCTIONS})
TOPK, BOTTOMK = "topk", "bottomk"
BUCKET, QUANTILE_LABEL = "__bucket", "p"

_GROUPING = "{ } | by"  # a field list parsed as the `by` pipeline stage


@dataclass(frozen=True, slots=True)
class MetricsQuery:
    """`field` is the argument of the `*_over_time` functions, `quantiles` those of
    quantile_over_time."""

    spans: ast.Query
    function: str
    by: tuple[ast.Field, ...] = ()
    field: ast.Field | None = None
    quantiles: tuple[float, ...] = ()
    keep: tuple[str, int] | None = None  # (topk or bottomk, how many series)
    compare: Compare | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """One series: its labels (the `by` fields' values, or `__name__` and the function;
    `__bucket` or `p` after them) and a value per step (NaN: none), at `timestamps_ms`."""

    labels: tuple[Label, ...]
    timestamps_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]


def parse_metrics(text: str) -> MetricsQuery:
    """`{ ... } | function(args) by (...) [| topk(n)]` as its spanset query, function,
    argument, grouping and second stage; ParseError naming line and column otherwise."""
    source = Source(text)
    tokens = tokenize(source)
    stages = _stages(tokens)
    if len(stages) >= 2 and _word(tokens, stages[-1]) in (TOPK, BOTTOMK):
        keep = _second_stage(source, tokens, stages[-1])
        if _word(tokens, stages[-2]) not in FUNCTIONS:
            word = tokens[stages[-1] + 1]
            raise source.error(f"{word.text}() follows a metrics function", word.pos)
        return replace(parse_metrics(text[: tokens[stages[-1]].pos]), keep=keep)
    if stages and _word(tokens, stages[-1]) in (TOPK, BOTTOMK):
        word = tokens[stages[-1] + 1]
        raise source.error(f"{word.text}() follows a metrics function", word.pos)
    stage = stages[-1] if stages else None
    if stage is None or tokens[stage + 1].kind is not Kind.WORD:
        raise source.error("a metrics query ends in '| rate()' or '| count_over_time()'", len(text))
    word = tokens[stage + 1]
    if word.text not in FUNCTIONS:
        raise source.error(
            f"syntax error: unexpected {word.describe()}, expecting a metrics function "
            f"({', '.join(sorted(FUNCTIONS))})",
            word.pos,
        )
    at = stage + 2
    arguments: list[list[Token]] = []
    if tokens[at].kind is Kind.OP and tokens[at].text == "()":
        at += 1
    elif tokens[at].kind is Kind.OP and tokens[at].text == "(":
        at, arguments = _arguments(source, tokens, at)
    else:
        raise source.error(f"syntax error: expecting '(' after {word.text}", tokens[at].pos)
    spans = parse(text[: tokens[stage].pos])
    rest = tokens[at]
    if word.text == COMPARE:
        compared = compare_arguments(source, text, word, arguments)
        if rest.kind is not Kind.EOF:
            raise source.error(f"syntax error: unexpected {rest.describe()}", rest.pos)
        return MetricsQuery(spans, COMPARE, compare=compared)
    field, quantiles = _function_arguments(source, text, word, tokens[stage + 2], arguments)
    if rest.kind is Kind.EOF:
        return MetricsQuery(spans, word.text, (), field, quantiles)
    if not (rest.kind is Kind.WORD and rest.text == "by"):
        raise source.error(f"syntax error: unexpected {rest.describe()}, expecting by", rest.pos)
    by = _fields(source, text[rest.pos + len("by") :], rest.pos + len("by"))
    return MetricsQuery(spans, word.text, by, field, quantiles)


def _stages(tokens: list[Token]) -> list[int]:
    """The indices of the pipes between stages (those outside braces and parentheses)."""
    depth, stages = 0, []
    for i, token in enumerate(tokens):
        if token.kind is Kind.OP and token.text in ("{", "("):
            depth += 1
        elif token.kind is Kind.OP and token.text in ("}", ")"):
            depth -= 1
        elif token.kind is Kind.OP and token.text == "|" and depth == 0:
            stages.append(i)
    return stages


def _word(tokens: list[Token], stage: int) -> str | None:
    after = tokens[stage + 1]
    return after.text if after.kind is Kind.WORD else None


def _second_stage(source: Source, tokens: list[Token], stage: int) -> tuple[str, int]:
    """`topk(n)` or `bottomk(n)` after the pipe at `stage`, n a positive integer."""
    word = tokens[stage + 1]
    at, arguments = (
        _arguments(source, tokens, stage + 2)
        if tokens[stage + 2].kind is Kind.OP and tokens[stage + 2].text == "("
        else (stage + 3, [])
    )
    if len(arguments) != 1 or len(arguments[0]) != 1 or arguments[0][0].kind is not Kind.INTEGER:
        raise source.error(f"{word.text}() takes the number of series to keep", word.pos)
    limit = int(arguments[0][0].text)
    if limit <= 0:
        raise source.error(f"{word.text}(): the limit must be greater than 0", arguments[0][0].pos)
    rest = tokens[at]
    if rest.kind is not Kind.EOF:
        raise source.error(f"syntax error: unexpected {rest.describe()}", rest.pos)
    return word.text, limit


def _arguments(source: Source, tokens: list[Token], at: int) -> tuple[int, list[list[Token]]]:
    """The comma-separated arguments from the '(' at `at`, and the index after its ')'."""
    arguments: list[list[Token]] = [[]]
    depth = 0
    for i in range(at + 1, len(tokens)):
        token = tokens[i]
        if token.kind is Kind.EOF:
            break
        if token.kind is Kind.OP and token.text == ")" and depth == 0:
            return i + 1, arguments if arguments != [[]] else []
        if token.kind is Kind.OP and token.text in ("(", ")"):
            depth += 1 if token.text == "(" else -1
        if token.kind is Kind.OP and token.text == "," and depth == 0:
            arguments.append([])
        else:
            arguments[-1].append(token)
    raise source.error("syntax error: unexpected end of input, expecting ')'", len(source.text))


def _function_arguments(
    source: Source, text: str, word: Token, paren: Token, arguments: list[list[Token]]
) -> tuple[ast.Field | None, tuple[float, ...]]:
    """The field and quantiles of a function's arguments, checked as Tempo checks them."""
    if word.text in (RATE, COUNT_OVER_TIME):
        if arguments:
            raise source.error(f"{word.text}() takes no arguments", paren.pos)
        return None, ()
    want = "a field and one or more quantiles" if word.text == QUANTILE else "one field"
    if not arguments or any(not a for a in arguments):
        raise source.error(f"{word.text}() takes {want}", paren.pos)
    if (word.text == QUANTILE) != (len(arguments) > 1):
        raise source.error(f"{word.text}() takes {want}", arguments[-1][0].pos)
    first = arguments[0]
    end = first[-1].pos + len(first[-1].text)
    (field,) = _fields(source, "(" + text[first[0].pos : end] + ")", first[0].pos - 1)
    if not isinstance(field, ast.Attribute | ast.IntrinsicField):
        raise source.error(
            f"{word.text}() takes an attribute or intrinsic, not {ast.field_text(field)}",
            first[0].pos,
        )
    quantiles = []
    for argument in arguments[1:]:
        number = argument[0]
        if len(argument) != 1 or number.kind not in (Kind.INTEGER, Kind.FLOAT):
            raise source.error("a quantile is a number between 0 and 1", number.pos)
        if not 0 <= float(number.text) <= 1:
            raise source.error(f"quantile {number.text} is not between 0 and 1", number.pos)
        quantiles.append(float(number.text))
    return field, tuple(quantiles)


def _fields(source: Source, text: str, offset: int) -> tuple[ast.Field, ...]:
    """`(field, ...)` at `offset` of the query, parsed as the `by` stage."""
    try:
        grouped = parse(_GROUPING + text).root
    except ParseError as err:
        raise source.error(err.message, offset + err.pos - len(_GROUPING)) from None
    assert isinstance(grouped, ast.Pipe) and isinstance(grouped.rhs, ast.GroupBy)
    return grouped.rhs.fields


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
    evaluated = _kept(query, _evaluate(query, table, rows, step, steps, step_ns))
    return [Series(labels, timestamps, found) for labels, found in evaluated]


def query_instant(
    querier: SpanQuerier, query: MetricsQuery, start_ns: int, end_ns: int
) -> list[tuple[tuple[Label, ...], float]]:
    """The query's one value per series over [start, end] (one step as long as the range;
    a rate per second of it); series without a value are left out."""
    found = _matching(querier, query, start_ns, end_ns)
    if found is None:
        return []
    table, rows = found
    step = np.zeros(len(rows), dtype=np.int64)
    series = _kept(query, _evaluate(query, table, rows, step, 1, max(end_ns - start_ns, 1)))
    return [(labels, float(v[0])) for labels, v in series if not np.isnan(v[0])]


def _evaluate(
    query: MetricsQuery,
    table: SpanTable,
    rows: npt.NDArray[np.intp],
    step: npt.NDArray[np.int64],
    steps: int,
    step_ns: int,
) -> Evaluated:
    """Each series' labels and values per step; `step[i]` is row i's step."""
    if query.compare is not None:
        return compare(query.compare, table, rows, step, steps, span_fields(table, rows))
    keys, group = _groups(query, table, rows)
    if query.function in (HISTOGRAM, QUANTILE):
        return _histograms(query, table, rows, keys if query.by else [()], group, step, steps)
    cell = group * steps + step
    cells = len(keys) * steps
    if query.function in REDUCTIONS:
        assert query.field is not None
        numbers = over_time.field_numbers(query.field, table, rows)
        found = over_time.reduce(query.function, cell, numbers, cells).reshape(-1, steps)
        return [(k, found[g]) for g, k in enumerate(keys) if not np.isnan(found[g]).all()]
    counts = np.bincount(cell, minlength=cells).reshape(-1, steps).astype(np.float64)
    scale = 1.0 if query.function == COUNT_OVER_TIME else step_ns / 1e9
    return [(labels, counts[g] / scale) for g, labels in enumerate(keys)]


def _kept(query: MetricsQuery, series: Evaluated) -> Evaluated:
    """topk/bottomk: the n series with the highest (lowest) mean of their values, series
    without any value last, ties in their first order."""
    if query.keep is None or not series:
        return series
    op, limit = query.keep
    values = np.array([v for _, v in series], dtype=np.float64).reshape(len(series), -1)
    valued = (~np.isnan(values)).sum(axis=1)
    means = np.nansum(values, axis=1) / np.maximum(valued, 1)
    rank = np.where(valued == 0, np.inf, -means if op == TOPK else means)
    order = np.argsort(rank, kind="stable")[:limit]
    return [series[i] for i in order.tolist()]


_EXPONENTS = 64  # a bucket 2**e of an int64 value has e < 64


def _histograms(
    query: MetricsQuery,
    table: SpanTable,
    rows: npt.NDArray[np.intp],
    keys: list[tuple[Label, ...]],
    group: npt.NDArray[np.int64],
    step: npt.NDArray[np.int64],
    steps: int,
) -> Evaluated:
    """histogram_over_time: a series per (group, bucket) of span counts per step;
    quantile_over_time: a series per (group with buckets, quantile)."""
    assert query.field is not None
    exponent, seconds = over_time.log2_buckets(query.field, table, rows)
    kept = exponent >= 0
    group, step, exponent = group[kept], step[kept], exponent[kept]
    if query.function == HISTOGRAM:
        series, which = np.unique(group * _EXPONENTS + exponent, return_inverse=True)
        cell = which.reshape(-1) * steps + step
        counts = np.bincount(cell, minlength=len(series) * steps).reshape(-1, steps)
        return [
            (
                keys[s // _EXPONENTS]
                + ((BUCKET, over_time.bucket_bound(s % _EXPONENTS, seconds)),),
                counts[k].astype(np.float64),
            )
            for k, s in enumerate(series.tolist())
        ]
    used, bucket = np.unique(exponent, return_inverse=True)
    cell = (group * steps + step) * len(used) + bucket.reshape(-1)
    counts = np.bincount(cell, minlength=len(keys) * steps * len(used))
    bounds = np.array([over_time.bucket_bound(e, seconds) for e in used.tolist()])
    found = over_time.quantiles(counts.reshape(-1, len(used)), bounds, query.quantiles)
    per_group = found.reshape(len(query.quantiles), len(keys), steps)
    return [
        (keys[g] + ((QUANTILE_LABEL, q),), per_group[k, g])
        for g in np.flatnonzero(np.bincount(group, minlength=len(keys))).tolist()
        for k, q in enumerate(query.quantiles)
    ]


def _matching(
    querier: SpanQuerier, query: MetricsQuery, start_ns: int, end_ns: int
) -> tuple[SpanTable, npt.NDArray[np.intp]] | None:
    """The spans the spanset query matches that start in [start, end], each once."""
    whole = query.compare is not None or needs_whole_traces(query.spans)  # compare: roots too
    wanted = SpanHints() if whole else hints(query.spans)
    read = (*query.by, *([query.field] if query.field is not None else []))
    keys = span_attribute_keys(query.spans) | {
        f.name for f in read if isinstance(f, ast.Attribute) and f.scope in ("", "span")
    }
    wanted = replace(wanted, attributes=None if query.compare is not None else keys)
    table = SpanTable.of(distinct(list(querier.select(wanted))))
    if not len(table):
        return None
    spansets = evaluate(query.spans.root, table, Spansets.whole_traces(table))
    matched = np.zeros(len(table), dtype=bool)  # not np.unique: numpy 2's hashes ints slowly
    matched[spansets.rows] = True
    rows = np.flatnonzero(matched)
    begins = table.spans.start_ns[rows]
    return table, rows[(begins >= start_ns) & (begins <= end_ns)]


def _groups(
    query: MetricsQuery, table: SpanTable, rows: npt.NDArray[np.intp]
) -> tuple[list[tuple[Label, ...]], npt.NDArray[np.int64]]:
    """Each row's series: the labels of every series and each row's index among them
    (fields without a value leave their label out)."""
    if not query.by:
        return [(("__name__", query.function),)], np.zeros(len(rows), dtype=np.int64)
    coded = [value_codes(column(f, table, rows), len(rows)) for f in query.by]
    group, first = combined([codes for codes, _ in coded], [len(d) for _, d in coded])
    names = [_label_name(f) for f in query.by]
    keys = [
        tuple(
            (name, label_value(distinct[c]))
            for name, (codes, distinct) in zip(names, coded, strict=True)
            if (c := int(codes[row])) >= 0
        )
        for row in first.tolist()
    ]
    series: dict[tuple[Label, ...], int] = {}  # groups whose labels are equal are one
    same = np.array([series.setdefault(k, len(series)) for k in keys], dtype=np.int64)
    return list(series), same[group] if len(group) else group


def _label_name(field: ast.Field) -> str:
    """An attribute as written (`resource.service.name`), an intrinsic by its word (`status`)."""
    if isinstance(field, ast.IntrinsicField):
        return field.intrinsic.value.rpartition(":")[2]
    return ast.field_text(field)
