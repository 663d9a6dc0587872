"""A rule group: its rules evaluated in order at one timestamp, results appended through the
storage's Appender, stale markers for series a rule stopped producing, and the group's
self-metrics. `evaluate_group(group, t_ms)` is the synchronous step tests drive directly."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import xxhash
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.model import METRIC_NAME, Labels, MatchType
from vigil.model.histogram import FloatHistogram
from vigil.promql import ast
from vigil.promql.errors import PromQLError
from vigil.promql.parser import parse
from vigil.rules.alerting import AlertingRule, TemplateContext
from vigil.rules.query import QueryFunc, RuleEvaluationError, RuleHealth
from vigil.rules.recording import RecordingRule
from vigil.rules.rulefile import AlertingRuleSpec, GroupSpec
from vigil.tsdb._api import STALE_NAN, Appender

log = logging.getLogger("vigil.rules")

Rule = RecordingRule | AlertingRule
Appendable = Callable[[], Appender]


class RuleMetrics:
    """Prometheus's rule-manager self-metrics, labelled by `rule_group` ("file;name")."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["rule_group"]
        self.iterations_missed = Counter(
            "prometheus_rule_group_iterations_missed",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            labels,
            registry=registry,
        )
        self.iterations = Counter(
            "prometheus_rule_group_iterations",
            "The total number of scheduled rule group evaluations, whether executed or missed.",
            labels,
            registry=registry,
        )
        self.evaluations = Counter(
            "prometheus_rule_evaluations",
            "The total number of rule evaluations.",
            labels,
            registry=registry,
        )
        self.failures = Counter(
            "prometheus_rule_evaluation_failures",
            "The total number of rule evaluation failures.",
            labels,
            registry=registry,
        )
        self.last_duration = Gauge(
            "prometheus_rule_group_last_duration_seconds",
            "The duration of the last rule group evaluation.",
            labels,
            registry=registry,
        )
        self.last_evaluation = Gauge(
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "The timestamp of the last rule group evaluation in seconds.",
            labels,
            registry=registry,
        )
        self.interval = Gauge(
            "prometheus_rule_group_interval_seconds",
            "The interval of a rule group.",
            labels,
            registry=registry,
        )
        self.rules = Gauge(
            "prometheus_rule_group_rules",
            "The number of rules.",
            labels,
            registry=registry,
        )

    def forget(self, key: str) -> None:
        for metric in (
            self.iterations_missed,
            self.iterations,
            self.evaluations,
            self.failures,
            self.last_duration,
            self.last_evaluation,
            self.interval,
            self.rules,
        ):
            try:
                metric.remove(key)
            except KeyError:
                continue


@dataclass(frozen=True, slots=True)
class GroupOptions:
    """What a group takes from the global config when the rule file does not say."""

    interval_ms: int = 60_000
    query_offset_ms: int = 0
    context: TemplateContext = field(default_factory=TemplateContext)


