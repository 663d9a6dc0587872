"""The dispatcher and its aggregation groups on Alertmanager 0.25's timers, driven by a
ManualClock: what each flush carries and when, for a table of alert sequences."""

from __future__ import annotations

import asyncio
import itertools
import json
import textwrap
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import free_port, peer, running
from vigil.alerting._api import Notification, NotifyError
from vigil.alerting.dispatch import (
    AlertGroup,
    Dispatcher,
    DispatcherMetrics,
    labels_before,
    sort_alerts,
)
from vigil.alerting.route import Route, build_tree
from vigil.alerting.store import AlertStore
from vigil.model.alert import Alert
from vigil.model.clock import ManualClock
from vigil.model.labels import Labels
from vigil.notify.kinds import parse_config

START = 1_700_000_000.0

BY_NAME = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers: [{name: team}, {name: ops}]
"""


def _tree(config: str) -> Route:
    return build_tree(parse_config(textwrap.dedent(config), "am.yml"))


def _alert(name: str, **labels: str) -> Alert:
    return Alert(Labels.from_dict({"alertname": name, **labels}))


def _old(name: str, at: float, age: float, **labels: str) -> Alert:
    """Firing since `age` seconds before the post at offset `at`."""
    return Alert(Labels.from_dict({"alertname": name, **labels}), starts_at=START + at - age)


def _resolved(name: str, at: float, **labels: str) -> Alert:
    return Alert(Labels.from_dict({"alertname": name, **labels}), ends_at=START + at)


def _describe(alert: Alert, now: float) -> str:
    text = "/".join(value for _, value in alert.labels)
    return f"{text} resolved" if alert.resolved_at(now) else text


@dataclass(frozen=True)
class Flush:
    """One call of the pipeline: offset from START, receiver, group labels, alerts."""

    at: float
    receiver: str
    group: str
    alerts: tuple[str, ...]


class Recorder:
    """The pipeline stand-in: records each flush; fails those at the offsets in `fail_at`."""

    def __init__(self, fail_at: tuple[float, ...] = ()) -> None:
        self.fail_at = fail_at
        self.flushes: list[Flush] = []
        self.notifications: list[Notification] = []

    async def exec(self, notification: Notification) -> Notification | None:
        at = notification.now - START
        alerts = tuple(_describe(a, notification.now) for a in notification.alerts)
        self.flushes.append(
            Flush(at, notification.receiver, str(notification.group_labels), alerts)
        )
        self.notifications.append(notification)
        if at in self.fail_at:
            raise NotifyError("receiver down")
        return None


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


async def _run_until(
    clock: ManualClock,
    until: float,
    events: list[tuple[float, list[Alert]]],
    store: AlertStore,
) -> None:
    """Step the clock through every timer and event up to offset `until`; at one instant the
    timers due fire before the alerts posted then are stored."""
    pending = sorted(events, key=lambda e: e[0])
    while True:
        await _settle()
        times = [START + pending[0][0]] if pending else []
        deadline = clock.next_deadline()
        if deadline is not None:
            times.append(deadline)
        if not times or min(times) > START + until:
            return
        clock.set(min(times))
        await _settle()
        while pending and START + pending[0][0] <= clock.now():
            assert store.put(pending.pop(0)[1]) == []


@dataclass(frozen=True)
class Case:
    name: str
    events: list[tuple[float, list[Alert]]]
    want: list[Flush]
    config: str = BY_NAME
    until: float = 1000.0
    fail_at: tuple[float, ...] = ()
    resolve_timeout: float = 3600.0


def _f(at: float, group: str, *alerts: str, receiver: str = "team") -> Flush:
    return Flush(at, receiver, group, alerts)


GA = '{alertname="A"}'
GB = '{alertname="B"}'

CASES = [
    Case(
        "first flush after group_wait, then one every group_interval",
        [(0, [_alert("A")])],
        [_f(30, GA, "A"), _f(330, GA, "A"), _f(630, GA, "A"), _f(930, GA, "A")],
    ),
    Case(
        "an alert joining before the first flush goes with it",
        [(0, [_alert("A", instance="1")]), (20, [_alert("A", instance="2")])],
        [_f(30, GA, "A/1", "A/2"), _f(330, GA, "A/1", "A/2")],
        until=400,
    ),
    Case(
        "an alert joining a flushed group waits for the group_interval tick",
        [(0, [_alert("A", instance="1")]), (60, [_alert("A", instance="2")])],
        [_f(30, GA, "A/1"), _f(330, GA, "A/1", "A/2")],
        until=400,
    ),
    Case(
        "a resolved alert goes out at the next flush, then leaves the group",
        [(0, [_alert("A")]), (100, [_resolved("A", 100)])],
        [_f(30, GA, "A"), _f(330, GA, "A resolved")],
    ),
    Case(
        "resolve_timeout resolves an alert nobody updates",
        [(0, [_alert("A")])],
        [_f(30, GA, "A"), _f(330, GA, "A resolved")],
        resolve_timeout=200,
    ),
    Case(
        "a resolved alert stays while firing ones remain",
        [
            (0, [_alert("A", instance="1"), _alert("A", instance="2")]),
            (40, [_resolved("A", 40, instance="1")]),
        ],
        [
            _f(30, GA, "A/1", "A/2"),
            _f(330, GA, "A/1 resolved", "A/2"),
            _f(630, GA, "A/2"),
            _f(930, GA, "A/2"),
        ],
    ),
    Case(
        "a failed flush keeps the resolved alert for the next one",
        [(0, [_alert("A")]), (100, [_resolved("A", 100)])],
        [_f(30, GA, "A"), _f(330, GA, "A resolved"), _f(630, GA, "A resolved")],
        fail_at=(330,),
    ),
    Case(
        "group_by: [alertname] makes one group per name",
        [
            (0, [_alert("A", instance="1"), _alert("B", instance="1")]),
            (5, [_alert("A", instance="2")]),
        ],
        [_f(30, GA, "A/1", "A/2"), _f(30, GB, "B/1")],
        until=100,
    ),
    Case(
        "group_by: ['...'] makes one group per label set",
        [(0, [_alert("A", instance="1"), _alert("A", instance="2")])],
        [
            _f(30, '{alertname="A", instance="1"}', "A/1"),
            _f(30, '{alertname="A", instance="2"}', "A/2"),
        ],
        config="""
        route: {receiver: team, group_by: ['...'], group_wait: 30s}
        receivers: [{name: team}]
        """,
        until=100,
    ),
    Case(
        "no group_by: one group for all",
        [(0, [_alert("A"), _alert("B")])],
        [_f(30, "{}", "A", "B")],
        config="""
        route: {receiver: team, group_wait: 30s}
        receivers: [{name: team}]
        """,
        until=100,
    ),
    Case(
        "continue routes: one group per matching route",
        [(0, [_alert("A"), _alert("B")])],
        [_f(30, GA, "A", receiver="ops"), _f(30, GA, "A"), _f(30, GB, "B")],
        config="""
        route:
          receiver: team
          group_by: [alertname]
          group_wait: 30s
          routes:
            - {matchers: [alertname="A"], receiver: team, continue: true}
            - {matchers: [alertname="A"], receiver: ops}
        receivers: [{name: team}, {name: ops}]
        """,
        until=100,
    ),
    Case(
        "an alert that started more than group_wait ago flushes at once",
        [(100, [_old("A", 100, age=3600)])],
        [_f(100, GA, "A"), _f(400, GA, "A"), _f(700, GA, "A")],
        until=800,
    ),
    Case(
        "an old alert joining a group that has not flushed brings the flush forward",
        [(0, [_alert("A", instance="1")]), (10, [_old("A", 10, age=60, instance="2")])],
        [_f(10, GA, "A/1", "A/2"), _f(310, GA, "A/1", "A/2")],
        until=400,
    ),
    Case(
        "an old alert joining a flushed group waits for the tick",
        [(0, [_alert("A", instance="1")]), (40, [_old("A", 40, age=600, instance="2")])],
        [_f(30, GA, "A/1"), _f(330, GA, "A/1", "A/2")],
        until=400,
    ),
    Case(
        "an emptied group lingers until maintenance: a newcomer waits for its tick",
        [(0, [_alert("A")]), (100, [_resolved("A", 100)]), (340, [_alert("A", instance="2")])],
        [_f(30, GA, "A"), _f(330, GA, "A resolved"), _f(630, GA, "A/2")],
        until=700,
    ),
    Case(
        "after maintenance dropped the emptied group a newcomer waits group_wait",
        [(0, [_alert("A")]), (100, [_resolved("A", 100)]), (400, [_alert("A", instance="2")])],
        [_f(30, GA, "A"), _f(330, GA, "A resolved"), _f(430, GA, "A/2")],
        until=700,
    ),
    Case(
        "alerts sorted by job, then instance, then label set (larger name first)",
        [
            (
                0,
                [
                    _alert("Z", job="b"),
                    _alert("V", bar="b"),
                    _alert("X", instance="i1"),
                    _alert("W"),
                    _alert("Y", job="a"),
                    _alert("V", foo="f"),
                ],
            )
        ],
        [_f(30, "{}", "Y/a", "Z/b", "X/i1", "W", "V/f", "V/b")],
        config="""
        route: {receiver: team, group_wait: 30s}
        receivers: [{name: team}]
        """,
        until=100,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_flush_schedule(case: Case) -> None:
    async def scenario() -> list[Flush]:
        clock = ManualClock(START)
        store = AlertStore(clock, case.resolve_timeout)
        recorder = Recorder(case.fail_at)
        dispatcher = Dispatcher(_tree(case.config), store, recorder, clock)
        dispatcher.start()
        await _run_until(clock, case.until, case.events, store)
        await dispatcher.stop()
        return recorder.flushes

    flushes = asyncio.run(scenario())
    assert sorted(flushes, key=lambda f: (f.at, f.group, f.receiver)) == case.want


def test_notification_carries_the_routes_options() -> None:
    config = """
    route:
      receiver: team
      group_by: [alertname]
      group_wait: 1s
      group_interval: 4s
      repeat_interval: 2h
      routes:
        - matchers: [alertname="A"]
          group_interval: 1m
          mute_time_intervals: [nights]
          active_time_intervals: [days]
    receivers: [{name: team}]
    time_intervals:
      - {name: nights, time_intervals: [{times: [{start_time: "00:00", end_time: "06:00"}]}]}
      - {name: days, time_intervals: [{weekdays: [monday]}]}
    """

    async def scenario() -> list[Notification]:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        recorder = Recorder()
        dispatcher = Dispatcher(_tree(config), store, recorder, clock)
        dispatcher.start()
        await _run_until(clock, 2, [(0, [_alert("A", job="j"), _alert("B")])], store)
        await dispatcher.stop()
        return sorted(recorder.notifications, key=lambda n: n.group_key)

    first, second = asyncio.run(scenario())
    a = Alert(
        Labels.from_dict({"alertname": "A", "job": "j"}),
        starts_at=START,
        updated_at=START,
        timeout=True,
    )
    assert first == Notification(
        receiver="team",
        group_key='{}/{alertname="A"}:{alertname="A"}',
        group_labels=Labels.from_dict({"alertname": "A"}),
        alerts=(a,),
        now=START + 1,
        deadline=START + 1 + 60,
        repeat_interval=7200.0,
        mute_time_intervals=("nights",),
        active_time_intervals=("days",),
    )
    assert (second.group_key, second.deadline - second.now) == ('{}:{alertname="B"}', 10.0)


class Blocking:
    """A pipeline whose flushes with a resolved alert (or all, with `every`) wait until
    released; records the offset and alerts of each flush and how many were cancelled."""

    def __init__(self, *, every: bool = False) -> None:
        self.every = every
        self.release = asyncio.Event()
        self.seen: list[tuple[float, tuple[str, ...]]] = []
        self.cancelled = 0

    async def exec(self, notification: Notification) -> Notification | None:
        now = notification.now
        self.seen.append((now - START, tuple(_describe(a, now) for a in notification.alerts)))
        if self.every or any(a.resolved_at(now) for a in notification.alerts):
            try:
                await self.release.wait()
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return None


def test_an_alert_that_fires_again_during_a_flush_is_not_dropped() -> None:
    async def scenario() -> list[tuple[float, tuple[str, ...]]]:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        stage = Blocking()
        dispatcher = Dispatcher(_tree(BY_NAME), store, stage, clock)
        dispatcher.start()
        await _run_until(clock, 330, [(0, [_alert("A")]), (100, [_resolved("A", 100)])], store)
        clock.set(START + 331)  # the 330 s flush with A resolved is still in progress
        store.put([_alert("A")])
        stage.release.set()
        await _run_until(clock, 700, [], store)
        await dispatcher.stop()
        return stage.seen

    assert asyncio.run(scenario()) == [(30, ("A",)), (330, ("A resolved",)), (630, ("A",))]


def test_a_flush_that_overruns_its_deadline_fails_and_the_missed_tick_follows() -> None:
    config = """
    route: {receiver: team, group_by: [alertname], group_wait: 1s, group_interval: 5s}
    receivers: [{name: team}]
    """

    async def scenario() -> tuple[list[tuple[float, tuple[str, ...]]], list[int]]:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        stage = Blocking()
        dispatcher = Dispatcher(_tree(config), store, stage, clock)
        dispatcher.start()
        store.put([_alert("A", instance="1"), _resolved("A", 0, instance="2")])
        cancelled = []
        await _run_until(clock, 10.5, [], store)  # the 1 s flush hangs...
        cancelled.append(stage.cancelled)
        await _run_until(clock, 11, [], store)  # ...until its deadline, 10 s later
        cancelled.append(stage.cancelled)
        stage.release.set()
        await _run_until(clock, 17, [], store)
        await dispatcher.stop()
        return stage.seen, cancelled

    seen, cancelled = asyncio.run(scenario())
    assert (seen, cancelled) == (
        [(1, ("A/1", "A/2 resolved")), (6, ("A/1", "A/2 resolved")), (16, ("A/1",))],
        [0, 1],
    )


def test_stop_cancels_flushes_in_progress_and_leaves_no_task() -> None:
    async def scenario() -> tuple[int, int, int]:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        stage = Blocking(every=True)
        dispatcher = Dispatcher(_tree(BY_NAME), store, stage, clock)
        dispatcher.start()
        store.put([_alert("A"), _alert("B")])
        clock.set(START + 30)
        await _settle()
        await dispatcher.stop()
        store.put([_alert("C")])  # no longer subscribed
        await _settle()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        return stage.cancelled, len(others), len(dispatcher.groups()[0])

    assert asyncio.run(scenario()) == (2, 0, 2)


def test_alerts_stored_before_start_are_grouped() -> None:
    async def scenario() -> list[Flush]:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        store.put([_alert("A"), _old("B", 0, age=600)])
        recorder = Recorder()
        dispatcher = Dispatcher(_tree(BY_NAME), store, recorder, clock)
        clock.set(START + 10)
        dispatcher.start()
        await _run_until(clock, 50, [], store)
        await dispatcher.stop()
        return recorder.flushes

    assert asyncio.run(scenario()) == [_f(10, GB, "B"), _f(40, GA, "A")]


GROUPS_CONFIG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  routes:
    - {matchers: [severity="page"], receiver: ops, continue: true}
    - {matchers: [severity="page"], receiver: team}
receivers: [{name: team}, {name: ops}]
"""


