"""The notifier against a recording httpx transport: the v2 payload Prometheus sends, batching,
the bounded queue, Alertmanagers that fail, alert relabeling, resends, discovery, and the
hand-over from the rule manager."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from vigil.config.prometheus import Config, parse_config
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import Group, GroupOptions, RuleManager, engine_query_func, parse_rule_file
from vigil.rules.notifier import Notifier, NotifierOptions, PostableAlert
from vigil.rules.unittest import MemoryAppender
from vigil.tsdb import MemoryStorage

START = 1_700_000_040.0
T0 = int(START * 1000)
MIN = 60_000
UP = Labels.from_dict({"__name__": "up", "job": "node", "instance": "web:9100"})

RULES = """
groups:
  - name: g
    rules:
      - alert: Down
        expr: up == 0
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} is down"}
"""

ONE_AM = """
global:
  external_labels: {cluster: eu1}
alerting:
  alertmanagers:
    - static_configs: [{targets: ['am1:9093']}]
"""


class Recorder:
    """An httpx transport standing in for Alertmanagers; hosts in `down` refuse connections."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, list[dict[str, Any]]]] = []
        self.headers: list[httpx.Headers] = []
        self.down: set[str] = set()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host in self.down:
            raise httpx.ConnectError("connection refused", request=request)
        self.requests.append((str(request.url), json.loads(request.content)))
        self.headers.append(request.headers)
        return httpx.Response(200)

    def names(self, url: str) -> list[str]:
        return [a["labels"]["alertname"] for u, body in self.requests if u == url for a in body]


def _config(text: str, tmp_path: Path | None = None) -> Config:
    base = tmp_path if tmp_path is not None else Path("/nonexistent")
    return parse_config(text, str(base / "prometheus.yml"))


def _alert(name: str, **labels: str) -> PostableAlert:
    return PostableAlert(
        Labels.from_dict({"alertname": name, **labels}), Labels(), T0, T0 + 4 * MIN
    )


def _run(
    scenario: Callable[[Notifier, Recorder, CollectorRegistry], Awaitable[None]],
    config: str = ONE_AM,
    options: NotifierOptions | None = None,
) -> None:
    async def main() -> None:
        recorder = Recorder()
        registry = CollectorRegistry()
        notifier = Notifier(
            ManualClock(START), registry, options or NotifierOptions(), recorder.transport()
        )
        await notifier.apply(_config(config))
        try:
            await scenario(notifier, recorder, registry)
        finally:
            await notifier.stop()

    asyncio.run(main())


def _group(storage: MemoryStorage) -> Group:
    spec = parse_rule_file(RULES, "rules.yml").groups[0]
    engine = Engine(storage.queryable, EngineOptions(timeout_s=None))
    known: list[Labels] = []
    return Group(
        spec,
        GroupOptions(interval_ms=MIN),
        engine_query_func(engine),
        lambda: MemoryAppender(storage, known),
        logger=None,
    )


AM1 = "http://am1:9093/api/v2/alerts"


def test_firing_then_resolved_payload() -> None:
    async def scenario(notifier: Notifier, recorder: Recorder, _: CollectorRegistry) -> None:
        storage = MemoryStorage()
        group = _group(storage)
        storage.add(UP, T0, 0)
        group.evaluate(T0)
        notifier.notify_group(group, T0)
        await notifier.flush()
        storage.add(UP, T0 + MIN, 1)
        group.evaluate(T0 + MIN)
        notifier.notify_group(group, T0 + MIN)
        await notifier.flush()
        alert = {
            "annotations": {"summary": "web:9100 is down"},
            "endsAt": "2023-11-14T22:18:00.000Z",  # T0 + 4 × max(resend delay, interval)
            "startsAt": "2023-11-14T22:14:00.000Z",
            "generatorURL": "http://vigil.test:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
            "labels": {
                "alertname": "Down",
                "cluster": "eu1",
                "instance": "web:9100",
                "job": "node",
                "severity": "page",
            },
        }
        resolved = {**alert, "endsAt": "2023-11-14T22:15:00.000Z"}
        assert recorder.requests == [(AM1, [alert]), (AM1, [resolved])]
        assert recorder.headers[0]["content-type"] == "application/json"

    _run(scenario, options=NotifierOptions(external_url="http://vigil.test:9090"))


