"""The notification log: what was last sent for each (aggregation group, receiver integration),
so that a flush re-sends only when something changed or `repeat_interval` has passed
(Alertmanager 0.25's nflog, `DedupStage` and `SetNotifiesStage`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vigil.alerting._api import Notification
from vigil.alerting._snapshot import Record, read_snapshot, write_snapshot
from vigil.model.alert import Alert
from vigil.model.clock import Clock

DEFAULT_RETENTION = 120 * 3600.0
"""Alertmanager's `--data.retention` default (120 h)."""

_SNAPSHOT_KIND = "nflog"


@dataclass(frozen=True, slots=True, order=True)
class ReceiverKey:
    """One integration of one receiver: Alertmanager's `nflogpb.Receiver` (group name is the
    receiver's name, `integration` its kind such as "slack", `index` its position among the
    receiver's integrations of that kind)."""

    receiver: str
    integration: str
    index: int

    def __str__(self) -> str:
        return f"{self.receiver}/{self.integration}/{self.index}"


@dataclass(frozen=True, slots=True)
class Entry:
    """The last notification of one group to one integration, by alert fingerprints."""

    group_key: str
    receiver: ReceiverKey
    timestamp: float
    firing_alerts: frozenset[int]
    resolved_alerts: frozenset[int]
    expires_at: float


class NotificationLog:
    """Entries keyed by (group key, receiver integration); an entry lives `retention` after
    it was written, then `gc` drops it."""

    def __init__(self, clock: Clock, retention: float = DEFAULT_RETENTION) -> None:
        self._clock = clock
        self._retention = retention
        self._entries: dict[tuple[str, ReceiverKey], Entry] = {}

    def log(
        self,
        receiver: ReceiverKey,
        group_key: str,
        firing: Iterable[int],
        resolved: Iterable[int],
    ) -> None:
        """Record a successful notification; an entry from the future (clock skew) is kept."""
        now = self._clock.now()
        key = (group_key, receiver)
        previous = self._entries.get(key)
        if previous is not None and previous.timestamp > now:
            return
        self._entries[key] = Entry(
            group_key=group_key,
            receiver=receiver,
            timestamp=now,
            firing_alerts=frozenset(firing),
            resolved_alerts=frozenset(resolved),
            expires_at=now + self._retention,
        )

    def query(self, group_key: str, receiver: ReceiverKey) -> Entry | None:
        return self._entries.get((group_key, receiver))

    def entries(self) -> list[Entry]:
        return list(self._entries.values())

    def gc(self) -> int:
        """Drop entries whose expiry has come; returns how many."""
        now = self._clock.now()
        doomed = [key for key, entry in self._entries.items() if entry.expires_at <= now]
        for key in doomed:
            del self._entries[key]
        return len(doomed)

    def snapshot(self, path: str) -> int:
        """Write every entry to `path` atomically; returns the size in bytes."""
        return write_snapshot(path, _SNAPSHOT_KIND, map(_to_json, self._entries.values()))

    def load(self, path: str) -> bool:
        """Replace the state with the snapshot at `path`; False when there is no such file.
        A damaged file raises SnapshotError and is left untouched."""
        records = read_snapshot(path, _SNAPSHOT_KIND)
        if records is None:
            return False
        entries = [_from_json(record) for record in records]
        self._entries = {(e.group_key, e.receiver): e for e in entries}
        return True


def split_alerts(alerts: Iterable[Alert], now: float) -> tuple[frozenset[int], frozenset[int]]:
    """The fingerprints of the firing and of the resolved alerts at `now`."""
    firing: set[int] = set()
    resolved: set[int] = set()
    for alert in alerts:
        (resolved if alert.resolved_at(now) else firing).add(alert.fingerprint)
    return frozenset(firing), frozenset(resolved)


def needs_update(
    entry: Entry | None,
    firing: frozenset[int],
    resolved: frozenset[int],
    *,
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> bool:
    """Alertmanager's `DedupStage.needsUpdate`."""
    if entry is None:
        # Never notified: only worth it if something fires.
        return bool(firing)
    if not firing <= entry.firing_alerts:
        return True
    if not firing:
        # Everything resolved: tell the receiver (even without send_resolved, so the log
        # forgets the firing alerts), unless it never heard of them.
        return bool(entry.firing_alerts)
    if send_resolved and not resolved <= entry.resolved_alerts:
        return True
    return entry.timestamp < now - repeat_interval


class DedupStage:
    """Passes a notification on only when the receiver integration has not been told this
    yet (or `repeat_interval` has passed since it was); otherwise stops it quietly."""

    def __init__(
        self, nflog: NotificationLog, receiver_key: ReceiverKey, send_resolved: bool
    ) -> None:
        self._nflog = nflog
        self._receiver = receiver_key
        self._send_resolved = send_resolved

    async def exec(self, notification: Notification) -> Notification | None:
        firing, resolved = split_alerts(notification.alerts, notification.now)
        entry = self._nflog.query(notification.group_key, self._receiver)
        if needs_update(
            entry,
            firing,
            resolved,
            send_resolved=self._send_resolved,
            repeat_interval=notification.repeat_interval,
            now=notification.now,
        ):
            return notification
        return None


class RecordStage:
    """Logs a sent notification (Alertmanager's `SetNotifiesStage`); runs after the
    integration succeeded, on the alerts DedupStage saw (the retry stage passes them on
    unfiltered, as Alertmanager's does)."""

    def __init__(self, nflog: NotificationLog, receiver_key: ReceiverKey) -> None:
        self._nflog = nflog
        self._receiver = receiver_key

    async def exec(self, notification: Notification) -> Notification | None:
        firing, resolved = split_alerts(notification.alerts, notification.now)
        self._nflog.log(self._receiver, notification.group_key, firing, resolved)
        return notification


def _to_json(entry: Entry) -> dict[str, Any]:
    return {
        "group_key": entry.group_key,
        "receiver": entry.receiver.receiver,
        "integration": entry.receiver.integration,
        "index": entry.receiver.index,
        "timestamp": entry.timestamp,
        "firing_alerts": sorted(entry.firing_alerts),
        "resolved_alerts": sorted(entry.resolved_alerts),
        "expires_at": entry.expires_at,
    }


def _from_json(record: Record) -> Entry:
    index = record.number("index")
    if index != int(index) or index < 0:
        raise record.error("index", f"expected a non-negative integer, got {index!r}")
    return Entry(
        group_key=record.text("group_key"),
        receiver=ReceiverKey(record.text("receiver"), record.text("integration"), int(index)),
        timestamp=record.number("timestamp"),
        firing_alerts=frozenset(record.integers("firing_alerts")),
        resolved_alerts=frozenset(record.integers("resolved_alerts")),
        expires_at=record.number("expires_at"),
    )