def _groups(
    route_filter: Callable[[Route], bool] | None = None,
    alert_filter: Callable[[Alert, float], bool] | None = None,
) -> tuple[list[tuple[str, str, str, list[str]]], dict[str, tuple[str, ...]]]:
    async def scenario() -> tuple[list[AlertGroup], dict[int, tuple[str, ...]], dict[int, str]]:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        dispatcher = Dispatcher(_tree(GROUPS_CONFIG), store, Recorder(), clock)
        dispatcher.start()
        store.put(
            [
                _alert("B", severity="page", instance="2"),
                _alert("B", severity="page", instance="1"),
                _alert("A", severity="page"),
                _alert("A", severity="info"),
                _resolved("C", -5, severity="info"),
            ]
        )
        groups, receivers = dispatcher.groups(route_filter, alert_filter)
        names = {a.fingerprint: "/".join(v for _, v in a.labels) for a in store.list()}
        await dispatcher.stop()
        return groups, receivers, names

    groups, receivers, names = asyncio.run(scenario())
    shown = [
        (
            str(g.labels),
            g.receiver,
            g.group_key,
            ["/".join(v for _, v in a.labels) for a in g.alerts],
        )
        for g in groups
    ]
    return shown, {names[fp]: r for fp, r in receivers.items()}


