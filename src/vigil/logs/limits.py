"""Loki's per-tenant ingestion limits (`limits_config`), with its names, defaults and
messages: label checks refuse a whole stream, entry checks (age, future, line size) single
entries, the ingestion rate a whole push; the stream limit is the head's (it knows which
streams are new).

The stream budget, when not set, is derived from memory as the TSDB's series budget is:
`HEAD_SHARE` of the process's memory limit at `HEAD_BYTES_PER_STREAM` each (labels,
postings and an open chunk of a slow stream: lines buffered raw until the chunk is cut).
A 1 GiB container thus holds 8192 streams (Loki's default is 5000 per tenant).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vigil.logs._api import Discarded, Entries
from vigil.logs.head import rfc3339
from vigil.logs.lines import clip_lines, gather_lines, take_metadata
from vigil.model import Labels
from vigil.model.labels import is_legacy_label_name

MIB = 1 << 20
DAY_NS = 86_400 * 10**9
HEAD_BYTES_PER_STREAM = 16 * 1024
HEAD_SHARE = 0.125


@dataclass(frozen=True, slots=True)
class LogLimits:
    """`max_global_streams_per_user=None` derives the budget from memory; 0 is unlimited."""

    max_label_names_per_series: int = 15
    max_label_name_length: int = 1024
    max_label_value_length: int = 2048
    max_line_size: int = 256 * 1024  # 0: no limit
    max_line_size_truncate: bool = False
    reject_old_samples: bool = True
    reject_old_samples_max_age_ns: int = 7 * DAY_NS
    creation_grace_period_ns: int = 10 * 60 * 10**9
    ingestion_rate_mb: float = 4.0
    ingestion_burst_size_mb: float = 6.0
    max_global_streams_per_user: int | None = None


def default_max_streams(memory_bytes: int) -> int:
    """Streams the head accepts before refusing new ones (0: no limit, memory unknown)."""
    if memory_bytes <= 0:
        return 0
    return max(1000, int(memory_bytes * HEAD_SHARE) // HEAD_BYTES_PER_STREAM)


def label_problem(labels: Labels, limits: LogLimits) -> tuple[str, str] | None:
    """Why a stream's label set is refused (Loki's reason and message), or None."""
    if not labels:
        return "missing_labels", "error at least one label pair is required per stream"
    if len(labels) > limits.max_label_names_per_series:
        return "max_label_names_per_series", (
            f"entry for stream '{labels}' has {len(labels)} label names; "
            f"limit {limits.max_label_names_per_series} (max_label_names_per_series)"
        )
    previous = None
    for name, value in labels:
        if name == previous:
            return "duplicate_label_names", (
                f"stream '{labels}' has duplicate label name: '{name}'"
            )
        previous = name
        if not is_legacy_label_name(name):
            return "invalid_labels", (
                f"error parsing labels '{labels}' with error: invalid label name '{name}' "
                "(a label name is [a-zA-Z_][a-zA-Z0-9_]*)"
            )
        if len(name) > limits.max_label_name_length:
            return "label_name_too_long", (
                f"stream '{labels}' has label name too long: '{name}' "
                f"(limit max_label_name_length {limits.max_label_name_length})"
            )
        if len(value) > limits.max_label_value_length:
            return "label_value_too_long", (
                f"stream '{labels}' has label value too long: '{value}' "
                f"(limit max_label_value_length {limits.max_label_value_length})"
            )
    return None


def _refused(
    entries: Entries, reason: str, where: np.ndarray, message: Callable[[int], str]
) -> Discarded | None:
    """The entries `where` marks as one Discarded; `message` gets the first one's index."""
    hits = np.flatnonzero(where)
    if not len(hits):
        return None
    size = int(entries.lines.sizes()[hits].sum())
    return Discarded(reason, entries.labels, len(hits), size, message(int(hits[0])))


