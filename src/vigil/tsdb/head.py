"""The head: the most recent samples of every series, in memory, WAL-backed.

Samples live in fixed-size chunks ("slots") of one 2-D numpy array per column, so a whole
scrape is validated and placed with a handful of numpy calls, with no Python object per
sample. The state is a few small holders (`head_state`); appending, reading and WAL replay
are in `head_append`, `head_read` and `head_replay`; `Head` composes them under one lock.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from prometheus_client import CollectorRegistry

from vigil.model import METRIC_NAME, Labels
from vigil.tsdb import head_append_histograms
from vigil.tsdb._api import SeriesRef
from vigil.tsdb.head_append import (
    CommitResult,
    HeadAppender,
    appendable_max_time,
    appendable_min_time,
    apply,
)
from vigil.tsdb.head_read import HeadQuerier, gather
from vigil.tsdb.head_replay import replay, replay_in_order, replay_series, replay_series_many
from vigil.tsdb.head_state import (
    F64,
    I64,
    MAX_TIME,
    MIN_TIME,
    HeadOptions,
    HeadState,
    group_starts,
)
from vigil.tsdb.wal import HistogramSamples
from vigil.tsdb.wlog import WAL


@dataclass(frozen=True, slots=True)
class HeadSnapshot:
    """Everything the head holds, for a WAL checkpoint: series, then samples by (ref, time),
    then histogram samples by (ref, time)."""

    series: list[tuple[int, Labels]]
    refs: I64
    timestamps: I64
    values: F64
    histograms: HistogramSamples


class Head:
    """Series table, open and closed chunks and the out-of-order log under one lock:
    implements the appender's commit and the querier's reads (numpy calls are short; no lock
    is held across I/O but the WAL write)."""

    def __init__(
        self,
        options: HeadOptions | None = None,
        registry: CollectorRegistry | None = None,
        wal: WAL | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options or HeadOptions()
        self._clock = clock
        registry = registry if registry is not None else CollectorRegistry()
        self._state = HeadState(self.options, registry)
        self._state.wal = wal
        self._lock = threading.RLock()

    def attach_wal(self, wal: WAL) -> None:
        """Log every commit from now on (after replay, which must not re-log)."""
        with self._lock:
            self._state.wal = wal

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold off commits, e.g. while a WAL segment is cut and the head snapshotted."""
        with self._lock:
            yield

    # ----- series -----

    @property
    def num_series(self) -> int:
        return self._state.series.n_alive

    @property
    def num_chunks(self) -> int:
        return self._state.num_chunks

    def get_or_create(self, labels: Labels) -> SeriesRef:
        """The series' ref, created if new; -1 (counted, name remembered) past max_series."""
        table = self._state.series
        ref = table.by_labels.get(labels)
        if ref is not None:
            return ref
        with self._lock:
            ref = table.by_labels.get(labels)
            if ref is not None:
                return ref
            limit = self.options.max_series
            if limit and table.n_alive >= limit:
                table.refused_by_name[labels.get(METRIC_NAME)] += 1
                self._state.metrics.series_refused.inc()
                return -1
            ref = len(table.labels)
            self._state.add_series(ref, labels)
            return ref

    def refs_for(self, labels: Sequence[Labels]) -> I64:
        """Each label set's ref, the new ones created together; -1 (counted, name remembered)
        for those past max_series."""
        known = self._state.series.by_labels
        found = list(map(known.get, labels))
        if None in found:
            with self._lock:
                found = list(map(known.get, labels))
                new = [item for item, ref in zip(labels, found, strict=True) if ref is None]
                self._create(list(dict.fromkeys(new)))
                found = [known.get(item, -1) for item in labels]
                self._count_refused([item for item in new if item not in known])
        return np.fromiter(found, dtype=np.int64, count=len(found))

    def _create(self, new: list[Labels]) -> None:
        """Series for `new` (distinct, none known), as many as max_series leaves room for."""
        table = self._state.series
        limit = self.options.max_series
        if limit:
            new = new[: max(0, limit - table.n_alive)]
        if new:
            self._state.add_many_series(len(table.labels), new)

    def _count_refused(self, refused: list[Labels]) -> None:
        if refused:
            for labels in refused:
                self._state.series.refused_by_name[labels.get(METRIC_NAME)] += 1
            self._state.metrics.series_refused.inc(len(refused))

    def labels_of(self, ref: SeriesRef) -> Labels | None:
        labels = self._state.series.labels
        return labels[ref] if 0 <= ref < len(labels) else None

    def refused_series_top(self, n: int = 10) -> list[tuple[str, int]]:
        """Metric names whose new series were refused by the series limit, most first."""
        return self._state.series.refused_by_name.most_common(n)

    def set_min_valid_time(self, t_ms: int) -> None:
        """Samples older than this are refused (they belong to persisted blocks)."""
        with self._lock:
            self._state.min_valid_t = max(self._state.min_valid_t, t_ms)

    # ----- time range -----

    def time_bounds(self) -> tuple[int, int]:
        """The oldest and newest sample times a commit would accept now (for any series)."""
        state = self._state
        return appendable_min_time(state), appendable_max_time(state, int(self._clock() * 1000))

    @property
    def max_time(self) -> int:
        return self._state.max_t

    @property
    def min_time(self) -> int:
        """Oldest sample time held (MAX_TIME when empty)."""
        state = self._state
        n = len(state.series.labels)
        alive = state.series.alive[:n] & (state.series.last_t[:n] != MIN_TIME)
        if not alive.any():
            return MAX_TIME
        return max(int(state.series.min_t[:n][alive].min()), state.min_valid_t)

    # ----- appending and replay -----

    def appender(self) -> HeadAppender:
        return HeadAppender(self)

    def commit(
        self, refs: I64, ts: I64, vs: F64, histograms: HistogramSamples | None = None
    ) -> CommitResult:
        """Validate, log to the WAL, then make visible; a WAL failure raises and applies nothing."""
        state = self._state
        with self._lock:
            state.wal_token = 0
            now_ms = int(self._clock() * 1000)
            if histograms is None:
                result = apply(state, refs, ts, vs, False, False, now_ms)
            else:
                result = _commit_with_histograms(state, refs, ts, vs, histograms, now_ms)
            token = state.wal_token
        if token and state.wal is not None:
            state.wal.wait_durable(token)
        return result

    def replay(self, refs: I64, ts: I64, vs: F64, out_of_order: bool) -> CommitResult:
        """Re-apply one WAL record: samples older than the last block are skipped, nothing is logged."""
        with self._lock:
            return replay(self._state, refs, ts, vs, out_of_order)

    def replay_histograms(self, samples: HistogramSamples) -> CommitResult:
        """Re-apply one WAL histogram record, as `replay` does a sample record."""
        with self._lock:
            claimed = head_append_histograms.claim(self._state, samples, True, 0)
            return head_append_histograms.place(self._state, claimed)

    def replay_series(self, ref: int, labels: Labels) -> None:
        with self._lock:
            replay_series(self._state, ref, labels)

    def replay_series_many(self, series: Sequence[tuple[int, Labels]]) -> None:
        with self._lock:
            replay_series_many(self._state, series)

    def replay_in_order(self, records: Sequence[tuple[I64, I64, F64]]) -> None:
        with self._lock:
            replay_in_order(self._state, records)

    # ----- reading, truncation, snapshots, stats -----

    def querier(self, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self._state, self._lock, mint, maxt)

    def truncate(self, cut_ms: int) -> int:
        """Drop every sample older than cut_ms (now in a block) and series left without any;
        returns the number of series removed."""
        with self._lock:
            return _truncate(self._state, cut_ms)

    def snapshot(self) -> HeadSnapshot:
        with self._lock:
            state = self._state
            n = len(state.series.labels)
            refs = np.flatnonzero(state.series.alive[:n])
            series = [(ref, state.series.labels_at(ref)) for ref in refs.tolist()]
            r, t, v = gather(state, refs, MIN_TIME, MAX_TIME)
            histograms = state.histograms.samples(
                sorted(state.histograms.by_ref), MIN_TIME, MAX_TIME
            )
            return HeadSnapshot(series, r, t, v, histograms)

    def series_count_by_metric_name(self, n: int = 10) -> list[tuple[str, int]]:
        counts = self._state.series.postings.cardinality(METRIC_NAME)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    def label_value_count_by_name(self, n: int = 10) -> list[tuple[str, int]]:
        counts = self._state.series.postings.value_counts()
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    def series_count_by_label_pair(self, n: int = 10) -> list[tuple[str, int]]:
        pairs: list[tuple[str, int]] = []
        for name in self._state.series.postings.names():
            pairs.extend(
                (f"{name}={value}", count)
                for value, count in self._state.series.postings.cardinality(name).items()
            )
        return sorted(pairs, key=lambda item: (-item[1], item[0]))[:n]

    def memory_in_bytes_by_label_name(self, n: int = 10) -> list[tuple[str, int]]:
        sizes = {
            name: sum(
                len(value) * count
                for value, count in self._state.series.postings.cardinality(name).items()
            )
            for name in self._state.series.postings.names()
        }
        return sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:n]


