"""The alert state machine and recording-rule staleness, driven step by step through
`evaluate_group` on a MemoryStorage (no sleeping, no engine clock)."""

from __future__ import annotations

import struct

import pytest

from vigil.model import Labels
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import (
    AlertState,
    Group,
    GroupOptions,
    RuleManagerOptions,
    engine_query_func,
    evaluate_group,
    parse_rule_file,
    restore_for_state,
)
from vigil.rules.unittest import MemoryAppender
from vigil.tsdb import MemoryStorage
from vigil.tsdb._api import STALE_NAN_BITS

MIN = 60_000
UP = Labels.from_dict({"__name__": "up", "job": "node"})


def _group(rules_yaml: str, storage: MemoryStorage, restored: bool = True) -> Group:
    spec = parse_rule_file(rules_yaml, "rules.yml").groups[0]
    engine = Engine(storage.queryable, EngineOptions(timeout_s=None))
    known: list[Labels] = []
    return Group(
        spec,
        GroupOptions(interval_ms=MIN),
        engine_query_func(engine),
        lambda: MemoryAppender(storage, known),
        restored=restored,
        logger=None,
    )


def _alert_rules(for_: str, keep: str = "0s") -> str:
    return f"""
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        for: {for_}
        keep_firing_for: {keep}
        labels:
          severity: page
"""


def _states(group: Group) -> list[str]:
    rule = group.alerting_rules()[0]
    return [str(a.state) for a in rule.active_alerts()]


# (name, for, keep_firing_for, up values per minute, expected states per minute)
STATE_CASES = [
    (
        "pending then firing after for, then resolved",
        "2m",
        "0s",
        [1, 0, 0, 0, 0, 1, 1],
        [[], ["pending"], ["pending"], ["firing"], ["firing"], [], []],
    ),
    (
        "for 0 fires at once",
        "0s",
        "0s",
        [0, 1],
        [["firing"], []],
    ),
    (
        "pending that clears never fires",
        "3m",
        "0s",
        [0, 0, 1, 0, 0, 0, 0],
        [["pending"], ["pending"], [], ["pending"], ["pending"], ["pending"], ["firing"]],
    ),
    (
        "keep_firing_for holds a firing alert after the condition clears",
        "1m",
        "2m",
        [0, 0, 1, 1, 1, 1],
        [["pending"], ["firing"], ["firing"], ["firing"], [], []],
    ),
    (
        "keep_firing_for does not extend a pending alert",
        "5m",
        "10m",
        [0, 1],
        [["pending"], []],
    ),
]


@pytest.mark.parametrize(
    ("for_", "keep", "up", "want"),
    [case[1:] for case in STATE_CASES],
    ids=[case[0] for case in STATE_CASES],
)
def test_alert_state_machine(for_: str, keep: str, up: list[int], want: list[list[str]]) -> None:
    storage = MemoryStorage()
    for minute, value in enumerate(up):
        storage.add(UP, minute * MIN, float(value))
    group = _group(_alert_rules(for_, keep), storage)
    got = []
    for minute in range(len(up)):
        evaluate_group(group, minute * MIN)
        got.append(_states(group))
    assert got == want


