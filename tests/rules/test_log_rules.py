"""Loki-ruler rules: LogQL expressions in Prometheus's rule-file format, run by the same rule
engine (for, labels, annotations, states) through the LogQL query function."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.config.prometheus import parse_config
from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.logs.logql.engine import LogQLEngine
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import RuleManager, engine_query_func, evaluate_group
from vigil.rules.alerting import AlertingRule, AlertState
from vigil.rules.query import check_logql, logql_query_func
from vigil.rules.rulefile import RuleFileError, load_rule_file
from vigil.tsdb import MemoryAppender, MemoryStorage

RULES = """
groups:
  - name: app-logs
    interval: 10s
    rules:
      - alert: ErrorBurst
        expr: sum by (container) (count_over_time({container="app"} |= "ERROR" [1m])) > 5
        for: 20s
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.container }}: {{ $value }} errors in a minute"}
"""
T0 = 1_700_000_000


def _burst(store: MemoryLogStore, at_s: int, n: int, text: str = "ERROR boom") -> None:
    stamps = np.array([(at_s * 1000 + i) * 1_000_000 for i in range(n)], dtype=np.int64)
    labels = Labels.from_dict({"container": "app", "host": "vm1"})
    store.push([Entries(labels, stamps, Lines.of([text] * n))])


@pytest.mark.parametrize("files", ["log_rule_files", "packaged_log_rule_files"])
def test_an_error_burst_goes_pending_then_firing_then_resolves(tmp_path: Path, files: str) -> None:
    """The same for the files vigil ships (the default pack), loaded without parsing them."""
    (tmp_path / "logs.yml").write_text(RULES)
    config = parse_config("rule_files: []\n", str(tmp_path / "prometheus.yml"))
    store, metrics = MemoryLogStore(), MemoryStorage()
    clock = ManualClock(T0)
    log_query = logql_query_func(LogQLEngine(store, clock=clock))
    manager = RuleManager(
        engine_query_func(Engine(metrics.queryable, EngineOptions(timeout_s=None))),
        lambda: MemoryAppender(metrics, []),
        metrics.queryable,
        clock,
        log_query=log_query,
        **{files: [str(tmp_path / "*.yml")]},
    )
    (group,) = manager.load(config)
    assert group.query is log_query
    rule = group.rules[0]
    assert isinstance(rule, AlertingRule)
    _burst(store, T0, 3, "INFO fine")
    _burst(store, T0 + 1, 8)
    states = []
    for offset in (0, 10, 30, 70, 80):
        evaluate_group(group, (T0 + 2 + offset) * 1000)
        alerts = rule.active_alerts()
        states.append(
            (offset, [(a.state, dict(a.labels).get("container"), a.value) for a in alerts])
        )
    assert states == [
        (0, [(AlertState.PENDING, "app", 8.0)]),
        (10, [(AlertState.PENDING, "app", 8.0)]),
        (30, [(AlertState.FIRING, "app", 8.0)]),
        (70, []),  # the burst left the 1m window
        (80, []),
    ]
    assert rule.health.value == "ok"


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ('{container="app"} |= "ERROR"', "a log query is not a rule expression"),
        ('count_over_time({container="app"} |= [1m])', "parse error at line 1, col"),
    ],
)
def test_log_rule_files_are_checked_as_logql(tmp_path: Path, expr: str, message: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(f"groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: '{expr}'\n")
    with pytest.raises(RuleFileError, match="could not parse expression") as err:
        load_rule_file(str(path), check=check_logql)
    assert message in str(err.value)


def test_the_default_log_rules_are_logql_rule_files() -> None:
    from vigil.cmd.server_process import default_log_rule_files

    files = default_log_rule_files()
    assert [Path(f).name for f in files] == ["containers.yml"]
    assert [
        r.name for f in files for g in load_rule_file(f, check=check_logql).groups for r in g.rules
    ] == [
        "ContainerLogErrorBurst",
        "JvmOutOfMemoryError",
    ]