def test_groups_lists_every_group_in_alertmanagers_order() -> None:
    page = '{}/{severity="page"}'
    assert _groups() == (
        [
            ('{alertname="A"}', "ops", f'{page}:{{alertname="A"}}', ["A/page"]),
            ('{alertname="A"}', "team", f'{page}:{{alertname="A"}}', ["A/page"]),
            ('{alertname="A"}', "team", '{}:{alertname="A"}', ["A/info"]),
            ('{alertname="B"}', "ops", f'{page}:{{alertname="B"}}', ["B/1/page", "B/2/page"]),
            ('{alertname="B"}', "team", f'{page}:{{alertname="B"}}', ["B/1/page", "B/2/page"]),
            ('{alertname="C"}', "team", '{}:{alertname="C"}', ["C/info"]),
        ],
        {
            "A/page": ("ops", "team"),
            "A/info": ("team",),
            "B/2/page": ("ops", "team"),
            "B/1/page": ("ops", "team"),
            "C/info": ("team",),
        },
    )


def test_groups_filters() -> None:
    only_ops, _ = _groups(route_filter=lambda r: r.receiver == "ops")
    firing, receivers = _groups(alert_filter=lambda a, now: not a.resolved_at(now))
    assert [(g[1], g[3]) for g in only_ops] == [
        ("ops", ["A/page"]),
        ("ops", ["B/1/page", "B/2/page"]),
    ]
    assert "C/info" not in receivers
    assert [g[3] for g in firing if g[0] == '{alertname="C"}'] == []


