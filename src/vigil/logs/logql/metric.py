"""Metric queries: range aggregations evaluated here over the log store; everything around
them (vector aggregations, binary and set operators, topk/sort, label_replace, vector(),
literals) by vigil's PromQL engine, which LogQL's metric syntax is a subset of.

Each range aggregation becomes a series set named `__logql_<i>` at the step times, served to
the engine by `_LeafQuerier`; the rest of the query is printed as PromQL over those names and
run with a lookback of 1 ms, so a leaf's value at a step is its value at exactly that step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from vigil.logs._api import LogQueryable
from vigil.logs.logql import ast
from vigil.logs.logql.budget import MAX_CELLS, QueryBudget
from vigil.logs.logql.errors import LogQLError, QueryTimeoutError
from vigil.logs.logql.format import format_expr
from vigil.logs.logql.rangeagg import evaluate_range_aggregation, grouped_counts
from vigil.model import METRIC_NAME, Labels, Matcher, MatchType
from vigil.promql import (
    Engine,
    EngineOptions,
    Matrix,
    PromQLError,
    Sample,
    Scalar,
    Series,
    String,
    Vector,
)
from vigil.promql import QueryTimeoutError as PromQLTimeoutError
from vigil.promql.value import VectorSteps
from vigil.tsdb import SelectHints, SeriesBatch, SeriesData

_LEAF = "__logql_{}"
MetricValue = Matrix | Vector | Scalar


class _LeafQuerier:
    """The range aggregations' results as a `Querier`: series `__logql_<i>` hold leaf i."""

    def __init__(self, leaves: dict[str, SeriesBatch]) -> None:
        self.leaves = leaves

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        for matcher in matchers:
            named = matcher.name == METRIC_NAME and matcher.type is MatchType.EQUAL
            if named and matcher.value in self.leaves:
                return self.leaves[matcher.value]
        return SeriesBatch.of([])

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterable[SeriesData]:
        batch = self.select_batch(matchers, hints)
        return (
            SeriesData(labels, batch.timestamps[a:b], batch.values[a:b])
            for labels, a, b in zip(batch.labels, batch.starts[:-1], batch.starts[1:], strict=True)
        )

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return []

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return list(self.select_batch(matchers).labels)

    def close(self) -> None:
        return None


def _leaf_batch(name: str, vector: VectorSteps, times_ms: np.ndarray) -> SeriesBatch:
    order = sorted(range(vector.n_series), key=lambda i: vector.labels[i])
    series = [
        SeriesData(
            vector.labels[i].with_label(METRIC_NAME, name),
            times_ms[vector.present[i]],
            vector.values[i][vector.present[i]],
        )
        for i in order
        if vector.present[i].any()
    ]
    return SeriesBatch.of(series)


def _without_name(value: object) -> MetricValue:
    if isinstance(value, Matrix):
        return Matrix(
            tuple(
                sorted(
                    (
                        Series(s.labels.without(METRIC_NAME), s.timestamps, s.values)
                        for s in value.series
                    ),
                    key=lambda s: s.labels,
                )
            )
        )
    if isinstance(value, Vector):
        return Vector(
            tuple(Sample(s.labels.without(METRIC_NAME), s.t_ms, s.value) for s in value.samples)
        )
    if isinstance(value, Scalar):
        return value
    kind = "string" if isinstance(value, String) else type(value).__name__
    raise LogQLError(f"a metric query cannot answer a {kind}")


def evaluate_metric(
    queryable: LogQueryable,
    expr: ast.MetricExpr,
    start_ns: int,
    end_ns: int,
    step_ns: int,
    budget: QueryBudget,
) -> MetricValue:
    """The query's matrix at each step from start to end, or its vector/scalar at `end_ns`
    when `step_ns` is 0."""
    instant = step_ns <= 0
    step_ms = max(step_ns // 1_000_000, 1)
    start_ms, end_ms = (
        (end_ns // 1_000_000,) * 2 if instant else (start_ns // 1_000_000, end_ns // 1_000_000)
    )
    times_ms = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
    budget.reserve(len(times_ms))
    leaves: dict[str, SeriesBatch] = {}
    names: dict[ast.RangeAggregation, str] = {}

    def leaf(node: ast.RangeAggregation) -> str:
        if node not in names:
            name = names[node] = _LEAF.format(len(names))
            vector = evaluate_range_aggregation(queryable, node, times_ms * 1_000_000, budget)
            leaves[name] = _leaf_batch(name, vector, times_ms)
        return names[node]

    promql = format_expr(grouped_counts(expr), leaf)
    remaining = budget.deadline - budget.clock.now()
    if remaining <= 0:
        raise QueryTimeoutError
    options = EngineOptions(lookback_delta_ms=1, max_samples=MAX_CELLS, timeout_s=remaining)
    engine = Engine(lambda _mint, _maxt: _LeafQuerier(leaves), options, clock=budget.clock.now)
    try:
        if instant:
            result = engine.instant_query(promql, end_ms)
        else:
            result = engine.range_query(promql, start_ms, end_ms, step_ms)
    except PromQLTimeoutError:
        raise QueryTimeoutError from None
    except PromQLError as err:
        raise LogQLError(str(err)) from None
    return _without_name(result.value)
