"""The one seam between rules and a query language: `QueryFunc(expr, t_ms) -> samples`.

PromQL plugs in through `engine_query_func`; a log-query engine (LogQL rules) can plug in
beside it without the rule engine knowing which one it talks to.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from vigil.model import Labels
from vigil.promql.engine import QueryEngine
from vigil.promql.value import Sample, Scalar, Vector

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
        value = engine.instant_query(expr, t_ms).value
        if isinstance(value, Vector):
            return value.samples
        if isinstance(value, Scalar):
            return (Sample(Labels(), value.t_ms, value.value),)
        raise RuleEvaluationError("rule result is not a vector or scalar")

    return query