def test_alerts_series_and_resolved_retention() -> None:
    storage = MemoryStorage()
    for minute, value in enumerate([0, 0, 0, 1]):
        storage.add(UP, minute * MIN, float(value))
    group = _group(_alert_rules("1m"), storage)
    for minute in range(4):
        evaluate_group(group, minute * MIN)
    alerts_series = Labels.from_dict(
        {
            "__name__": "ALERTS",
            "alertname": "Down",
            "alertstate": "firing",
            "job": "node",
            "severity": "page",
        }
    )
    for_state = Labels.from_dict(
        {"__name__": "ALERTS_FOR_STATE", "alertname": "Down", "job": "node", "severity": "page"}
    )
    querier = storage.queryable(0, 10 * MIN)
    series = {s.labels: (s.timestamps.tolist(), s.values.tolist()) for s in querier.select([])}
    ts, values = series[alerts_series]
    assert ts == [MIN, 2 * MIN, 3 * MIN]
    assert values[:2] == [1.0, 1.0] and _stale_bits(values[2])
    ts, values = series[for_state]
    assert ts == [0, MIN, 2 * MIN, 3 * MIN]
    assert values[:3] == [0.0, 0.0, 0.0] and _stale_bits(values[3])
    rule = group.alerting_rules()[0]
    resolved = list(rule.all_alerts())
    assert [(a.state, a.resolved_at_ms) for a in resolved] == [(AlertState.INACTIVE, 3 * MIN)]
    evaluate_group(group, 3 * MIN + 15 * MIN)
    assert list(rule.all_alerts()) == resolved  # kept 15 m for sending
    evaluate_group(group, 3 * MIN + 15 * MIN + 1)
    assert list(rule.all_alerts()) == []


def _stale_bits(value: float) -> bool:
    return struct.unpack("<Q", struct.pack("<d", value))[0] == STALE_NAN_BITS


def test_recording_rule_stale_marker_when_series_disappears() -> None:
    storage = MemoryStorage()
    a = Labels.from_dict({"__name__": "x", "i": "a"})
    b = Labels.from_dict({"__name__": "x", "i": "b"})
    storage.add(a, 0, 1.0)
    storage.add(b, 0, 2.0)
    storage.add(a, MIN, 3.0)
    group = _group(
        """
groups:
  - name: g
    rules:
      - record: x:doubled
        expr: x * 2
      - record: x:total
        expr: sum(x:doubled)
""",
        storage,
    )
    evaluate_group(group, 0)
    evaluate_group(group, 6 * MIN)  # both inputs are past the lookback now
    querier = storage.queryable(0, 10 * MIN)
    got = {
        dict(s.labels).get("i", "") + s.labels.get("__name__"): [
            (t, "stale" if _stale_bits(v) else v)
            for t, v in zip(s.timestamps.tolist(), s.values.tolist(), strict=True)
        ]
        for s in querier.select([])
        if s.labels.get("__name__").startswith("x:")
    }
    assert got == {
        "ax:doubled": [(0, 2.0), (6 * MIN, "stale")],
        "bx:doubled": [(0, 4.0), (6 * MIN, "stale")],
        # the second rule saw the first rule's output of the same iteration
        "x:total": [(0, 6.0), (6 * MIN, "stale")],
    }


# (name, minutes the server was down, pending before shutdown, expected active_at minute)
RESTORE_CASES = [
    ("shifted by the downtime", 5, 3, 0 + 5),
    ("firing when it went down stays as it was", 5, 20, 0),
    ("nearly due: waits at least the grace period", 50, 14, (14 + 50) + 10 - 15),
]


@pytest.mark.parametrize(
    ("down_minutes", "pending_minutes", "want_active_at"),
    [case[1:] for case in RESTORE_CASES],
    ids=[case[0] for case in RESTORE_CASES],
)
def test_restore_for_state_after_restart(
    down_minutes: int, pending_minutes: int, want_active_at: int
) -> None:
    """An alert pending (or firing) when the server stopped resumes from ALERTS_FOR_STATE."""
    storage = MemoryStorage()
    rules = _alert_rules("15m")
    before = _group(rules, storage)
    last = pending_minutes
    for minute in range(last + 1):
        storage.add(UP, minute * MIN, 0.0)
    for minute in range(last + 1):
        evaluate_group(before, minute * MIN)
    restart = last + down_minutes
    for minute in range(restart, restart + 2):
        storage.add(UP, minute * MIN, 0.0)
    after = _group(rules, storage, restored=False)
    evaluate_group(after, restart * MIN)
    restore_for_state(after, restart * MIN, storage.queryable, RuleManagerOptions())
    [alert] = after.alerting_rules()[0].active_alerts()
    assert alert.active_at_ms == want_active_at * MIN
