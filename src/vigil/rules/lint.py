"""The lint of `vigil check rules --lint.metrics-from=URL`: rules whose selectors name a metric
that no series has, read from a running Prometheus-compatible API (vigil or Prometheus).

A typo in a metric name, or a rule written for an exporter that is not scraped, makes a rule that
loads, evaluates to nothing and never fires; promtool cannot see that without a server.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vigil.model import METRIC_NAME, MatchType
from vigil.promql import PromQLError, parse
from vigil.promql.ast import (
    Aggregation,
    Binary,
    Call,
    Expr,
    MatrixSelector,
    Negation,
    Subquery,
    VectorSelector,
)
from vigil.rules.rulefile import AlertingRuleSpec, GroupSpec, RecordingRuleSpec

if TYPE_CHECKING:
    import httpx

# Series the rule engine writes itself, whether or not any alert is active right now.
RULE_ENGINE_SERIES = frozenset({"ALERTS", "ALERTS_FOR_STATE"})
_TIMEOUT_S = 30.0


class MetricNamesUnavailableError(Exception):
    """The server could not list metric names; `reason` says what it answered, if anything."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot read metric names from {url}: {reason}")
        self.url = url
        self.reason = reason


def fetch_metric_names(base_url: str, client: httpx.Client | None = None) -> frozenset[str]:
    """Every metric name the server holds series for (`/api/v1/label/__name__/values`).

    `client` (with its own timeouts) lets tests pass an in-process client such as Starlette's
    TestClient instead of a socket.
    """
    import httpx

    url = base_url.rstrip("/") + "/api/v1/label/__name__/values"
    try:
        response = httpx.get(url, timeout=_TIMEOUT_S) if client is None else client.get(url)
    except httpx.HTTPError as err:
        raise MetricNamesUnavailableError(base_url, f"{type(err).__name__}: {err}") from None
    try:
        body = response.json()
    except ValueError:
        raise MetricNamesUnavailableError(
            base_url, f"HTTP {response.status_code} with a body that is not JSON"
        ) from None
    data = body.get("data") if isinstance(body, dict) else None
    if body.get("status") != "success" or not isinstance(data, list):
        reason = body.get("error") or f"unexpected answer (HTTP {response.status_code})"
        raise MetricNamesUnavailableError(base_url, str(reason))
    return frozenset(str(name) for name in data)


def metric_names(expr: Expr) -> frozenset[str]:
    """Names that selectors in `expr` require by `__name__` equality; regex names are skipped."""
    return frozenset(
        matcher.value
        for selector in _selectors(expr)
        for group in selector.matcher_groups
        for matcher in group
        if matcher.name == METRIC_NAME and matcher.type == MatchType.EQUAL
    )


def _selectors(expr: Expr) -> Iterator[VectorSelector]:
    if isinstance(expr, VectorSelector):
        yield expr
    elif isinstance(expr, MatrixSelector):
        yield expr.selector
    elif isinstance(expr, (Subquery, Negation)):
        yield from _selectors(expr.expr)
    elif isinstance(expr, Aggregation):
        yield from _selectors(expr.expr)
        if expr.param is not None:
            yield from _selectors(expr.param)
    elif isinstance(expr, Binary):
        yield from _selectors(expr.lhs)
        yield from _selectors(expr.rhs)
    elif isinstance(expr, Call):
        for arg in expr.args:
            yield from _selectors(arg)


@dataclass(frozen=True, slots=True)
class MissingMetric:
    """A rule selecting `metric`, which has no series at the server and no rule records;
    `index` is the rule's position in its group (rules in a group may share a name)."""

    file: str
    group: str
    kind: str  # "alert" or "record", as the rule file spells it
    rule: str
    line: int
    metric: str
    index: int

    def message(self, url: str) -> str:
        return (
            f'group "{self.group}", {self.kind} "{self.rule}" (line {self.line}): '
            f'metric "{self.metric}" has no series at {url} and no rule records it'
        )


def recorded_names(groups: Iterable[GroupSpec]) -> frozenset[str]:
    """Recording rules' outputs: they exist once the rules run, whatever the server has now."""
    return frozenset(
        rule.record
        for group in groups
        for rule in group.rules
        if isinstance(rule, RecordingRuleSpec)
    )


def missing_metrics(groups: Iterable[GroupSpec], known: frozenset[str]) -> list[MissingMetric]:
    """One finding per rule and metric name that is neither in `known` nor written by the rule
    engine itself (`ALERTS`, `ALERTS_FOR_STATE`). Expressions that are not PromQL (LogQL
    rules, or ones loading already refused) have no findings."""
    out = []
    for group in groups:
        for index, rule in enumerate(group.rules):
            try:
                names = metric_names(parse(rule.expr))
            except PromQLError:
                continue
            kind = "alert" if isinstance(rule, AlertingRuleSpec) else "record"
            for name in sorted(names - known - RULE_ENGINE_SERIES):
                out.append(
                    MissingMetric(group.file, group.name, kind, rule.name, rule.line, name, index)
                )
    return out
