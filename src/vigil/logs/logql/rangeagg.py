"""Range aggregations (`count_over_time({...}[5m])`, `quantile_over_time(0.99, ... | unwrap x
[1m])`): the entries of each final series become samples (1 per line, its bytes, or the
unwrapped value), each step's window `(t - offset - range, t - offset]` is located with one
`searchsorted` per series, and the PromQL engine's range functions compute the values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.logs._api import LogQueryable, SelectHints
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
from vigil.promql.functions import FUNCTIONS, FunctionCall
from vigil.promql.value import RangeSteps, ScalarSteps, VectorSteps

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_CONVERSIONS: dict[str, Callable[[str], float]] = {
    "": go_float,
    "bytes": human_bytes,
    "duration": go_duration_seconds,
    "duration_seconds": go_duration_seconds,
}
# LogQL's range functions that are PromQL's own over the samples built here.
_PROMQL_FUNCTION = {
    "count_over_time": "count_over_time",
    "bytes_over_time": "sum_over_time",
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
    "bytes_rate": "sum_over_time",
}
_PER_SECOND = frozenset({"rate", "bytes_rate"})


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


class _Collector:
    """Samples per final series, from batches of entries through the pipeline."""

    def __init__(self, node: ast.RangeAggregation) -> None:
        self.node = node
        log_range = node.range
        tail: list[Stage] = []
        if log_range.unwrap is not None:
            tail.append(_unwrap_stage(log_range.unwrap))
            tail += [label_filter_stage(compile_label_filter(f)) for f in log_range.unwrap.filters]
        self.pipeline = Pipeline(log_range.query.stages, tail)
        self.series: dict[Labels, _Samples] = {}

    def add(self, rows: Rows) -> None:
        if rows.values is not None:
            values = rows.values
        elif self.node.op in ("bytes_over_time", "bytes_rate"):
            values = rows.lines.sizes().astype(np.float64)
        else:
            values = np.ones(len(rows))
        for labels, indices in rows.groups():
            if labels.get(ERROR):
                raise PipelineError(labels.get(ERROR), f"'{labels.without(ERROR_DETAILS)}'")
            samples = self.series.setdefault(self.group_key(labels), _Samples())
            samples.ts.append(rows.ts[indices])
            samples.values.append(values[indices])

    def group_key(self, labels: Labels) -> Labels:
        grouping = self.node.grouping
        if grouping is None:
            return labels
        if grouping.without:
            return labels.without(*grouping.labels)
        return Labels((k, v) for k, v in labels if k in grouping.labels)


def _windows(
    node: ast.RangeAggregation, collector: _Collector, times_ns: I64
) -> tuple[RangeSteps, I64]:
    labels = tuple(sorted(collector.series))
    ts_parts, val_parts, lo_rows, hi_rows = [], [], [], []
    base = 0
    ends = times_ns - node.range.offset_ns
    starts = ends - node.range.range_ns
    for key in labels:
        samples = collector.series[key]
        ts = np.concatenate(samples.ts)
        vals = np.concatenate(samples.values)
        order = np.argsort(ts, kind="stable")
        ts, vals = ts[order], vals[order]
        lo_rows.append(base + np.searchsorted(ts, starts, side="right"))
        hi_rows.append(base + np.searchsorted(ts, ends, side="right"))
        ts_parts.append(ts)
        val_parts.append(vals)
        base += len(ts)
    n_steps = len(times_ns)
    shape = (len(labels), n_steps)
    all_ts = np.concatenate(ts_parts) if ts_parts else np.empty(0, dtype=np.int64)
    rng = RangeSteps(
        labels,
        np.zeros(len(labels), dtype=bool),
        all_ts // 1_000_000,
        np.concatenate(val_parts) if val_parts else np.empty(0),
        np.array(lo_rows, dtype=np.int64).reshape(shape),
        np.array(hi_rows, dtype=np.int64).reshape(shape),
        ends // 1_000_000,
        times_ns // 1_000_000,
        node.range.range_ns // 1_000_000,
    )
    return rng, all_ts


def _absent(node: ast.RangeAggregation, rng: RangeSteps) -> VectorSteps:
    """1 at the steps where no series has an entry, labelled by the selector's equalities."""
    any_present = (
        (rng.hi > rng.lo).any(axis=0) if rng.n_series else np.zeros(rng.lo.shape[1], dtype=bool)
    )
    seen: dict[str, str] = {}
    repeated: set[str] = set()
    for matcher in node.range.query.matchers:
        if matcher.type is MatchType.EQUAL:
            if matcher.name in seen:
                repeated.add(matcher.name)
            seen[matcher.name] = matcher.value
    labels = Labels.from_dict({k: v for k, v in seen.items() if k not in repeated})
    absent = ~np.asarray(any_present)
    return VectorSteps(
        (labels,), np.ones((1, len(absent))), absent[None, :], np.zeros(1, dtype=bool)
    )


def evaluate_range_aggregation(
    queryable: LogQueryable, node: ast.RangeAggregation, times_ns: I64, budget: QueryBudget
) -> VectorSteps:
    """The aggregation's value at each step time (ns)."""
    log_range = node.range
    mint = int(times_ns[0]) - log_range.offset_ns - log_range.range_ns + 1
    maxt = int(times_ns[-1]) - log_range.offset_ns
    collector = _Collector(node)
    querier = queryable.querier(mint, maxt)
    try:
        hints = SelectHints(query_needles(log_range.query))
        for entries in querier.select(log_range.query.matchers, hints):
            budget.read(entries)
            rows = collector.pipeline.run(entries)
            if len(rows):
                collector.add(rows)
    finally:
        querier.close()
    rng, _ = _windows(node, collector, times_ns)
    if node.op == "absent_over_time":
        return _absent(node, rng)
    function = _PROMQL_FUNCTION[node.op]
    times_ms = times_ns // 1_000_000
    args: tuple[ScalarSteps | RangeSteps, ...] = (rng,)
    if node.param is not None:
        args = (ScalarSteps(np.full(len(times_ns), node.param)), rng)
    call = FunctionCall(function, args, (), times_ms, guard=budget)
    result = FUNCTIONS[function](call)
    assert isinstance(result, VectorSteps)
    if node.op in _PER_SECOND:
        seconds = log_range.range_ns / 1e9
        result = VectorSteps(
            result.labels, result.values / seconds, result.present, result.drop_name
        )
    return result
