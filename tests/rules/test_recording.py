"""Recording rules over native histograms: vigil cannot store histogram samples yet, so such
a rule fails with that reason (its lastError) instead of storing NaN as if it were a float."""

from __future__ import annotations

import pytest

from vigil.model import Labels
from vigil.promql.testing import parse_histogram
from vigil.promql.value import Sample
from vigil.rules.query import RuleEvaluationError
from vigil.rules.recording import RecordingRule
from vigil.rules.rulefile import RecordingRuleSpec


def _rule() -> RecordingRule:
    return RecordingRule(RecordingRuleSpec("job:h:sum", "sum(h)", Labels(), line=1))


def test_a_histogram_result_fails_the_rule_with_the_reason() -> None:
    histogram = parse_histogram("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}")

    def query(expr: str, t_ms: int) -> tuple[Sample, ...]:
        return (Sample(Labels(), t_ms, float("nan"), histogram),)

    with pytest.raises(RuleEvaluationError, match="native histogram samples"):
        _rule().evaluate(1000, 0, query, 0)


def test_a_float_result_is_recorded() -> None:
    def query(expr: str, t_ms: int) -> tuple[Sample, ...]:
        return (Sample(Labels.from_dict({"job": "a"}), t_ms, 2.5),)

    [(labels, value)] = _rule().evaluate(1000, 0, query, 0)
    assert (dict(labels), value) == ({"__name__": "job:h:sum", "job": "a"}, 2.5)