def test_metrics_count_groups_and_processed_alerts() -> None:
    async def scenario() -> list[float | None]:
        registry = CollectorRegistry()
        metrics = DispatcherMetrics(registry)
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        dispatcher = Dispatcher(_tree(BY_NAME), store, Recorder(), clock, metrics=metrics)
        dispatcher.start()
        store.put([_alert("A"), _alert("B"), _alert("A", instance="2")])
        store.put([_resolved("B", 10)])

        def sample(name: str) -> float | None:
            return registry.get_sample_value(name)

        created = sample("alertmanager_dispatcher_aggregation_groups")
        await _run_until(clock, 100, [], store)  # B's group empties at 30 s, then goes
        left = sample("alertmanager_dispatcher_aggregation_groups")
        processed = sample("alertmanager_dispatcher_alert_processing_duration_seconds_count")
        await dispatcher.stop()
        return [created, left, processed]

    assert asyncio.run(scenario()) == [2.0, 1.0, 4.0]


# (a, b, whether a sorts before b) — Prometheus's LabelSet.Before
BEFORE_CASES = [
    ({"a": "1"}, {"a": "1", "b": "1"}, True),
    ({"a": "1", "b": "1"}, {"a": "1"}, False),
    ({"a": "1"}, {"a": "2"}, True),
    ({"a": "1", "c": "1"}, {"a": "1", "b": "1"}, True),
    ({"a": "1", "b": "1"}, {"a": "1", "c": "1"}, False),
    ({"b": "1"}, {"a": "9"}, True),
    ({"a": "1"}, {"a": "1"}, False),
]