@pytest.mark.parametrize(
    ("resend_delay_ms", "sent_minutes", "valid_for_ms"),
    [(MIN, [0, 2, 4], 4 * MIN), (90_000, [0, 2, 4], 6 * MIN), (5 * MIN, [0], 20 * MIN)],
    ids=["resend 1m, every other minute", "resend 90s", "resend 5m"],
)
def test_resend_delay(resend_delay_ms: int, sent_minutes: list[int], valid_for_ms: int) -> None:
    """Prometheus resends a firing alert once the resend delay has strictly passed, with
    endsAt = now + 4 × max(resend delay, evaluation interval)."""

    async def scenario(notifier: Notifier, recorder: Recorder, _: CollectorRegistry) -> None:
        storage = MemoryStorage()
        group = _group(storage)
        sent: list[int] = []
        for minute in range(5):
            t = T0 + minute * MIN
            storage.add(UP, t, 0)
            group.evaluate(t)
            notifier.notify_group(group, t)
            if notifier.queue_length():
                sent.append(minute)
            await notifier.flush()
        assert sent == sent_minutes
        alert = group.alerting_rules()[0].active_alerts()[0]
        assert alert.valid_until_ms - alert.last_sent_ms == valid_for_ms

    _run(scenario, options=NotifierOptions(resend_delay_ms=resend_delay_ms))


def test_batches_of_at_most_64() -> None:
    async def scenario(notifier: Notifier, recorder: Recorder, reg: CollectorRegistry) -> None:
        notifier.send([_alert(f"a{i}") for i in range(130)])
        await notifier.flush()
        assert [len(body) for _, body in recorder.requests] == [64, 64, 2]
        assert recorder.names(AM1) == [f"a{i}" for i in range(130)]
        assert (
            reg.get_sample_value("prometheus_notifications_sent_total", {"alertmanager": AM1})
            == 130
        )

    _run(scenario)


def test_full_queue_drops_the_oldest() -> None:
    async def scenario(notifier: Notifier, recorder: Recorder, reg: CollectorRegistry) -> None:
        notifier.send([_alert(f"a{i}") for i in range(5)])
        notifier.send([_alert("b0")])
        assert reg.get_sample_value("prometheus_notifications_queue_length") == 3
        assert reg.get_sample_value("prometheus_notifications_queue_capacity") == 3
        assert reg.get_sample_value("prometheus_notifications_dropped_total") == 3
        await notifier.flush()
        assert recorder.names(AM1) == ["a3", "a4", "b0"]

    _run(scenario, options=NotifierOptions(queue_capacity=3))


TWO_AMS = """
alerting:
  alertmanagers:
    - static_configs: [{targets: ['am1:9093', 'am2:9093']}]
"""


def test_unreachable_alertmanager_counts_errors_and_recovers() -> None:
    am2 = "http://am2:9093/api/v2/alerts"

    async def scenario(notifier: Notifier, recorder: Recorder, reg: CollectorRegistry) -> None:
        def value(name: str, url: str | None = None) -> float | None:
            return reg.get_sample_value(name, {"alertmanager": url} if url else {})

        recorder.down = {"am1", "am2"}
        notifier.send([_alert("lost1"), _alert("lost2")])
        await notifier.flush()
        assert value("prometheus_notifications_errors_total", AM1) == 2
        assert value("prometheus_notifications_sent_total", AM1) == 0
        assert value("prometheus_notifications_dropped_total") == 2
        assert value("prometheus_notifications_latency_seconds_count", AM1) == 1

        recorder.down = {"am2"}  # one of a set taking the batch is enough: nothing dropped
        notifier.send([_alert("later")])
        await notifier.flush()
        assert recorder.names(AM1) == ["later"]
        assert value("prometheus_notifications_errors_total", am2) == 3
        assert value("prometheus_notifications_sent_total", AM1) == 1
        assert value("prometheus_notifications_dropped_total") == 2

    _run(scenario, config=TWO_AMS)


RELABELED = """
global:
  external_labels: {cluster: eu1, region: west}
alerting:
  alert_relabel_configs:
    - {source_labels: [severity], regex: none, action: drop}
  alertmanagers:
    - static_configs: [{targets: ['am1:9093']}]
    - static_configs: [{targets: ['am2:9093']}]
      alert_relabel_configs:
        - {source_labels: [team], regex: db, action: drop}
        - {target_label: via, replacement: am2}
"""