def _commit_with_histograms(
    state: HeadState, refs: I64, ts: I64, vs: F64, histograms: HistogramSamples, now_ms: int
) -> CommitResult:
    first, after = head_append_histograms.split_after_floats(histograms, refs, ts)
    claimed = head_append_histograms.claim(state, first, False, now_ms)
    later = None
    if after is not None:
        later = head_append_histograms.claim(state, after, False, now_ms, take=False)
    try:
        floats = apply(
            state,
            refs,
            ts,
            vs,
            False,
            False,
            now_ms,
            claimed.accepted,
            None if later is None else later.accepted,
        )
    except BaseException:
        head_append_histograms.restore(state, claimed)
        raise
    results = [floats, head_append_histograms.place(state, claimed)]
    if later is not None:
        head_append_histograms.take_times(state, later)
        results.append(head_append_histograms.place(state, later))
    return head_append_histograms.combined(*results)


def _truncate(state: HeadState, cut_ms: int) -> int:
    """Drop every sample older than cut_ms (now in a block) and series left without any;
    returns the number of series removed."""
    state.metrics.truncations.inc()
    state.min_valid_t = max(state.min_valid_t, cut_ms)
    used = state.open.used
    lengths = state.open.length[:used]
    live = lengths > 0
    slot_max = np.full(used, MAX_TIME, dtype=np.int64)
    live_ids = np.flatnonzero(live)
    slot_max[live_ids] = state.open.ts[live_ids, lengths[live_ids] - 1]
    dead_slots = np.flatnonzero(live & (slot_max < cut_ms))
    if len(dead_slots):
        owners = state.open.owner[dead_slots]
        was_open = state.series.open_slot[owners] == dead_slots
        state.series.open_slot[owners[was_open]] = -1
        state.open.release(dead_slots)
    state.closed.drop_before(cut_ms)
    state.ooo.drop_before(cut_ms)
    state.histograms.drop_before(cut_ms)
    n = len(state.series.labels)
    alive = state.series.alive[:n]
    last_t = state.series.last_t[:n]
    empty = last_t == MIN_TIME
    dead = alive & (last_t < cut_ms) & (~empty | state.series.gc_candidate[:n])
    state.series.gc_candidate[:n] = alive & empty & ~dead
    dead_refs = np.flatnonzero(dead)
    removed = []
    for ref in dead_refs.tolist():
        labels = state.series.labels[ref]
        assert labels is not None
        removed.append((ref, labels))
        del state.series.by_labels[labels]
        state.series.labels[ref] = None
    state.series.postings.remove(removed)
    state.histograms.forget(dead_refs.tolist())
    state.series.alive[dead_refs] = False
    leftover = state.series.open_slot[dead_refs]
    state.open.release(leftover[leftover >= 0])
    state.series.open_slot[dead_refs] = -1
    state.series.n_alive -= len(dead_refs)
    _reset_min_times(state, np.flatnonzero(state.series.alive[:n]), cut_ms)
    state.metrics.series_removed.inc(len(dead_refs))
    state.metrics.series.set(state.series.n_alive)
    state.metrics.chunks.set(state.num_chunks)
    state.metrics.min_time.set(max(cut_ms, 0))
    return len(dead_refs)


