"""Range aggregations (`count_over_time({...}[5m])`, `quantile_over_time(0.99, ... | unwrap x
[1m])`): each step's window `(t - offset - range, t - offset]` is located with `searchsorted`
over a series' timestamps. Line counts and bytes are summed batch by batch; unwrapped samples
are kept per series and handed to the PromQL engine's range functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from vigil.logs._api import BucketCounts, LogQueryable, SelectHints
from vigil.logs.logql import ast
from vigil.logs.logql.budget import QueryBudget
from vigil.logs.logql.errors import PipelineError
from vigil.logs.logql.labelfilter import (
    ERROR,
    ERROR_DETAILS,
    compile_label_filter,
    go_duration_seconds,
    go_float,
    human_bytes,
)
from vigil.logs.logql.pipeline import Pipeline, Rows, Stage, label_filter_stage
from vigil.logs.logql.prefilter import query_needles
from vigil.model import Labels, MatchType
from vigil.model.sorted_set import sorted_set
from vigil.promql.functions import FUNCTIONS, FunctionCall
from vigil.promql.value import RangeSteps, ScalarSteps, VectorSteps

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

_CONVERSIONS: dict[str, Callable[[str], float]] = {
    "": go_float,
    "bytes": human_bytes,
    "duration": go_duration_seconds,
    "duration_seconds": go_duration_seconds,
}
# LogQL's range functions that are PromQL's own over the samples built here.
_PROMQL_FUNCTION = {
    "sum_over_time": "sum_over_time",
    "avg_over_time": "avg_over_time",
    "min_over_time": "min_over_time",
    "max_over_time": "max_over_time",
    "stddev_over_time": "stddev_over_time",
    "stdvar_over_time": "stdvar_over_time",
    "quantile_over_time": "quantile_over_time",
    "first_over_time": "first_over_time",
    "last_over_time": "last_over_time",
    "rate_counter": "rate",
    "rate": "sum_over_time",
    "absent_over_time": "count_over_time",
}
_PER_SECOND = frozenset({"rate", "bytes_rate"})
_COUNTS = frozenset({"count_over_time", "rate", "absent_over_time"})


def _unwrap_stage(unwrap: ast.Unwrap) -> Stage:
    """Converts the unwrapped label of each line into its sample value (Loki's
    SampleExtractionErr when it cannot) and drops the label."""
    convert = _CONVERSIONS[unwrap.conversion]

    def apply(rows: Rows) -> Rows:
        out = np.empty(len(rows))
        for i, labels in enumerate(rows.per_line()):
            text = labels.pop(unwrap.label, "")
            try:
                out[i] = convert(text)
            except ValueError as err:
                out[i] = np.nan
                labels.setdefault(ERROR, "SampleExtractionErr")
                labels.setdefault(ERROR_DETAILS, str(err))
        rows.values = out
        return rows

    return apply


@dataclass(slots=True)
class _Samples:
    ts: list[I64] = field(default_factory=list)
    values: list[F64] = field(default_factory=list)


class _StepWindows:
    """Each step's window `(t - offset - range, t - offset]` in ns."""

    def __init__(self, node: ast.RangeAggregation, times_ns: I64) -> None:
        self.times_ns = times_ns
        self.ends = times_ns - node.range.offset_ns
        self.starts = self.ends - node.range.range_ns
        self.range_ns = node.range.range_ns

    def bounds(self, ts: I64, first: int = 0, last: int | None = None) -> tuple[I64, I64]:
        """Per step (of steps[first:last]), the slice of the ascending `ts` in its window."""
        starts, ends = self.starts[first:last], self.ends[first:last]
        return np.searchsorted(ts, starts, side="right"), np.searchsorted(ts, ends, side="right")

    def edges(self) -> tuple[I64, I64, I64]:
        """Every window's start and end, ascending (buckets `(edges[i], edges[i+1]]`), and
        per step the first and past-the-last bucket of its window."""
        edges = sorted_set(np.concatenate((self.starts, self.ends)))
        first = np.searchsorted(edges, self.starts)
        last = np.searchsorted(edges, self.ends)
        return edges, first, last

    def touching(self, ts: I64) -> tuple[int, int]:
        """The steps `[first, last)` whose windows may hold some of the ascending `ts`."""
        first = int(np.searchsorted(self.ends, ts[0], side="left"))
        last = int(np.searchsorted(self.starts, ts[-1], side="left"))
        return first, last


def _check_errors(labels: Labels) -> None:
    if labels.get(ERROR):
        raise PipelineError(labels.get(ERROR), f"'{labels.without(ERROR_DETAILS)}'")


