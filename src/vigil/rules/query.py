"""The one seam between rules and a query language: `QueryFunc(expr, t_ms) -> samples`.

PromQL plugs in through `engine_query_func`, LogQL (Loki-ruler rule files) through
`logql_query_func`, without the rule engine knowing which one it talks to.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING

from vigil.logs import logql
from vigil.model import Labels
from vigil.promql.engine import QueryEngine
from vigil.promql.errors import PromQLError
from vigil.promql.value import Sample, Scalar, Vector
from vigil.tsdb import CorruptDataError, StorageNotReady

if TYPE_CHECKING:
    from vigil.logs.logql.engine import LogQLEngine

QueryFunc = Callable[[str, int], tuple[Sample, ...]]


class RuleEvaluationError(Exception):
    """A rule whose evaluation failed this iteration; the message is its `lastError`."""


class RuleHealth(enum.StrEnum):
    UNKNOWN = "unknown"
    OK = "ok"
    ERR = "err"


def engine_query_func(engine: QueryEngine) -> QueryFunc:
    """Prometheus's EngineQueryFunc: an instant query; a scalar becomes one unlabelled sample."""

    def query(expr: str, t_ms: int) -> tuple[Sample, ...]:
        return _samples(engine.instant_query(expr, t_ms).value)

    return query


def _samples(value: object) -> tuple[Sample, ...]:
    """A rule's result as samples: a vector's, or a scalar as one unlabelled sample."""
    if isinstance(value, Vector):
        return value.samples
    if isinstance(value, Scalar):
        return (Sample(Labels(), value.t_ms, value.value),)
    raise RuleEvaluationError("rule result is not a vector or scalar")


def check_logql(expr: str) -> None:
    """A Loki-ruler rule's expression: a LogQL metric query (a log query has no value to
    compare or record); raises ValueError saying why not."""
    if isinstance(logql.parse(expr), logql.ast.LogQuery):
        raise ValueError(
            f"a log query is not a rule expression: aggregate it, e.g. count_over_time({expr} [5m])"
        )


def logql_query_func(engine: LogQLEngine) -> QueryFunc:
    """Loki's ruler: an instant LogQL metric query at the evaluation time."""

    def query(expr: str, t_ms: int) -> tuple[Sample, ...]:
        t_ns = t_ms * 1_000_000
        try:
            value = engine.query(expr, t_ns, t_ns).value
        except (
            logql.LogQLError,
            PromQLError,
            ValueError,
            StorageNotReady,
            CorruptDataError,
        ) as err:
            raise RuleEvaluationError(str(err)) from err
        return _samples(value)

    return query
