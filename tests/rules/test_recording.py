"""Recording rules over native histograms: a result holding histogram samples is stored as
histograms (the rule is healthy), beside float results, and read back by the next query."""

from __future__ import annotations

from vigil.model import Labels
from vigil.promql.engine import Engine, EngineOptions
from vigil.promql.testing import parse_histogram
from vigil.promql.value import Sample
from vigil.rules import engine_query_func
from vigil.rules.group import Group, GroupOptions
from vigil.rules.query import RuleHealth
from vigil.rules.recording import RecordingRule
from vigil.rules.rulefile import RecordingRuleSpec, parse_rule_file
from vigil.tsdb import MemoryAppender, MemoryStorage

HISTOGRAM = parse_histogram("{{schema:0 sum:5 count:4 buckets:[1 2 1]}}")


def _rule() -> RecordingRule:
    return RecordingRule(RecordingRuleSpec("job:h:sum", "sum(h)", Labels(), line=1))


def test_a_histogram_result_is_recorded_as_a_histogram() -> None:
    def query(expr: str, t_ms: int) -> tuple[Sample, ...]:
        return (Sample(Labels(), t_ms, float("nan"), HISTOGRAM),)

    [(labels, value)] = _rule().evaluate(1000, 0, query, 0)
    assert (dict(labels), value) == ({"__name__": "job:h:sum"}, HISTOGRAM)


def test_a_float_result_is_recorded() -> None:
    def query(expr: str, t_ms: int) -> tuple[Sample, ...]:
        return (Sample(Labels.from_dict({"job": "a"}), t_ms, 2.5),)

    [(labels, value)] = _rule().evaluate(1000, 0, query, 0)
    assert (dict(labels), value) == ({"__name__": "job:h:sum", "job": "a"}, 2.5)


def test_a_group_stores_histogram_results_where_queries_find_them() -> None:
    storage = MemoryStorage()
    for job in ("a", "b"):
        storage.add(Labels.from_dict({"__name__": "h", "job": job}), 0, HISTOGRAM)
    spec = parse_rule_file(
        "groups:\n  - name: g\n    rules:\n"
        "      - record: job:h:sum\n        expr: sum(h)\n"
        "      - record: job:h:count\n        expr: histogram_count(job:h:sum)\n",
        "rules.yml",
    ).groups[0]
    known: list[Labels] = []
    engine = Engine(storage.queryable, EngineOptions(timeout_s=None))
    group = Group(
        spec, GroupOptions(), engine_query_func(engine), lambda: MemoryAppender(storage, known)
    )
    group.evaluate(10_000)
    assert [(r.health, r.last_error) for r in group.rules] == [(RuleHealth.OK, "")] * 2
    found = {s.labels.get("__name__"): s for s in storage.queryable(0, 10_000).select([])}
    summed = found["job:h:sum"]
    assert summed.histograms is not None and summed.histograms[0] == HISTOGRAM.add(HISTOGRAM)
    assert found["job:h:count"].values.tolist() == [8.0]