@pytest.mark.parametrize(("a", "b", "want"), BEFORE_CASES)
def test_labels_before(a: dict[str, str], b: dict[str, str], want: bool) -> None:
    assert labels_before(Labels.from_dict(a), Labels.from_dict(b)) is want


def test_sort_alerts_is_stable_for_equal_keys() -> None:
    first = Alert(Labels.from_dict({"job": "x"}), starts_at=1.0)
    second = Alert(Labels.from_dict({"job": "x"}), starts_at=2.0)
    assert sort_alerts([second, first]) == [second, first]


# --------------------------------------------------------------------------- side by side

SIDE_BY_SIDE_CONFIG = """
global: {{resolve_timeout: 1h}}
route:
  receiver: capture
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1s
receivers:
  - name: capture
    webhook_configs: [{{url: "http://127.0.0.1:{port}/hook", send_resolved: true}}]
"""

# (offset in seconds, alerts posted then); every flush of this sequence passes Alertmanager's
# dedup (repeat_interval < group_interval), so its webhook hears exactly the dispatcher's flushes
SIDE_BY_SIDE_EVENTS: list[tuple[float, list[Alert]]] = [
    (
        0.0,
        [
            _alert("A", instance="1"),
            _alert("C", job="b"),
            _alert("C", job="a"),
            _alert("C", instance="i"),
            _alert("C"),
            _alert("C", bar="b"),
            _alert("C", foo="f"),
        ],
    ),
    (1.5, [_alert("A", instance="2")]),
    (3.5, [_resolved("A", 3.5, instance="1"), _old("B", 3.5, age=3600)]),
]
SIDE_BY_SIDE_UNTIL = 7.9

Delivery = tuple[str, float, tuple[tuple[str, str], ...]]


