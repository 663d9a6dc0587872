"""A group iteration commits rule outputs together unless a later rule may read them, so a
rule reading an earlier rule's output still sees it at the same timestamp (as Prometheus)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt
import pytest

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import engine_query_func
from vigil.rules.group import Group, GroupOptions, _metric_names_read
from vigil.rules.recording import RecordingRule
from vigil.rules.rulefile import RecordingRuleSpec, parse_rule_file
from vigil.tsdb import MemoryAppender, MemoryStorage
from vigil.tsdb._api import SeriesRef

T_MS = 600_000


class _CountingAppender:
    """MemoryAppender that records, per commit, the metric names it made visible."""

    def __init__(self, inner: MemoryAppender, commits: list[list[str]]) -> None:
        self._inner = inner
        self._commits = commits
        self._names: list[str] = []
        self._series: list[Labels] = []

    def append(self, labels: Labels, t_ms: int, value: float) -> SeriesRef:
        return self._inner.append(labels, t_ms, value)

    def append_by_ref(self, ref: SeriesRef, t_ms: int, value: float) -> None:
        self._inner.append_by_ref(ref, t_ms, value)

    def append_histogram(self, labels: Labels, t_ms: int, histogram: FloatHistogram) -> SeriesRef:
        return self._inner.append_histogram(labels, t_ms, histogram)

    def append_histogram_by_ref(self, ref: SeriesRef, t_ms: int, histogram: FloatHistogram) -> None:
        self._names.append(self._series[ref].get("__name__"))
        self._inner.append_histogram_by_ref(ref, t_ms, histogram)

    def append_batch(
        self,
        refs: npt.NDArray[np.int64],
        t_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        self._names.extend(self._series[r].get("__name__") for r in refs.tolist())
        self._inner.append_batch(refs, t_ms, values)

    def refs_for(self, labels: Sequence[Labels]) -> npt.NDArray[np.int64]:
        refs = self._inner.refs_for(labels)
        for lbls, ref in zip(labels, refs.tolist(), strict=True):
            while len(self._series) <= ref:
                self._series.append(Labels())
            self._series[ref] = lbls
        return refs

    def commit(self) -> None:
        self._inner.commit()
        self._commits.append(sorted(set(self._names)))

    def refused(self) -> Mapping[str, int]:
        return self._inner.refused()

    def rollback(self) -> None:
        self._inner.rollback()


def _group(rules: str) -> tuple[Group, MemoryStorage, list[list[str]]]:
    storage = MemoryStorage()
    for i in range(3):
        labels = Labels.from_dict({"__name__": "up", "instance": str(i)})
        for t in range(0, T_MS + 1, 15_000):
            storage.add(labels, t, float(i))
    spec = parse_rule_file(f"groups:\n  - name: g\n    rules:\n{rules}", "rules.yml").groups[0]
    known: list[Labels] = []
    commits: list[list[str]] = []
    engine = Engine(storage.queryable, EngineOptions(timeout_s=None))
    group = Group(
        spec,
        GroupOptions(),
        engine_query_func(engine),
        lambda: _CountingAppender(MemoryAppender(storage, known), commits),
    )
    return group, storage, commits


def _rules(*pairs: tuple[str, str]) -> str:
    return "".join(f"      - record: {name}\n        expr: '{expr}'\n" for name, expr in pairs)


@pytest.mark.parametrize(
    ("rules", "want_commits"),
    [
        (  # nobody reads the outputs: one commit for the iteration
            _rules(("a", "sum(up)"), ("b", "max(up)"), ("c", "count(up)")),
            [["a", "b", "c"]],
        ),
        (  # c reads a: a (and b, pending with it) is committed before c runs
            _rules(("a", "sum(up)"), ("b", "max(up)"), ("c", "a * 2"), ("d", "min(up)")),
            [["a", "b"], ["c", "d"]],
        ),
        (  # a selector without a metric name may read anything
            _rules(("a", "sum(up)"), ("b", '{__name__=~"u.*"}')),
            [["a"], ["b"]],
        ),
    ],
)
def test_outputs_are_committed_together_unless_a_later_rule_reads_them(
    rules: str, want_commits: list[list[str]]
) -> None:
    group, _, commits = _group(rules)
    group.evaluate(T_MS)
    assert commits == want_commits


def test_a_later_rule_sees_an_earlier_rules_output_at_the_same_timestamp() -> None:
    group, storage, _ = _group(_rules(("a", "sum(up)"), ("b", "max(up)"), ("c", "a * 2")))
    group.evaluate(T_MS)
    engine = Engine(storage.queryable, EngineOptions(timeout_s=None))
    value = engine.instant_query("c", T_MS).value
    assert [(dict(s.labels), s.t_ms, s.value) for s in value.samples] == [  # type: ignore[union-attr]
        ({"__name__": "c"}, T_MS, 6.0)
    ]


@pytest.mark.parametrize(
    ("expr", "want"),
    [
        ("sum(rate(x_total[1m]))", frozenset({"x_total"})),
        ("a / on(job) group_left b offset 5m", frozenset({"a", "b"})),
        ('max_over_time(x{job="j"}[5m:1m])', frozenset({"x"})),
        ("vector(1)", frozenset()),
        ('{job="j"}', None),
        ('{__name__=~"a|b"}', None),
        ("sum(", None),
    ],
)
def test_metric_names_a_rule_reads(expr: str, want: frozenset[str] | None) -> None:
    rule = RecordingRule(RecordingRuleSpec("r", expr, Labels(), line=1))
    assert _metric_names_read(rule) == want
