"""What the API shows per alert (`status.state`, `silencedBy`, `inhibitedBy`): Alertmanager's
marker, written by the silencer and the inhibitor each time they decide, read by the API."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class AlertState(enum.StrEnum):
    UNPROCESSED = "unprocessed"
    ACTIVE = "active"
    SUPPRESSED = "suppressed"


@dataclass(frozen=True, slots=True)
class AlertStatus:
    """One alert's mute state; `pending_silences` and `silences_version` let the silencer skip
    a full query when no silence was added since it last looked (Alertmanager's fast path)."""

    state: AlertState = AlertState.UNPROCESSED
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    pending_silences: tuple[str, ...] = ()
    silences_version: int = 0


_UNPROCESSED = AlertStatus()


def _state(silenced_by: tuple[str, ...], inhibited_by: tuple[str, ...]) -> AlertState:
    return AlertState.SUPPRESSED if silenced_by or inhibited_by else AlertState.ACTIVE


class Marker:
    """Alertmanager's `memMarker`: per fingerprint, who mutes the alert; an alert nobody has
    looked at yet is "unprocessed"."""

    def __init__(self) -> None:
        self._status: dict[int, AlertStatus] = {}

    def set_silenced(
        self,
        fingerprint: int,
        ids: Iterable[str],
        *,
        pending: Iterable[str] = (),
        version: int = 0,
    ) -> None:
        """Record the active silences muting the alert (empty: none) and the pending ones."""
        old = self._status.get(fingerprint)
        silenced_by, pending_silences = tuple(ids), tuple(pending)
        if (
            old is not None
            and old.silenced_by == silenced_by
            and old.pending_silences == pending_silences
            and old.silences_version == version
        ):
            return
        if old is None:
            old = _UNPROCESSED
        self._status[fingerprint] = AlertStatus(
            _state(silenced_by, old.inhibited_by),
            silenced_by,
            old.inhibited_by,
            pending_silences,
            version,
        )

    def set_inhibited(self, fingerprint: int, fingerprints: Iterable[str]) -> None:
        """Record the (hex) fingerprints of the alerts inhibiting this one (empty: none)."""
        old = self._status.get(fingerprint)
        inhibited_by = tuple(fingerprints)
        if old is not None and old.inhibited_by == inhibited_by:
            return
        if old is None:
            old = _UNPROCESSED
        self._status[fingerprint] = AlertStatus(
            _state(old.silenced_by, inhibited_by),
            old.silenced_by,
            inhibited_by,
            old.pending_silences,
            old.silences_version,
        )

    def status(self, fingerprint: int) -> AlertStatus:
        return self._status.get(fingerprint, _UNPROCESSED)

    def delete(self, fingerprint: int) -> None:
        """Forget an alert (the store dropped it)."""
        self._status.pop(fingerprint, None)

    def count(self, *states: AlertState) -> int:
        """How many known alerts are in any of `states` (all known alerts when none given)."""
        if not states:
            return len(self._status)
        return sum(1 for status in self._status.values() if status.state in states)