class _LineCounts:
    """count_over_time, rate, bytes_over_time, bytes_rate, absent_over_time: per series and
    step, lines (and their bytes) in the window, summed batch by batch; memory stays one row
    per series whatever the number of lines."""

    def __init__(self, node: ast.RangeAggregation, windows: _StepWindows) -> None:
        self.node, self.windows = node, windows
        self.bytes = node.op in ("bytes_over_time", "bytes_rate")
        self.counts: dict[Labels, F64] = {}
        self.sizes: dict[Labels, F64] = {}

    def add(self, rows: Rows) -> None:
        sizes = rows.lines.sizes() if self.bytes else None
        steps = len(self.windows.times_ns)
        for labels, indices in rows.groups():
            _check_errors(labels)
            whole = len(indices) == len(rows)
            ts = rows.ts if whole else rows.ts[indices]
            first, last = self.windows.touching(ts)
            if first >= last:
                continue
            lo, hi = self.windows.bounds(ts, first, last)
            counts = self.counts.setdefault(labels, np.zeros(steps))
            counts[first:last] += hi - lo
            if sizes is not None:
                prefix = np.concatenate(([0], np.cumsum(sizes if whole else sizes[indices])))
                total = self.sizes.setdefault(labels, np.zeros(steps))
                total[first:last] += prefix[hi] - prefix[lo]

    def add_counts(self, counts: BucketCounts, first: I64, last: I64) -> None:
        """A series' entries per bucket of `windows.edges()`; step i's window is buckets
        [first[i], last[i])."""
        steps = len(self.windows.times_ns)
        prefix = np.concatenate(([0], np.cumsum(counts.entries)))
        total = self.counts.setdefault(counts.labels, np.zeros(steps))
        total += prefix[last] - prefix[first]
        if self.bytes:
            prefix = np.concatenate(([0], np.cumsum(counts.bytes)))
            size = self.sizes.setdefault(counts.labels, np.zeros(steps))
            size += prefix[last] - prefix[first]

    def result(self) -> VectorSteps:
        op, steps = self.node.op, len(self.windows.times_ns)
        labels = tuple(sorted(self.counts))
        counts = np.array([self.counts[k] for k in labels]).reshape(len(labels), steps)
        if op == "absent_over_time":
            absent: Bools = ~np.asarray((counts > 0).any(axis=0))
            return VectorSteps(
                (_absent_labels(self.node),),
                np.ones((1, steps)),
                absent[None, :],
                np.zeros(1, dtype=bool),
            )
        values = (
            np.array([self.sizes[k] for k in labels]).reshape(counts.shape)
            if self.bytes
            else counts
        )
        if op in _PER_SECOND:
            values = values / (self.windows.range_ns / 1e9)
        return VectorSteps(labels, values, counts > 0, np.zeros(len(labels), dtype=bool))