def _alertmanager_deliveries(tmp_path: Path) -> list[Delivery]:
    """The webhook deliveries of the real Alertmanager 0.25 fed SIDE_BY_SIDE_EVENTS in real
    time: (group key, offset, ((labels, status), ...))."""
    received: list[tuple[float, dict[str, Any]]] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            received.append((time.monotonic(), json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    config = tmp_path / "alertmanager.yml"
    config.write_text(SIDE_BY_SIDE_CONFIG.format(port=hook.server_address[1]))
    port = free_port()
    args = [
        peer("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    try:
        with running(args, f"http://127.0.0.1:{port}/-/ready"), httpx.Client(timeout=5) as client:
            start = time.monotonic()
            wall = time.time()
            for offset, alerts in SIDE_BY_SIDE_EVENTS:
                time.sleep(max(0.0, start + offset - time.monotonic()))
                body = [_postable(alert, wall) for alert in alerts]
                response = client.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=body)
                assert response.status_code == 200, response.text
            time.sleep(max(0.0, start + SIDE_BY_SIDE_UNTIL - time.monotonic()))
    finally:
        hook.shutdown()
        hook.server_close()
    return [
        (
            payload["groupKey"],
            at - start,
            tuple((_labels_text(a["labels"]), a["status"]) for a in payload["alerts"]),
        )
        for at, payload in received
        if at - start <= SIDE_BY_SIDE_UNTIL
    ]


def _postable(alert: Alert, wall: float) -> dict[str, Any]:
    """The alert as a POST body, its times (offsets from START) moved to the real clock."""
    body: dict[str, Any] = {"labels": dict(alert.labels)}
    for key, value in (("startsAt", alert.starts_at), ("endsAt", alert.ends_at)):
        if value:
            stamp = datetime.fromtimestamp(value - START + wall, UTC)
            body[key] = stamp.isoformat().replace("+00:00", "Z")
    return body


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def _vigil_deliveries() -> list[Delivery]:
    async def scenario() -> list[Notification]:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        recorder = Recorder()
        config = SIDE_BY_SIDE_CONFIG.format(port=9)
        dispatcher = Dispatcher(_tree(config), store, recorder, clock)
        dispatcher.start()
        await _run_until(clock, SIDE_BY_SIDE_UNTIL, SIDE_BY_SIDE_EVENTS, store)
        await dispatcher.stop()
        return recorder.notifications

    return [
        (
            n.group_key,
            n.now - START,
            tuple(
                (_labels_text(dict(a.labels)), "resolved" if a.resolved_at(n.now) else "firing")
                for a in n.alerts
            ),
        )
        for n in asyncio.run(scenario())
    ]


@pytest.mark.slow
def test_flushes_match_the_real_alertmanager(tmp_path: Path) -> None:
    """vigil's dispatcher runs on a manual clock; the real Alertmanager runs in real time, so
    a busy machine can delay its POSTs or webhooks past a timer. Its run is repeated (up to
    three times) until one matches; a real difference fails every run."""
    ours = sorted(_vigil_deliveries(), key=lambda d: (d[0], d[1]))
    differences: list[object] = []
    for attempt in range(3):
        run = tmp_path / str(attempt)
        run.mkdir()
        theirs = sorted(_alertmanager_deliveries(run), key=lambda d: (d[0], d[1]))
        # same deliveries, in the same order per group, with the same alerts in the same order,
        # at the same times, give or take the real one's scheduling and HTTP latency
        same = [(key, alerts) for key, _, alerts in ours] == [
            (key, alerts) for key, _, alerts in theirs
        ]
        late = [(o, t) for o, t in zip(ours, theirs, strict=False) if not 0 <= t[1] - o[1] < 0.4]
        if same and not late:
            return
        differences.append((ours, theirs))
    raise AssertionError(f"no run of Alertmanager 0.25 matched vigil's: {differences}")


def test_groups_flushing_together_take_turns_with_the_event_loop() -> None:
    """Twenty groups whose group_wait ends at the same instant: between two of their
    notifications another task gets to run (1,000 groups of a bulk POST used to hold the
    event loop for all of their flushes at once)."""

    class Stage:
        async def exec(self, notification: Notification) -> Notification | None:
            events.append("flush")
            return None

    async def scenario() -> None:
        clock = ManualClock(START)
        store = AlertStore(clock, 3600.0)
        dispatcher = Dispatcher(_tree(BY_NAME), store, Stage(), clock)
        dispatcher.start()
        store.put([_alert(f"A{i}") for i in range(20)])
        done = asyncio.Event()

        async def other_task() -> None:
            while not done.is_set():
                events.append("other")
                await asyncio.sleep(0)

        task = asyncio.create_task(other_task())
        await _settle()
        events.clear()
        clock.advance(30)
        while events.count("flush") < 20:
            await asyncio.sleep(0)
        done.set()
        await task
        await dispatcher.stop()

    events: list[str] = []
    asyncio.run(scenario())
    flushes = [i for i, event in enumerate(events) if event == "flush"]
    assert len(flushes) == 20
    assert [b - a > 1 for a, b in itertools.pairwise(flushes)] == [True] * 19
