"""The rule manager's loop on a driven clock (slots, restore pass, missed iterations) and the
/api/v1/rules and /api/v1/alerts routes over it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.config.prometheus import parse_config
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import RuleFileError, RuleManager, engine_query_func, evaluate_group
from vigil.tsdb import MemoryAppender, MemoryStorage
from vigil.web.rules import RulesAPI

RULES = """
groups:
  - name: node
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 1m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} is down ({{ $value }})"}
  - name: other
    interval: 30s
    rules:
      - record: one
        expr: vector(1)
"""

START = 1_700_000_000.0


def _manager(tmp_path: Path, clock: ManualClock) -> tuple[RuleManager, MemoryStorage, Any]:
    (tmp_path / "rules.yml").write_text(RULES)
    config = parse_config(
        "global: {evaluation_interval: 1m}\nrule_files: ['rules.yml']\n",
        str(tmp_path / "prometheus.yml"),
    )
    storage = MemoryStorage()
    known: list[Labels] = []
    registry = CollectorRegistry()
    manager = RuleManager(
        engine_query_func(Engine(storage.queryable, EngineOptions(timeout_s=None))),
        lambda: MemoryAppender(storage, known),
        storage.queryable,
        clock,
        registry=registry,
        offload=inline,
    )
    manager.replace(manager.load(config))
    return manager, storage, registry


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_groups_run_in_their_slots_and_count_missed_iterations(tmp_path: Path) -> None:
    async def scenario() -> None:
        clock = ManualClock(START)
        manager, _, registry = _manager(tmp_path, clock)
        node = manager.groups()[0]
        interval_ns = 60 * 10**9
        first_ns = node.eval_timestamp_ns(int(START * 1e9)) + interval_ns
        assert first_ns % interval_ns == node.slot_hash() % interval_ns
        await _settle()
        assert node.last_evaluation_ms is None
        clock.set(first_ns / 1e9)
        await _settle()
        assert node.last_evaluation_ms == first_ns // 10**6
        clock.set((first_ns + interval_ns) / 1e9)  # the second pass, then restore
        await _settle()
        assert node.last_evaluation_ms == (first_ns + interval_ns) // 10**6
        assert all(rule.restored for rule in node.alerting_rules())
        clock.set((first_ns + 4 * interval_ns + 10**9) / 1e9)  # two slots slept through
        await _settle()
        assert node.last_evaluation_ms == (first_ns + 4 * interval_ns) // 10**6
        labels = {"rule_group": node.key}
        missed = registry.get_sample_value("prometheus_rule_group_iterations_missed_total", labels)
        total = registry.get_sample_value("prometheus_rule_group_iterations_total", labels)
        assert (missed, total) == (2.0, 5.0)
        await manager.stop()

    asyncio.run(scenario())


def _client(tmp_path: Path) -> tuple[TestClient, RuleManager]:
    async def build() -> RuleManager:
        manager, storage, _ = _manager(tmp_path, ManualClock(START))
        await manager.stop()
        storage.add(Labels.from_dict({"__name__": "up", "job": "node"}), 0, 0.0)
        for group in manager.groups():
            evaluate_group(group, 0)
        return manager

    manager = asyncio.run(build())
    app = Starlette(routes=RulesAPI(manager).routes())
    return TestClient(app), manager


def test_rules_api_shape(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    body = client.get("/api/v1/rules").json()
    assert body["status"] == "success"
    node, other = body["data"]["groups"]
    assert (node["name"], node["file"], node["interval"], node["limit"]) == (
        "node",
        str(tmp_path / "rules.yml"),
        60.0,
        0,
    )
    assert other["interval"] == 30.0
    record, alert = node["rules"]
    assert {k: record[k] for k in ("name", "query", "labels", "health", "type")} == {
        "name": "job:up:sum",
        "query": "sum by (job) (up)",
        "labels": {},
        "health": "ok",
        "type": "recording",
    }
    assert record["lastEvaluation"] == "1970-01-01T00:00:00Z"
    assert "lastError" not in record
    assert {k: v for k, v in alert.items() if k not in ("evaluationTime", "lastEvaluation")} == {
        "state": "pending",
        "name": "Down",
        "query": "up == 0",
        "duration": 60.0,
        "keepFiringFor": 0.0,
        "labels": {"severity": "page"},
        "annotations": {"summary": "{{ $labels.job }} is down ({{ $value }})"},
        "alerts": [
            {
                "labels": {"alertname": "Down", "job": "node", "severity": "page"},
                "annotations": {"summary": "node is down (0)"},
                "state": "pending",
                "activeAt": "1970-01-01T00:00:00Z",
                "value": "0e+00",
            }
        ],
        "health": "ok",
        "type": "alerting",
    }


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ("type=alert", {"node": ["Down"]}),
        ("type=record", {"node": ["job:up:sum"], "other": ["one"]}),
        ("rule_name[]=one", {"other": ["one"]}),
        ("group_name[]=node", {"node": ["job:up:sum", "Down"]}),
        ("file[]=nope.yml", {}),
    ],
)
def test_rules_api_filters(tmp_path: Path, query: str, want: dict[str, list[str]]) -> None:
    client, _ = _client(tmp_path)
    groups = client.get(f"/api/v1/rules?{query}").json()["data"]["groups"]
    assert {g["name"]: [r["name"] for r in g["rules"]] for g in groups} == want


def test_rules_api_rejects_unknown_type(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    response = client.get("/api/v1/rules?type=bogus")
    assert (response.status_code, response.json()["errorType"]) == (400, "bad_data")


def test_alerts_api(tmp_path: Path) -> None:
    client, _ = _client(tmp_path)
    body = client.get("/api/v1/alerts").json()
    assert body == {
        "status": "success",
        "data": {
            "alerts": [
                {
                    "labels": {"alertname": "Down", "job": "node", "severity": "page"},
                    "annotations": {"summary": "node is down (0)"},
                    "state": "pending",
                    "activeAt": "1970-01-01T00:00:00Z",
                    "value": "0e+00",
                }
            ]
        },
    }


async def inline(work: Callable[[], None]) -> None:
    """Run an evaluation on the event loop: the manual clock then fully decides timing."""
    work()


def test_evaluation_runs_off_the_event_loop(tmp_path: Path) -> None:
    """A slow group must not stall the loop that scrapes and serves the API."""
    release = threading.Event()

    class SlowGroup:
        key = "slow"

        def evaluate(self, t_ms: int) -> None:
            assert release.wait(10), "the event loop never got to run"

    async def scenario() -> None:
        manager, _, _ = _manager(tmp_path, ManualClock(START))
        await manager.stop()
        unblocked = RuleManager(
            manager._query, manager._appendable, manager._queryable, ManualClock(START)
        )
        evaluation = asyncio.ensure_future(unblocked._iterate(SlowGroup(), 0))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)  # the loop keeps running while the group evaluates
        release.set()
        await asyncio.wait_for(evaluation, 10)

    asyncio.run(scenario())


class _FullDisk(MemoryAppender):
    """A MemoryAppender whose commits fail like a full disk's while `full[0]`."""

    def __init__(self, storage: MemoryStorage, series: list[Labels], full: list[bool]) -> None:
        super().__init__(storage, series)
        self._full = full

    def commit(self) -> None:
        if self._full[0]:
            self.rollback()
            raise OSError(28, "No space left on device")
        super().commit()