def test_alert_relabel_configs_and_external_labels() -> None:
    am2 = "http://am2:9093/api/v2/alerts"

    async def scenario(notifier: Notifier, recorder: Recorder, _: CollectorRegistry) -> None:
        notifier.send(
            [
                _alert("quiet", severity="none"),
                _alert("db", team="db", cluster="own"),
                _alert("web", team="web"),
            ]
        )
        await notifier.flush()
        labels = {
            (u, a["labels"]["alertname"]): a["labels"]
            for u, body in recorder.requests
            for a in body
        }
        assert labels == {
            (AM1, "db"): {"alertname": "db", "team": "db", "cluster": "own", "region": "west"},
            (AM1, "web"): {"alertname": "web", "team": "web", "cluster": "eu1", "region": "west"},
            (am2, "web"): {
                "alertname": "web",
                "team": "web",
                "cluster": "eu1",
                "region": "west",
                "via": "am2",
            },
        }

    _run(scenario, config=RELABELED)


def test_nothing_is_sent_without_alertmanagers() -> None:
    async def scenario(notifier: Notifier, recorder: Recorder, reg: CollectorRegistry) -> None:
        notifier.send([_alert("a")])
        await notifier.flush()
        assert recorder.requests == []
        assert reg.get_sample_value("prometheus_notifications_dropped_total") == 0
        assert reg.get_sample_value("prometheus_notifications_alertmanagers_discovered") == 0

    _run(scenario, config="global: {}\n")


async def _settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


def test_file_sd_alertmanagers_with_relabeling_and_path_prefix(tmp_path: Path) -> None:
    targets = tmp_path / "am.json"
    targets.write_text(json.dumps([{"targets": ["am1:9093", "skip:9093"]}]))
    config = f"""
alerting:
  alertmanagers:
    - path_prefix: /alertmanager/
      scheme: https
      file_sd_configs: [{{files: ['{targets}']}}]
      relabel_configs:
        - {{source_labels: [__address__], regex: 'skip:.*', action: drop}}
"""

    async def main() -> None:
        clock = ManualClock(START)
        registry = CollectorRegistry()
        notifier = Notifier(clock, registry, transport=Recorder().transport())
        await notifier.apply(_config(config, tmp_path))
        try:
            assert notifier.alertmanagers() == ["https://am1:9093/alertmanager/api/v2/alerts"]
            targets.write_text(json.dumps([{"targets": ["am2:9093", "am3:9093"]}]))
            await _settle()
            clock.advance(5)
            await _settle()
            assert notifier.alertmanagers() == [
                "https://am2:9093/alertmanager/api/v2/alerts",
                "https://am3:9093/alertmanager/api/v2/alerts",
            ]
            assert (
                registry.get_sample_value("prometheus_notifications_alertmanagers_discovered") == 2
            )
            gone = {"alertmanager": "https://am1:9093/alertmanager/api/v2/alerts"}
            assert registry.get_sample_value("prometheus_notifications_sent_total", gone) is None
        finally:
            await notifier.stop()

    asyncio.run(main())


def test_rule_manager_hands_alerts_to_the_running_notifier(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text(RULES)
    config = _config(ONE_AM + "rule_files: ['rules.yml']\n", tmp_path)

    async def main() -> None:
        clock = ManualClock(START)
        recorder = Recorder()
        notifier = Notifier(clock, transport=recorder.transport())
        storage = MemoryStorage()
        storage.add(UP, T0, 0)
        known: list[Labels] = []
        manager = RuleManager(
            engine_query_func(Engine(storage.queryable, EngineOptions(timeout_s=None))),
            lambda: MemoryAppender(storage, known),
            storage.queryable,
            clock,
            notify=notifier.notify_group,
            offload=inline,
        )
        await notifier.apply(config)
        notifier.start()
        manager.replace(manager.load(config))
        try:
            await _settle()
            deadline = clock.next_deadline()
            assert deadline is not None
            clock.set(deadline)
            for _ in range(200):
                if recorder.requests:
                    break
                await asyncio.sleep(0)
            assert recorder.names(AM1) == ["Down"]
        finally:
            await manager.stop()
            await notifier.stop()

    asyncio.run(main())


async def inline(work: Callable[[], None]) -> None:
    """Run an evaluation on the event loop: the manual clock then fully decides timing."""
    work()