class _UnwrappedSamples:
    """The unwrapped samples of each (grouped) series, windowed at the end for PromQL's range
    functions (quantiles and first/last need every sample of a window)."""

    def __init__(self, node: ast.RangeAggregation, windows: _StepWindows) -> None:
        self.node, self.windows = node, windows
        self.series: dict[Labels, _Samples] = {}

    def add(self, rows: Rows) -> None:
        assert rows.values is not None
        for labels, indices in rows.groups():
            _check_errors(labels)
            samples = self.series.setdefault(self.group_key(labels), _Samples())
            samples.ts.append(rows.ts[indices])
            samples.values.append(rows.values[indices])

    def group_key(self, labels: Labels) -> Labels:
        grouping = self.node.grouping
        if grouping is None:
            return labels
        if grouping.without:
            return labels.without(*grouping.labels)
        return Labels((k, v) for k, v in labels if k in grouping.labels)

    def ranges(self) -> RangeSteps:
        labels = tuple(sorted(self.series))
        ts_parts, val_parts, lo_rows, hi_rows = [], [], [], []
        base = 0
        for key in labels:
            samples = self.series[key]
            ts, vals = np.concatenate(samples.ts), np.concatenate(samples.values)
            order = np.argsort(ts, kind="stable")
            ts, vals = ts[order], vals[order]
            lo, hi = self.windows.bounds(ts)
            lo_rows.append(base + lo)
            hi_rows.append(base + hi)
            ts_parts.append(ts)
            val_parts.append(vals)
            base += len(ts)
        shape = (len(labels), len(self.windows.times_ns))
        return RangeSteps(
            labels,
            np.zeros(len(labels), dtype=bool),
            np.concatenate(ts_parts) // 1_000_000 if ts_parts else np.empty(0, dtype=np.int64),
            np.concatenate(val_parts) if val_parts else np.empty(0),
            np.array(lo_rows, dtype=np.int64).reshape(shape),
            np.array(hi_rows, dtype=np.int64).reshape(shape),
            self.windows.ends // 1_000_000,
            self.windows.times_ns // 1_000_000,
            self.node.range.range_ns // 1_000_000,
        )

    def result(self, budget: QueryBudget) -> VectorSteps:
        function = _PROMQL_FUNCTION[self.node.op]
        rng = self.ranges()
        steps = len(self.windows.times_ns)
        args: tuple[ScalarSteps | RangeSteps, ...] = (rng,)
        if self.node.param is not None:
            args = (ScalarSteps(np.full(steps, self.node.param)), rng)
        call = FunctionCall(function, args, (), self.windows.times_ns // 1_000_000, guard=budget)
        result = FUNCTIONS[function](call)
        assert isinstance(result, VectorSteps)
        if self.node.op in _PER_SECOND:
            seconds = self.windows.range_ns / 1e9
            return VectorSteps(
                result.labels, result.values / seconds, result.present, result.drop_name
            )
        if self.node.op == "absent_over_time":
            seen = np.asarray(result.present.any(axis=0)) if rng.n_series else np.zeros(steps, bool)
            absent: Bools = ~seen
            return VectorSteps(
                (_absent_labels(self.node),),
                np.ones((1, steps)),
                absent[None, :],
                np.zeros(1, dtype=bool),
            )
        return result


def _absent_labels(node: ast.RangeAggregation) -> Labels:
    """The selector's equality matchers (a name matched twice left out), as absent() has it."""
    seen: dict[str, str] = {}
    repeated: set[str] = set()
    for matcher in node.range.query.matchers:
        if matcher.type is MatchType.EQUAL:
            if matcher.name in seen:
                repeated.add(matcher.name)
            seen[matcher.name] = matcher.value
    return Labels.from_dict({k: v for k, v in seen.items() if k not in repeated})


def _counts_only(node: ast.RangeAggregation) -> bool:
    """True when the aggregation only counts entries or their bytes (no stage, nothing
    unwrapped): the logs-volume query, which the store answers from its chunk index."""
    log_range = node.range
    return not log_range.query.stages and log_range.unwrap is None


_SUMMABLE = frozenset({"count_over_time", "bytes_over_time"})


def grouped_counts(expr: ast.MetricExpr) -> ast.MetricExpr:
    """`expr` with each `sum by (…)` (or plain `sum`) of a count without stages turned into
    that count grouped as the sum groups (a grouping LogQL itself refuses there): its series
    then carry only those labels, so the store counts per level, not per line's metadata.
    The sum over them is the same integer (rates, being divided per series, are left)."""
    match expr:
        case ast.VectorAggregation("sum", ast.RangeAggregation() as inner, None, grouping) if (
            inner.op in _SUMMABLE
            and inner.grouping is None
            and _counts_only(inner)
            and (grouping is None or not grouping.without)
        ):
            by = ast.Grouping(grouping.labels if grouping is not None else ())
            return replace(expr, expr=replace(inner, grouping=by))
        case ast.VectorAggregation() | ast.LabelReplace():
            return replace(expr, expr=grouped_counts(expr.expr))
        case ast.BinaryOp():
            return replace(expr, lhs=grouped_counts(expr.lhs), rhs=grouped_counts(expr.rhs))
    return expr


def evaluate_range_aggregation(
    queryable: LogQueryable, node: ast.RangeAggregation, times_ns: I64, budget: QueryBudget
) -> VectorSteps:
    """The aggregation's value at each step time (ns)."""
    log_range = node.range
    windows = _StepWindows(node, times_ns)
    tail: list[Stage] = []
    if log_range.unwrap is not None:
        tail.append(_unwrap_stage(log_range.unwrap))
        tail += [label_filter_stage(compile_label_filter(f)) for f in log_range.unwrap.filters]
    pipeline = Pipeline(log_range.query.stages, tail)
    accumulator = (
        _LineCounts(node, windows) if log_range.unwrap is None else _UnwrappedSamples(node, windows)
    )
    mint = int(windows.starts[0]) + 1
    maxt = int(windows.ends[-1])
    querier = queryable.querier(mint, maxt)
    if isinstance(accumulator, _LineCounts) and _counts_only(node):
        edges, first, last = windows.edges()
        by = None if node.grouping is None else node.grouping.labels
        try:
            for counts in querier.counts(log_range.query.matchers, edges, by):
                budget.count(int(counts.entries.sum()))
                accumulator.add_counts(counts, first, last)
        finally:
            querier.close()
        return accumulator.result()
    try:
        hints = SelectHints(query_needles(log_range.query))
        for entries in querier.select(log_range.query.matchers, hints):
            budget.read(entries)
            rows = pipeline.run(entries)
            if len(rows):
                accumulator.add(rows)
    finally:
        querier.close()
    if isinstance(accumulator, _LineCounts):
        return accumulator.result()
    return accumulator.result(budget)
