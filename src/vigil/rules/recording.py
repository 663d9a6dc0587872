"""Recording rules: an expression's result stored under a new metric name (and labels)."""

from __future__ import annotations

from vigil.model import METRIC_NAME, Labels
from vigil.model.histogram import FloatHistogram
from vigil.rules.alerting import NO_LABELS
from vigil.rules.query import QueryFunc, RuleEvaluationError, RuleHealth
from vigil.rules.rulefile import RecordingRuleSpec


class RecordingRule:
    """One recording rule and what the rules API shows about its last evaluation."""

    __slots__ = (
        "evaluation_seconds",
        "health",
        "labels",
        "last_error",
        "last_evaluation_ms",
        "spec",
    )

    def __init__(self, spec: RecordingRuleSpec, group_labels: Labels = NO_LABELS) -> None:
        self.spec = spec
        self.labels = Labels.from_dict({**dict(group_labels), **dict(spec.labels)})
        self.health = RuleHealth.UNKNOWN
        self.last_error = ""
        self.last_evaluation_ms: int | None = None
        self.evaluation_seconds = 0.0

    @property
    def name(self) -> str:
        return self.spec.record

    @property
    def expr(self) -> str:
        return self.spec.expr

    def evaluate(
        self, t_ms: int, query_offset_ms: int, query: QueryFunc, limit: int
    ) -> list[tuple[Labels, float | FloatHistogram]]:
        """The samples (floats or native histograms) to store at `t_ms - query_offset_ms`;
        raises RuleEvaluationError."""
        out: dict[Labels, float | FloatHistogram] = {}
        overrides = {METRIC_NAME: self.spec.record, **dict(self.labels)}
        for sample in query(self.spec.expr, t_ms - query_offset_ms):
            labels = Labels.from_dict({**dict(sample.labels), **overrides})
            if labels in out:
                raise RuleEvaluationError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            out[labels] = sample.value if sample.histogram is None else sample.histogram
        if 0 < limit < len(out):
            raise RuleEvaluationError(f"exceeded limit of {limit} with {len(out)} series")
        return list(out.items())