def test_alerts_reach_the_notifier_while_the_storage_refuses_their_series(
    tmp_path: Path,
) -> None:
    """A full disk must not stop the rules that report it: each evaluation still hands its
    alerts over, and the series are stored again once the disk has room."""

    async def scenario() -> tuple[list[tuple[int, list[str]]], list[str]]:
        clock = ManualClock(START)
        (tmp_path / "rules.yml").write_text(
            "groups:\n  - name: self\n    rules:\n      - alert: Always\n        expr: vector(1)\n"
        )
        config = parse_config(
            "global: {evaluation_interval: 1m}\nrule_files: ['rules.yml']\n",
            str(tmp_path / "prometheus.yml"),
        )
        storage, known, full = MemoryStorage(), list[Labels](), [True]
        handed: list[tuple[int, list[str]]] = []

        def notify(group: Any, t_ms: int) -> None:
            handed.append(
                (
                    t_ms,
                    [
                        a.labels.get("alertname")
                        for r in group.alerting_rules()
                        for a in r.active_alerts()
                    ],
                )
            )

        manager = RuleManager(
            engine_query_func(Engine(storage.queryable, EngineOptions(timeout_s=None))),
            lambda: _FullDisk(storage, known, full),
            storage.queryable,
            clock,
            notify=notify,
            offload=inline,
        )
        manager.replace(manager.load(config))
        group = manager.groups()[0]
        first_ns = group.eval_timestamp_ns(int(START * 1e9)) + 60 * 10**9
        await _settle()  # the group's task computes its first slot from START
        for k in range(5):  # ALERTS are written from the third, once `for` state is restored
            if k == 4:
                full[0] = False
            clock.set((first_ns + k * 60 * 10**9) / 1e9)
            await _settle()
        await manager.stop()
        stored = sorted(s.labels.get("__name__") for s in storage.queryable(0, 10**13).select([]))
        return handed, stored

    handed, stored = asyncio.run(scenario())
    first_ms = handed[0][0]
    assert (handed, stored) == (
        [(first_ms + 60_000 * k, ["Always"]) for k in range(5)],
        ["ALERTS", "ALERTS_FOR_STATE"],
    )


UNPARSED = """
groups:
  - name: g
    rules:
      - alert: Unclosed
        expr: vector(1
        annotations: {summary: "{{ $labels.job "}
"""


@pytest.mark.parametrize(
    ("files", "loaded"),
    [
        ("config", "RuleFileError"),
        ("packaged_rule_files", "Unclosed"),  # the pack is its tests' to parse
    ],
)
def test_only_the_configs_own_rule_files_are_parsed_at_load(
    tmp_path: Path, files: str, loaded: str
) -> None:
    (tmp_path / "rules.yml").write_text(UNPARSED)
    named = "['rules.yml']" if files == "config" else "[]"
    config = parse_config(f"rule_files: {named}\n", str(tmp_path / "prometheus.yml"))
    storage = MemoryStorage()
    packaged = {files: [str(tmp_path / "rules.yml")]} if files != "config" else {}
    manager = RuleManager(
        engine_query_func(Engine(storage.queryable, EngineOptions(timeout_s=None))),
        lambda: MemoryAppender(storage, []),
        storage.queryable,
        ManualClock(START),
        **packaged,
    )
    try:
        found = [rule.name for group in manager.load(config) for rule in group.rules]
    except RuleFileError as err:
        found = [type(err).__name__]
    assert found == [loaded]
