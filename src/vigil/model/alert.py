"""An alert as Alertmanager keeps it: labels identify it, times say whether it is still firing.

Times are float seconds since the epoch and 0.0 is Go's zero time ("unset"), so the same value
moves between the API, the store, templates and snapshots without conversions.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from vigil.model.labels import Labels

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF
_NO_LABELS = Labels()


@functools.lru_cache(maxsize=1 << 16)
def fingerprint(labels: Labels) -> int:
    """Prometheus's `LabelSet.Fingerprint()` (FNV-1a 64 over sorted names and values, each
    followed by 0xff), so fingerprints in the API and notification logs match Alertmanager's."""
    h = _FNV_OFFSET
    for name, value in labels:
        for part in (name, value):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return h


def fingerprint_hex(labels: Labels) -> str:
    """The fingerprint as Alertmanager prints it (`%016x`)."""
    return f"{fingerprint(labels):016x}"


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert; `timeout` says `ends_at` was set by `resolve_timeout`, not by the sender."""

    labels: Labels
    annotations: Labels = _NO_LABELS
    starts_at: float = 0.0
    ends_at: float = 0.0
    generator_url: str = ""
    updated_at: float = 0.0
    timeout: bool = False
    _fingerprint: int = field(default=-1, init=False, repr=False, compare=False)

    @property
    def fingerprint(self) -> int:
        """Computed once per alert object (a hot path: every store, group and marker lookup)."""
        fp = self._fingerprint
        if fp < 0:
            fp = fingerprint(self.labels)
            object.__setattr__(self, "_fingerprint", fp)
        return fp

    @property
    def name(self) -> str:
        return self.labels.get("alertname")

    def resolved_at(self, now: float) -> bool:
        """Whether the alert is resolved at `now` (an unset `ends_at` never resolves)."""
        return self.ends_at != 0.0 and self.ends_at <= now

    def merge(self, other: Alert, now: float) -> Alert:
        """Alertmanager's `Alert.Merge`: the younger update wins, the earliest start is kept,
        and a sender's explicit end time beats one set by `resolve_timeout`."""
        if other.updated_at < self.updated_at:
            return other.merge(self, now)
        starts = min(self.starts_at, other.starts_at)
        ends = other.ends_at
        if other.resolved_at(now):
            if self.resolved_at(now) and self.ends_at > other.ends_at:
                ends = self.ends_at
        elif self.ends_at > other.ends_at and not self.timeout:
            ends = self.ends_at
        if starts == other.starts_at and ends == other.ends_at:
            return other
        merged = Alert(
            other.labels,
            other.annotations,
            starts,
            ends,
            other.generator_url,
            other.updated_at,
            other.timeout,
        )
        object.__setattr__(merged, "_fingerprint", other._fingerprint)
        return merged
