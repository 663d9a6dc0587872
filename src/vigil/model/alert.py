"""An alert as Alertmanager keeps it: labels identify it, times say whether it is still firing.

Times are float seconds since the epoch and 0.0 is Go's zero time ("unset"), so the same value
moves between the API, the store, templates and snapshots without conversions.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain

from vigil.model.labels import Labels

_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF
_SEPARATOR_CHAR = "\udcff"  # encodes (surrogatepass) to _SEPARATOR_BYTES, never in UTF-8 text
_SEPARATOR_BYTES = _SEPARATOR_CHAR.encode("utf-8", "surrogatepass")
_NO_LABELS = Labels()


@functools.lru_cache(maxsize=1 << 16)
def fingerprint(labels: Labels) -> int:
    """Prometheus's `LabelSet.Fingerprint()` (FNV-1a 64 over sorted names and values, each
    followed by 0xff), so fingerprints in the API and notification logs match Alertmanager's."""
    h = _FNV_OFFSET
    for name, value in labels:
        for part in (name, value):
            for byte in part.encode("utf-8", "surrogatepass"):
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return h


_BATCH = 512
"""From this many label sets on, `fingerprints` hashes them side by side with numpy."""


def fingerprints(labelsets: Sequence[Labels]) -> list[int]:
    """`fingerprint` of each label set. A big batch (a POST of many new alerts) is hashed
    side by side with numpy, one step per byte position over every set still that long,
    instead of one Python step per byte (60 µs for an ordinary alert's labels)."""
    if len(labelsets) < _BATCH:
        return [fingerprint(labels) for labels in labelsets]
    import numpy as np  # here, not at the top: `vigil alertmanager` loads numpy only for this

    parts = 2 * sum(map(len, labelsets))
    text = _SEPARATOR_CHAR.join(chain.from_iterable(chain.from_iterable(labelsets)))
    data = (
        (text + _SEPARATOR_CHAR).encode("utf-8", "surrogatepass").replace(_SEPARATOR_BYTES, b"\xff")
    )
    flat = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(flat == _SEPARATOR)
    if parts == 0 or len(ends) != parts:  # a label held the separator itself
        return [fingerprint(labels) for labels in labelsets]
    counts = np.fromiter((2 * len(labels) for labels in labelsets), np.int64, len(labelsets))
    stops = np.zeros(len(labelsets), dtype=np.int64)
    stops[counts > 0] = ends[np.cumsum(counts)[counts > 0] - 1] + 1
    stops = np.maximum.accumulate(stops)  # an empty set ends where the one before it ended
    lengths = np.diff(stops, prepend=0)
    # Longest first, so the sets still hashing at a byte position are a prefix; one row per
    # byte position, so each step reads contiguous memory.
    order = np.argsort(-lengths, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    longest = int(lengths[order[0]])
    columns = np.zeros((longest, len(labelsets)), dtype=np.uint64)
    owner = np.repeat(rank, lengths)
    position = np.arange(len(flat)) - np.repeat(stops - lengths, lengths)
    columns[position, owner] = flat
    live = np.searchsorted(-lengths[order], -np.arange(longest), side="left")
    hashes = np.full(len(labelsets), _FNV_OFFSET, dtype=np.uint64)
    prime = np.uint64(_FNV_PRIME)
    for column, k in enumerate(live.tolist()):
        head = hashes[:k]
        head ^= columns[column, :k]
        head *= prime
    result = hashes[rank]
    found: list[int] = result.tolist()
    return found


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
        starts, ends = merged_span(self, other.starts_at, other.ends_at, now)
        if starts == other.starts_at and ends == other.ends_at:
            return other
        return make_alert(
            other.labels,
            other.annotations,
            starts,
            ends,
            other.generator_url,
            other.updated_at,
            other.timeout,
            other._fingerprint,
        )


def merged_span(old: Alert, starts_at: float, ends_at: float, now: float) -> tuple[float, float]:
    """Start and end of `old` merged with a younger update of it spanning `starts_at` to
    `ends_at` (the time rules of `Alert.merge`, for callers that build the result once)."""
    starts = old.starts_at if old.starts_at < starts_at else starts_at
    if ends_at != 0.0 and ends_at <= now:
        if old.resolved_at(now) and old.ends_at > ends_at:
            return starts, old.ends_at
    elif old.ends_at > ends_at and not old.timeout:
        return starts, old.ends_at
    return starts, ends_at


_new = object.__new__
_set_labels = Alert.__dict__["labels"].__set__
_set_annotations = Alert.__dict__["annotations"].__set__
_set_starts_at = Alert.__dict__["starts_at"].__set__
_set_ends_at = Alert.__dict__["ends_at"].__set__
_set_generator_url = Alert.__dict__["generator_url"].__set__
_set_updated_at = Alert.__dict__["updated_at"].__set__
_set_timeout = Alert.__dict__["timeout"].__set__
_set_fingerprint = Alert.__dict__["_fingerprint"].__set__


def make_alert(
    labels: Labels,
    annotations: Labels,
    starts_at: float,
    ends_at: float,
    generator_url: str,
    updated_at: float,
    timeout: bool,
    fingerprint: int = -1,
) -> Alert:
    """`Alert(...)` with every field given (and the fingerprint when known), for the ingestion
    path: it sets the slots directly, about twice as fast as the frozen dataclass's
    `__init__`. A `fingerprint` other than -1 must be `fingerprint(labels)`."""
    alert: Alert = _new(Alert)
    _set_labels(alert, labels)
    _set_annotations(alert, annotations)
    _set_starts_at(alert, starts_at)
    _set_ends_at(alert, ends_at)
    _set_generator_url(alert, generator_url)
    _set_updated_at(alert, updated_at)
    _set_timeout(alert, timeout)
    _set_fingerprint(alert, fingerprint)
    return alert