def check_entries(
    entries: Entries, limits: LogLimits, now_ns: int
) -> tuple[Entries | None, list[Discarded]]:
    """The entries that pass the age, future and line size checks (long lines truncated
    instead with `max_line_size_truncate`), and those refused, per reason, in Loki's order:
    an entry is counted under the first check it fails."""
    ts, sizes, labels = entries.timestamps, entries.lines.sizes(), entries.labels
    oldest = now_ns - limits.reject_old_samples_max_age_ns
    newest = now_ns + limits.creation_grace_period_ns
    too_old = (ts < oldest) if limits.reject_old_samples else np.zeros(len(ts), dtype=np.bool_)
    too_new = ~too_old & (ts > newest)
    limit = limits.max_line_size
    too_long = ~too_old & ~too_new & (sizes > limit) if limit else np.zeros_like(too_old)
    if too_long.any() and limits.max_line_size_truncate:
        entries = Entries(labels, ts, clip_lines(entries.lines, limit), entries.metadata)
        too_long = np.zeros_like(too_old)
    found = [
        _refused(
            entries,
            "greater_than_max_sample_age",
            too_old,
            lambda i: (
                f"entry for stream '{labels}' has timestamp too old: {rfc3339(int(ts[i]))}, "
                f"oldest acceptable timestamp is: {rfc3339(oldest)} "
                "(limit reject_old_samples_max_age)"
            ),
        ),
        _refused(
            entries,
            "too_far_in_future",
            too_new,
            lambda i: (
                f"entry for stream '{labels}' has timestamp too new: {rfc3339(int(ts[i]))} "
                "(limit creation_grace_period)"
            ),
        ),
        _refused(
            entries,
            "line_too_long",
            too_long,
            lambda i: (
                f"max entry size '{limit}' bytes exceeded for stream '{labels}' while "
                f"adding an entry with length '{int(sizes[i])}' bytes (limit max_line_size)"
            ),
        ),
    ]
    discarded = [d for d in found if d is not None]
    if not discarded:
        return entries, []
    kept = np.flatnonzero(~(too_old | too_new | too_long))
    if not len(kept):
        return None, discarded
    return (
        Entries(
            labels,
            ts[kept],
            gather_lines(entries.lines, kept),
            take_metadata(entries.metadata, kept),
        ),
        discarded,
    )


class RateLimiter:
    """Loki's ingestion rate: a token bucket of bytes on the store's clock; a push that
    does not fit the bucket now is refused whole. A rate of 0 sets no limit."""

    def __init__(self, rate_mb: float, burst_mb: float, clock: Callable[[], float]) -> None:
        self._rate = rate_mb * MIB
        self._burst = burst_mb * MIB
        self._clock = clock
        self._tokens = self._burst
        self._at = clock()
        self._lock = threading.Lock()

    def allow(self, size: int) -> bool:
        if self._rate <= 0:
            return True
        with self._lock:
            now = self._clock()
            self._tokens = min(self._burst, self._tokens + max(0.0, now - self._at) * self._rate)
            self._at = now
            if size > self._tokens:
                return False
            self._tokens -= size
            return True


class PushValidator:
    """The distributor's checks on one push, before the head sees it."""

    def __init__(self, limits: LogLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._rate = RateLimiter(limits.ingestion_rate_mb, limits.ingestion_burst_size_mb, clock)

    def validate(self, streams: Sequence[Entries]) -> tuple[list[Entries], list[Discarded]]:
        now_ns = int(self._clock() * 10**9)
        kept: list[Entries] = []
        discarded: list[Discarded] = []
        for entries in streams:
            if not len(entries):
                continue
            problem = label_problem(entries.labels, self.limits)
            if problem is not None:
                reason, message = problem
                size = len(entries.lines.data)
                discarded.append(Discarded(reason, entries.labels, len(entries), size, message))
                continue
            passed, refused = check_entries(entries, self.limits, now_ns)
            discarded.extend(refused)
            if passed is not None:
                kept.append(passed)
        total = sum(len(e.lines.data) for e in kept)
        if kept and not self._rate.allow(total):
            lines = sum(len(e) for e in kept)
            message = (
                f"Ingestion rate limit exceeded (limit: {int(self.limits.ingestion_rate_mb * MIB)} "
                f"bytes/sec, ingestion_rate_mb) while attempting to ingest '{lines}' lines "
                f"totaling '{total}' bytes, reduce log volume or raise the limit"
            )
            discarded.extend(
                Discarded("rate_limited", e.labels, len(e), len(e.lines.data), message)
                for e in kept
            )
            kept = []
        return kept, discarded
