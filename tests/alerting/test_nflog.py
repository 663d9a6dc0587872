"""The notification log: Alertmanager 0.25's `needsUpdate` table, DedupStage + RecordStage over a
group's life (repeat_interval, resolved with and without send_resolved), retention, and the
versioned snapshot (round trip and damaged files)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from vigil.alerting import DedupStage, NotificationLog, ReceiverKey, RecordStage, SnapshotError
from vigil.alerting._api import Notification
from vigil.alerting.nflog import Entry, needs_update
from vigil.model.alert import Alert
from vigil.model.clock import ManualClock
from vigil.model.labels import Labels

T0 = 1_700_000_000.0
HOUR = 3600.0
SLACK = ReceiverKey("team", "slack", 0)


def entry(firing: set[int], resolved: set[int], at: float = T0 - 60) -> Entry:
    return Entry("{}:{}", SLACK, at, frozenset(firing), frozenset(resolved), at + HOUR)


# (last entry, firing now, resolved now, send_resolved, repeat_interval) -> send?
NEEDS_UPDATE = [
    ("first, firing", None, {1}, set(), False, HOUR, True),
    ("first, only resolved", None, set(), {1}, True, HOUR, False),
    ("first, nothing", None, set(), set(), True, HOUR, False),
    ("new firing alert", entry({1}, set()), {1, 2}, set(), False, HOUR, True),
    ("same firing", entry({1, 2}, set()), {1, 2}, set(), False, HOUR, False),
    ("fewer firing", entry({1, 2}, set()), {1}, set(), False, HOUR, False),
    ("fewer firing, resolved sent", entry({1, 2}, set()), {1}, {2}, True, HOUR, True),
    ("resolved already sent", entry({1}, {2}), {1}, {2}, True, HOUR, False),
    ("all resolved, no send_resolved", entry({1}, set()), set(), {1}, False, HOUR, True),
    ("all resolved, told before", entry(set(), {1}), set(), {1}, True, HOUR, False),
    ("fired and resolved in between", entry(set(), {1}), set(), {2}, True, HOUR, False),
    ("repeat due", entry({1}, set(), T0 - HOUR - 1), {1}, set(), False, HOUR, True),
    ("repeat exactly now", entry({1}, set(), T0 - HOUR), {1}, set(), False, HOUR, False),
    ("repeat not for resolved", entry(set(), {1}, T0 - 2 * HOUR), set(), {1}, True, HOUR, False),
]


@pytest.mark.parametrize(
    ("last", "firing", "resolved", "send_resolved", "repeat", "want"),
    [c[1:] for c in NEEDS_UPDATE],
    ids=[c[0] for c in NEEDS_UPDATE],
)
def test_needs_update(
    last: Entry | None,
    firing: set[int],
    resolved: set[int],
    send_resolved: bool,
    repeat: float,
    want: bool,
) -> None:
    got = needs_update(
        last,
        frozenset(firing),
        frozenset(resolved),
        send_resolved=send_resolved,
        repeat_interval=repeat,
        now=T0,
    )
    assert got is want


def _alert(name: str, ends_at: float = 0.0) -> Alert:
    return Alert(Labels.from_dict({"alertname": name}), starts_at=T0 - 600, ends_at=ends_at)


def _notification(now: float, *alerts: Alert) -> Notification:
    return Notification(
        receiver="team",
        group_key="{}:{}",
        group_labels=Labels(),
        alerts=alerts,
        now=now,
        deadline=now + 10,
        repeat_interval=4 * HOUR,
    )


@pytest.mark.parametrize("send_resolved", [True, False])
def test_dedup_and_record_over_a_group_life(send_resolved: bool) -> None:
    clock = ManualClock(T0)
    nflog = NotificationLog(clock)
    dedup = DedupStage(nflog, SLACK, send_resolved)
    record = RecordStage(nflog, SLACK)

    def flush(*alerts: Alert) -> bool:
        """One flush: dedup, "send", record; True when it was sent."""

        async def run() -> bool:
            passed = await dedup.exec(_notification(clock.now(), *alerts))
            if passed is None:
                return False
            await record.exec(passed)
            return True

        return asyncio.run(run())

    a, b = _alert("A"), _alert("B")
    sent = [flush(a)]  # first notification
    clock.advance(300)
    sent.append(flush(a))  # nothing new
    sent.append(flush(a, b))  # B joins
    clock.advance(300)
    b_resolved = _alert("B", ends_at=clock.now() - 1)
    sent.append(flush(a, b_resolved))  # B resolved: only with send_resolved
    clock.advance(4 * HOUR + 1)
    sent.append(flush(a, b_resolved))  # repeat interval passed
    a_resolved = _alert("A", ends_at=clock.now())  # resolved at exactly now
    sent.append(flush(a_resolved, b_resolved))  # all resolved: always told
    clock.advance(300)
    sent.append(flush(a_resolved, b_resolved))
    assert sent == [True, False, True, send_resolved, True, True, False]
    last = nflog.query("{}:{}", SLACK)
    assert last is not None
    assert (last.firing_alerts, last.resolved_alerts) == (
        frozenset(),
        frozenset({a.fingerprint, b.fingerprint}),
    )
    assert nflog.query("{}:{}", ReceiverKey("team", "slack", 1)) is None
    assert nflog.query("other", SLACK) is None


def test_log_keeps_an_entry_from_the_future(tmp_path: Path) -> None:
    nflog = NotificationLog(ManualClock(T0), retention=HOUR)
    nflog.log(SLACK, "g", [1], [])
    assert nflog.entries() == [Entry("g", SLACK, T0, frozenset({1}), frozenset(), T0 + HOUR)]
    nflog.snapshot(str(tmp_path / "nflog"))
    behind = NotificationLog(ManualClock(T0 - 10), retention=HOUR)  # a clock behind the log's
    behind.load(str(tmp_path / "nflog"))
    behind.log(SLACK, "g", [2], [])
    assert [e.firing_alerts for e in behind.entries()] == [frozenset({1})]


def test_gc_after_retention() -> None:
    clock = ManualClock(T0)
    nflog = NotificationLog(clock, retention=HOUR)
    nflog.log(SLACK, "old", [1], [])
    clock.advance(60)
    nflog.log(SLACK, "new", [1], [])
    clock.set(T0 + HOUR - 1)
    assert nflog.gc() == 0
    clock.set(T0 + HOUR)
    assert nflog.gc() == 1
    assert [e.group_key for e in nflog.entries()] == ["new"]


def test_snapshot_round_trip(tmp_path: Path) -> None:
    clock = ManualClock(T0)
    nflog = NotificationLog(clock)
    nflog.log(SLACK, '{}/{team="db"}:{alertname="X"}', [2**64 - 1, 7], [3])
    nflog.log(ReceiverKey("team", "webhook", 2), "g", [], [9])
    path = tmp_path / "nflog"
    assert nflog.snapshot(str(path)) == path.stat().st_size
    assert list(tmp_path.iterdir()) == [path]
    restored = NotificationLog(clock)
    assert restored.load(str(path)) is True
    assert restored.entries() == nflog.entries()
    assert NotificationLog(clock).load(str(tmp_path / "absent")) is False


def _doc(**entry_changes: object) -> str:
    entry_fields: dict[str, object] = {
        "group_key": "g",
        "receiver": "team",
        "integration": "slack",
        "index": 0,
        "timestamp": T0,
        "firing_alerts": [1],
        "resolved_alerts": [],
        "expires_at": T0 + HOUR,
    }
    entry_fields.update(entry_changes)
    return json.dumps({"version": 1, "kind": "nflog", "entries": [entry_fields]})


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            '{"version": 1, "kind": "nflog", "entries": [{"group_key": "g",',
            "line 1 column 63 (offset 62): Expecting property name",
        ),
        (_doc().replace('"kind": "nflog"', '"kind": "silences"'), "kind: this is a 'silences'"),
        (_doc().replace('"version": 1', '"version": "1"'), "version: unsupported snapshot"),
        (_doc(firing_alerts=[1, "2"]), "entries[0].firing_alerts: expected a list of integers"),
        (_doc(index=1.5), "entries[0].index: expected a non-negative integer, got 1.5"),
        (_doc(index=-1), "entries[0].index: expected a non-negative integer, got -1.0"),
        (_doc(timestamp=True), "entries[0].timestamp: expected a number, got True"),
        (_doc(receiver=None), "entries[0].receiver: expected a string, got None"),
    ],
)
def test_load_damaged_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "nflog"
    path.write_text(content)
    nflog = NotificationLog(ManualClock(T0))
    nflog.log(SLACK, "kept", [1], [])
    with pytest.raises(SnapshotError) as err:
        nflog.load(str(path))
    assert str(err.value).startswith(f"{path}: {message}")
    assert path.read_text() == content
    assert [e.group_key for e in nflog.entries()] == ["kept"]
