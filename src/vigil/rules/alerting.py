"""Alerting rules and their state machine, as Prometheus runs it: an alert is pending while
its expression returns it for less than `for`, then firing; it stays firing `keep_firing_for`
after the expression stops returning it, then is resolved (kept 15 m so it can be sent)."""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterator
from dataclasses import dataclass

from vigil import template
from vigil.model import METRIC_NAME, Labels
from vigil.promql.value import Sample
from vigil.rules.query import QueryFunc, RuleEvaluationError, RuleHealth
from vigil.rules.rulefile import AlertingRuleSpec

log = logging.getLogger("vigil.rules")

ALERTS_METRIC = "ALERTS"
ALERTS_FOR_STATE_METRIC = "ALERTS_FOR_STATE"
ALERT_NAME_LABEL = "alertname"
ALERT_STATE_LABEL = "alertstate"
RESOLVED_RETENTION_MS = 15 * 60_000
NO_LABELS = Labels()


class AlertState(enum.StrEnum):
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"


@dataclass(slots=True)
class Alert:
    """One alert of a rule (an identity: it changes state in place as evaluations go by).
    Times are ms since the epoch; 0 means never."""

    labels: Labels
    annotations: Labels
    value: float
    active_at_ms: int
    state: AlertState = AlertState.PENDING
    fired_at_ms: int = 0
    resolved_at_ms: int = 0
    keep_firing_since_ms: int = 0
    last_sent_ms: int = 0
    valid_until_ms: int = 0


@dataclass(frozen=True, slots=True)
class TemplateContext:
    """What alert templates see besides the alert: `$externalLabels`, `$externalURL`."""

    external_labels: Labels = NO_LABELS
    external_url: str = ""