class Group:
    """One rule group's rules and evaluation state (series each rule wrote last time)."""

    def __init__(
        self,
        spec: GroupSpec,
        options: GroupOptions,
        query: QueryFunc,
        appendable: Appendable,
        metrics: RuleMetrics | None = None,
        restored: bool = True,
        timer: Callable[[], float] = time.perf_counter,
        logger: logging.Logger | None = log,
    ) -> None:
        self.spec = spec
        self.interval_ms = spec.interval_ms or options.interval_ms
        self.query_offset_ms = (
            spec.query_offset_ms if spec.query_offset_ms is not None else options.query_offset_ms
        )
        self.rules: list[Rule] = [
            AlertingRule(rule, spec.labels, options.context, restored)
            if isinstance(rule, AlertingRuleSpec)
            else RecordingRule(rule, spec.labels)
            for rule in spec.rules
        ]
        self.query = query
        self.appendable = appendable
        self.metrics = metrics
        self.timer = timer
        self.logger = logger
        self.evaluation_seconds = 0.0
        self.last_evaluation_ms: int | None = None
        self._previous: list[set[Labels]] = [set() for _ in self.rules]
        self._reads = [_metric_names_read(rule) for rule in self.rules]
        self._pending: list[tuple[Labels, float]] = []
        self._pending_histograms: list[tuple[Labels, FloatHistogram]] = []
        self._pending_names: set[str] = set()
        if metrics is not None:
            metrics.interval.labels(self.key).set(self.interval_ms / 1000)
            metrics.rules.labels(self.key).set(len(self.rules))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def file(self) -> str:
        return self.spec.file

    @property
    def key(self) -> str:
        return f"{self.spec.file};{self.spec.name}"

    def alerting_rules(self) -> list[AlertingRule]:
        return [rule for rule in self.rules if isinstance(rule, AlertingRule)]

    def eval_timestamp_ns(self, now_ns: int) -> int:
        """The group's slot at or before `now_ns`: Prometheus offsets each group by a hash of
        its name and file so groups with one interval do not all evaluate at once."""
        interval_ns = self.interval_ms * 1_000_000
        offset = self.slot_hash() % interval_ns
        adjusted = now_ns - offset
        return adjusted - adjusted % interval_ns + offset

    def slot_hash(self) -> int:
        """labels.Hash of {file=…, name=…}: xxhash64 over name\xffvalue\xff pairs."""
        data = b"".join(
            part.encode() + b"\xff" for part in ("file", self.spec.file, "name", self.spec.name)
        )
        return int(xxhash.xxh64_intdigest(data))

    def copy_state_from(self, old: Group) -> None:
        """A reloaded group keeps alerts and stale-marker bookkeeping of rules it still has."""
        previous = {(type(r), r.name, r.labels): (r, i) for i, r in enumerate(old.rules)}
        for index, rule in enumerate(self.rules):
            match = previous.get((type(rule), rule.name, rule.labels))
            if match is None:
                continue
            old_rule, old_index = match
            self._previous[index] = old._previous[old_index]
            if isinstance(rule, AlertingRule) and isinstance(old_rule, AlertingRule):
                rule.copy_state_from(old_rule)

    def evaluate(self, t_ms: int) -> None:
        """Evaluate every rule at `t_ms`, in order; a rule's output is committed before any
        later rule that may read it runs (as in Prometheus), and outputs no later rule reads
        are committed together: one commit costs about the same for 1 sample or 10k."""
        start = self.timer()
        try:
            for index, rule in enumerate(self.rules):
                reads = self._reads[index]
                if (self._pending or self._pending_histograms) and (
                    reads is None or not reads.isdisjoint(self._pending_names)
                ):
                    self._flush(t_ms - self.query_offset_ms)
                self._evaluate_rule(index, rule, t_ms)
        finally:
            self._flush(t_ms - self.query_offset_ms)
        self.evaluation_seconds = self.timer() - start
        self.last_evaluation_ms = t_ms
        if self.metrics is not None:
            self.metrics.last_duration.labels(self.key).set(self.evaluation_seconds)
            self.metrics.last_evaluation.labels(self.key).set(t_ms / 1000)

    def _evaluate_rule(self, index: int, rule: Rule, t_ms: int) -> None:
        started = self.timer()
        if self.metrics is not None:
            self.metrics.evaluations.labels(self.key).inc()
        try:
            samples = rule.evaluate(t_ms, self.query_offset_ms, self.query, self.spec.limit)
        except (RuleEvaluationError, PromQLError) as err:
            rule.health, rule.last_error = RuleHealth.ERR, str(err)
            if self.metrics is not None:
                self.metrics.failures.labels(self.key).inc()
            if self.logger is not None:
                self.logger.warning("rule %s of group %s failed: %s", rule.name, self.key, err)
        else:
            rule.health, rule.last_error = RuleHealth.OK, ""
            self._append(index, samples)
        rule.last_evaluation_ms = t_ms
        rule.evaluation_seconds = self.timer() - started

    def _append(self, index: int, samples: Sequence[tuple[Labels, float | FloatHistogram]]) -> None:
        produced = {labels for labels, _ in samples}
        gone = [labels for labels in self._previous[index] if labels not in produced]
        self._previous[index] = produced
        self._write([*samples, *((labels, STALE_NAN) for labels in gone)])

    def mark_all_stale(self, t_ms: int) -> None:
        """A removed group's series end now rather than fading out after the lookback."""
        series = {labels for seen in self._previous for labels in seen}
        self._previous = [set() for _ in self.rules]
        self._write([(labels, STALE_NAN) for labels in series])
        self._flush(t_ms)

    def _write(self, samples: Sequence[tuple[Labels, float | FloatHistogram]]) -> None:
        """Queue samples for the next `_flush` (one iteration's samples share a timestamp)."""
        for labels, value in samples:
            if isinstance(value, FloatHistogram):
                self._pending_histograms.append((labels, value))
            else:
                self._pending.append((labels, value))
        self._pending_names.update(labels.get(METRIC_NAME) for labels, _ in samples)

    def _flush(self, t_ms: int) -> None:
        samples, self._pending = self._pending, []
        histograms, self._pending_histograms = self._pending_histograms, []
        self._pending_names = set()
        if not samples and not histograms:
            return
        appender = self.appendable()
        try:
            refs = appender.refs_for([labels for labels, _ in samples])
            values = np.fromiter((v for _, v in samples), dtype=np.float64, count=len(samples))
            keep = refs >= 0
            appender.append_batch(
                refs[keep], np.full(int(keep.sum()), t_ms, dtype=np.int64), values[keep]
            )
            if histograms:
                histogram_refs = appender.refs_for([labels for labels, _ in histograms])
                for ref, (_, histogram) in zip(histogram_refs.tolist(), histograms, strict=True):
                    if ref >= 0:
                        appender.append_histogram_by_ref(ref, t_ms, histogram)
            appender.commit()
        except OSError as err:
            # Storage that cannot write (a full disk) logs and alerts on its own; the alerts
            # evaluated here must still reach the notifier, so the group goes on.
            appender.rollback()
            if self.logger is not None:
                self.logger.debug("group %s: results not stored: %s", self.key, err)


def _metric_names_read(rule: Rule) -> frozenset[str] | None:
    """The metric names `rule` can read, or None when that is not known (a selector without
    a `__name__` equality, a template that may run a query, an expression that fails to
    parse): what decides whether earlier rules' output must be committed first."""
    if isinstance(rule, AlertingRule) and any(
        "query" in text for pairs in (rule.spec.labels, rule.spec.annotations) for _, text in pairs
    ):
        return None
    try:
        expr = parse(rule.expr)
    except PromQLError:
        return None
    names: set[str] = set()
    pending: list[object] = [expr]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.VectorSelector):
            for matchers in node.matcher_groups:
                equal = [
                    m.value for m in matchers if m.name == METRIC_NAME and m.type is MatchType.EQUAL
                ]
                if not equal:
                    return None
                names.update(equal)
        elif isinstance(node, tuple):
            pending.extend(node)
        elif hasattr(node, "__dataclass_fields__"):
            pending.extend(getattr(node, name) for name in node.__dataclass_fields__)
    return frozenset(names)


def evaluate_group(group: Group, t_ms: int) -> None:
    """One iteration of `group` at `t_ms` (ms since the epoch), synchronously."""
    group.evaluate(t_ms)