def _reset_min_times(state: HeadState, survivors: I64, cut_ms: int) -> None:
    """Each survivor's oldest sample from cut_ms on: a closed chunk's start where the
    series' first chunk starts after the cut, else found by reading (one chunk at most)."""
    if not len(survivors):
        return
    state.series.min_t[survivors] = MAX_TIME
    n_chunks = len(state.closed.records)
    owners, first = np.unique(state.closed.owner[:n_chunks], return_index=True)
    first_mint = state.closed.mint[first]
    after = first_mint >= cut_ms
    state.series.min_t[owners[after]] = first_mint[after]
    reads = [(owners[~after], int(state.closed.maxt[first[~after]].max(initial=MIN_TIME)))]
    without = np.setdiff1d(survivors, owners, assume_unique=True)
    if state.ooo.n:
        without = np.union1d(without, state.ooo.ref[: state.ooo.n])
    reads.append((without, MAX_TIME))
    firsts_h = state.histograms.first_times(state.histograms.by_ref)
    if firsts_h:
        held = np.fromiter(firsts_h, np.int64, len(firsts_h))
        state.series.min_t[held] = np.minimum(
            state.series.min_t[held], np.fromiter(firsts_h.values(), np.int64, len(firsts_h))
        )
    for refs, upto in reads:
        if not len(refs):
            continue
        kept_r, kept_t, _ = gather(state, refs, cut_ms, upto)
        if len(kept_r):
            firsts = group_starts(kept_r)
            found = kept_r[firsts]
            state.series.min_t[found] = np.minimum(state.series.min_t[found], kept_t[firsts])