class AlertingRule:
    """One alerting rule: its spec, its active alerts keyed by label set, and its health."""

    __slots__ = (
        "_active",
        "annotations",
        "context",
        "evaluation_seconds",
        "health",
        "labels",
        "last_error",
        "last_evaluation_ms",
        "restored",
        "spec",
    )

    def __init__(
        self,
        spec: AlertingRuleSpec,
        group_labels: Labels = NO_LABELS,
        context: TemplateContext | None = None,
        restored: bool = True,
    ) -> None:
        self.spec = spec
        self.labels = Labels.from_dict({**dict(group_labels), **dict(spec.labels)})
        self.annotations = spec.annotations
        self.context = context or TemplateContext()
        self.restored = restored
        self.health = RuleHealth.UNKNOWN
        self.last_error = ""
        self.last_evaluation_ms: int | None = None
        self.evaluation_seconds = 0.0
        self._active: dict[Labels, Alert] = {}

    @property
    def name(self) -> str:
        return self.spec.alert

    @property
    def expr(self) -> str:
        return self.spec.expr

    @property
    def hold_ms(self) -> int:
        return self.spec.for_ms

    def active_alerts(self) -> list[Alert]:
        """Pending and firing alerts (resolved ones kept for sending are left out)."""
        return [a for a in self._active.values() if a.state != AlertState.INACTIVE]

    def all_alerts(self) -> Iterator[Alert]:
        """Every alert still tracked, resolved ones included (what a notifier sends)."""
        return iter(list(self._active.values()))

    def state(self) -> AlertState:
        """The rule's state for the API: its most severe alert's."""
        states = {a.state for a in self._active.values()}
        for state in (AlertState.FIRING, AlertState.PENDING):
            if state in states:
                return state
        return AlertState.INACTIVE

    def copy_state_from(self, other: AlertingRule) -> None:
        """Keep alerts across a reload that leaves this rule as it was."""
        self._active = dict(other._active)
        self.restored = other.restored

    def evaluate(
        self, t_ms: int, query_offset_ms: int, query: QueryFunc, limit: int
    ) -> list[tuple[Labels, float]]:
        """Advance the state machine to `t_ms`; returns the ALERTS/ALERTS_FOR_STATE samples
        (empty until restored). Raises RuleEvaluationError."""
        query_t = t_ms - query_offset_ms
        current: dict[Labels, Alert] = {}
        for sample in query(self.spec.expr, query_t):
            alert = self._new_alert(sample, t_ms, query, query_t)
            if alert.labels in current:
                raise RuleEvaluationError(
                    "vector contains metrics with the same labelset after applying alert labels"
                )
            current[alert.labels] = alert
        for labels, fresh in current.items():
            known = self._active.get(labels)
            if known is not None and known.state != AlertState.INACTIVE:
                known.value = fresh.value
                known.annotations = fresh.annotations
            else:
                self._active[labels] = fresh
        out: list[tuple[Labels, float]] = []
        active = 0
        for labels, alert in list(self._active.items()):
            if labels not in current:
                keep_firing = False
                if alert.state == AlertState.FIRING and self.spec.keep_firing_for_ms > 0:
                    if not alert.keep_firing_since_ms:
                        alert.keep_firing_since_ms = t_ms
                    keep_firing = t_ms - alert.keep_firing_since_ms < self.spec.keep_firing_for_ms
                if alert.state == AlertState.PENDING or (
                    alert.resolved_at_ms and t_ms - alert.resolved_at_ms > RESOLVED_RETENTION_MS
                ):
                    del self._active[labels]
                if alert.state != AlertState.INACTIVE and not keep_firing:
                    alert.state = AlertState.INACTIVE
                    alert.resolved_at_ms = t_ms
                if not keep_firing:
                    continue
            else:
                alert.keep_firing_since_ms = 0
            active += 1
            if alert.state == AlertState.PENDING and t_ms - alert.active_at_ms >= self.hold_ms:
                alert.state = AlertState.FIRING
                alert.fired_at_ms = t_ms
            if self.restored:
                out.append((self._series(ALERTS_METRIC, alert, state=True), 1.0))
                out.append(
                    (
                        self._series(ALERTS_FOR_STATE_METRIC, alert, state=False),
                        float(alert.active_at_ms // 1000),
                    )
                )
        if 0 < limit < active:
            self._active.clear()
            raise RuleEvaluationError(f"exceeded limit of {limit} with {active} alerts")
        return out

    def restore_active_at(self, labels: Labels, active_at_ms: int) -> None:
        alert = self._active.get(labels)
        if alert is not None:
            alert.active_at_ms = active_at_ms

    def _series(self, metric: str, alert: Alert, state: bool) -> Labels:
        pairs = {**dict(alert.labels), METRIC_NAME: metric}
        if state:
            pairs[ALERT_STATE_LABEL] = str(alert.state)
        return Labels.from_dict(pairs)

    def _new_alert(self, sample: Sample, t_ms: int, query: QueryFunc, query_t: int) -> Alert:
        metric = sample.labels.without(METRIC_NAME)
        labels = dict(metric)
        for name, text in self.labels:
            labels[name] = self._expand(name, text, metric, sample.value, query, query_t)
        labels[ALERT_NAME_LABEL] = self.spec.alert
        annotations = {
            name: self._expand(name, text, metric, sample.value, query, query_t)
            for name, text in self.annotations
        }
        return Alert(
            labels=Labels.from_dict(labels),
            annotations=Labels.from_dict(annotations),
            value=sample.value,
            active_at_ms=t_ms,
        )

    def _expand(
        self, field: str, text: str, labels: Labels, value: float, query: QueryFunc, t_ms: int
    ) -> str:
        """Prometheus's expansion: a failing template yields `<error expanding template: …>`
        in place of the text, never a lost alert."""
        if "{{" not in text:
            return text

        def template_query(expr: str) -> list[template.QueryResultSample]:
            return [template.QueryResultSample(dict(s.labels), s.value) for s in query(expr, t_ms)]

        return template.expand_alert_template(
            f"__alert_{self.spec.alert}",
            text,
            dict(labels),
            value,
            dict(self.context.external_labels),
            self.context.external_url,
            template_query,
        )
