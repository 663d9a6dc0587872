"""Appending to the head: the appender (a transaction buffered until commit) and what a
commit does — validate against each series' last sample and the time bounds, log to the
WAL, then place samples into open chunks, closing (encoding) the chunks that fill up."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.model.sorted_set import sorted_set
from vigil.tsdb import wal as walfmt
from vigil.tsdb._api import STALE_NAN, STALE_NAN_BITS, SeriesRef
from vigil.tsdb.head_read import gather
from vigil.tsdb.head_state import (
    F64,
    I64,
    MAX_TIME,
    MIN_TIME,
    U64,
    Bools,
    HeadState,
    group_starts,
)

# Why a sample (or a series) was refused; the `reason` label of vigil_tsdb_rejected_samples_total.
OUT_OF_ORDER = "out_of_order"
DUPLICATE = "duplicate"
OUT_OF_BOUNDS = "out_of_bounds"
TOO_FAR_IN_FUTURE = "too_far_in_future"
SERIES_LIMIT = "series_limit"
UNKNOWN_SERIES = "unknown_series"


class AppendError(ValueError):
    """A sample or series the head refuses; `reason` is one of the rejection reasons."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What one commit did: samples made visible, silently deduplicated, and refused by reason."""

    appended: int = 0
    deduplicated: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)


class AppendTarget(Protocol):
    """What an appender needs of the head."""

    def get_or_create(self, labels: Labels) -> SeriesRef: ...

    def time_bounds(self) -> tuple[int, int]: ...

    def refs_for(self, labels: Sequence[Labels]) -> I64: ...

    def commit(
        self, refs: I64, ts: I64, vs: F64, histograms: walfmt.HistogramSamples | None = None
    ) -> CommitResult: ...


class HeadAppender:
    """One transaction against the head: buffered until commit, discarded by rollback."""

    def __init__(self, head: AppendTarget) -> None:
        self._head = head
        self._batches: list[tuple[I64, I64, F64]] = []
        self._one_refs: list[int] = []
        self._one_ts: list[int] = []
        self._one_vs: list[float] = []
        self._histograms = walfmt.HistogramSamples([], [], [])
        self.result = CommitResult()

    def append(self, labels: Labels, t_ms: int, value: float) -> SeriesRef:
        """A sample the head would refuse for its time creates no series (its ref is -1)."""
        lo, hi = self._head.time_bounds()
        if not lo <= t_ms <= hi:
            self.append_by_ref(-1, t_ms, value)
            return -1
        ref = self._head.get_or_create(labels)
        if ref < 0:
            raise AppendError(SERIES_LIMIT, f"series limit reached, refusing new series {labels}")
        self.append_by_ref(ref, t_ms, value)
        return ref

    def append_by_ref(self, ref: SeriesRef, t_ms: int, value: float) -> None:
        self._one_refs.append(ref)
        self._one_ts.append(t_ms)
        self._one_vs.append(value)

    def append_histogram(self, labels: Labels, t_ms: int, histogram: FloatHistogram) -> SeriesRef:
        lo, hi = self._head.time_bounds()
        ref = -1
        if lo <= t_ms <= hi:
            ref = self._head.get_or_create(labels)
            if ref < 0:
                raise AppendError(
                    SERIES_LIMIT, f"series limit reached, refusing new series {labels}"
                )
        self.append_histogram_by_ref(ref, t_ms, histogram)
        return ref

    def append_histogram_by_ref(self, ref: SeriesRef, t_ms: int, histogram: FloatHistogram) -> None:
        if _is_stale(histogram.sum):
            self.append_by_ref(ref, t_ms, STALE_NAN)
            return
        self._histograms.refs.append(ref)
        self._histograms.timestamps.append(t_ms)
        self._histograms.histograms.append(histogram)

    def append_batch(self, refs: I64, t_ms: I64, values: F64) -> None:
        if not len(refs) == len(t_ms) == len(values):
            raise ValueError(
                f"append_batch needs arrays of one length, got {len(refs)}, {len(t_ms)}, {len(values)}"
            )
        self._flush_singles()
        self._batches.append(
            (
                np.array(refs, dtype=np.int64),
                np.array(t_ms, dtype=np.int64),
                np.array(values, dtype=np.float64),
            )
        )

    def refs_for(self, labels: Sequence[Labels]) -> I64:
        return self._head.refs_for(labels)

    def append_series(self, labels: Sequence[Labels], counts: I64, t_ms: I64, values: F64) -> None:
        """`counts[i]` samples of series `labels[i]`, in that order; a series none of whose
        samples the head would accept for their time is not created (its samples are refused
        with the time's reason)."""
        lo, hi = self._head.time_bounds()
        in_time = (t_ms >= lo) & (t_ms <= hi)
        refs = np.full(len(labels), -1, dtype=np.int64)
        nonempty = np.flatnonzero(counts > 0)
        starts = (np.cumsum(counts) - counts)[nonempty]
        wanted = nonempty[np.logical_or.reduceat(in_time, starts)] if len(in_time) else nonempty
        if len(wanted):
            refs[wanted] = self._head.refs_for([labels[i] for i in wanted.tolist()])
        self.append_batch(np.repeat(refs, counts), t_ms, values)

    def _flush_singles(self) -> None:
        if self._one_refs:
            self._batches.append(
                (
                    np.array(self._one_refs, dtype=np.int64),
                    np.array(self._one_ts, dtype=np.int64),
                    np.array(self._one_vs, dtype=np.float64),
                )
            )
            self._one_refs, self._one_ts, self._one_vs = [], [], []

    def commit(self) -> None:
        self._flush_singles()
        batches, self._batches = self._batches, []
        histograms, self._histograms = self._histograms, walfmt.HistogramSamples([], [], [])
        if not batches and not len(histograms):
            self.result = CommitResult()
            return
        if len(batches) == 1:
            refs, ts, vs = batches[0]
        elif batches:
            refs = np.concatenate([b[0] for b in batches])
            ts = np.concatenate([b[1] for b in batches])
            vs = np.concatenate([b[2] for b in batches])
        else:
            refs, ts, vs = _NO_REFS, _NO_REFS, _NO_VALUES
        self.result = self._head.commit(refs, ts, vs, histograms if len(histograms) else None)

    def rollback(self) -> None:
        self._batches = []
        self._histograms = walfmt.HistogramSamples([], [], [])
        self._one_refs, self._one_ts, self._one_vs = [], [], []

    def refused(self) -> Mapping[str, int]:
        return self.result.rejected


_NO_REFS: I64 = np.empty(0, dtype=np.int64)
_NO_VALUES: F64 = np.empty(0, dtype=np.float64)


def _is_stale(value: float) -> bool:
    return bool(np.float64(value).view(np.uint64) == np.uint64(STALE_NAN_BITS))


def appendable_max_time(state: HeadState, now_ms: int) -> int:
    """The newest time the head accepts: `max_future_ms` past the clock's now."""
    if state.options.max_future_ms <= 0:
        return MAX_TIME
    return now_ms + state.options.max_future_ms


def appendable_min_time(state: HeadState) -> int:
    """Prometheus's bound: nothing older than the last block, nor (when out-of-order is
    off) than half a block range before the newest sample."""
    if state.options.out_of_order_time_window_ms > 0 or state.max_t == MIN_TIME:
        return state.min_valid_t
    return max(state.min_valid_t, state.max_t - state.options.block_range_ms // 2)


def apply(
    state: HeadState,
    refs: I64,
    ts: I64,
    vs: F64,
    replaying: bool,
    out_of_order: bool,
    now_ms: int = 0,
    histograms: walfmt.HistogramSamples | None = None,
    histograms_after: walfmt.HistogramSamples | None = None,
) -> CommitResult:
    """Validate and place one batch; `now_ms` bounds how far in the future samples may be
    (replay re-applies what was accepted, unbounded). `histograms` and `histograms_after`,
    already validated (see `head_append_histograms`), are logged with the batch, ahead of its
    floats and after them."""
    rejected: Tally[str] = Tally()
    min_time = state.min_valid_t if replaying else appendable_min_time(state)
    if not replaying:
        too_new = ts > appendable_max_time(state, now_ms)
        rejected[TOO_FAR_IN_FUTURE] += int(too_new.sum())
        if too_new.any():
            refs, ts, vs = refs[~too_new], ts[~too_new], vs[~too_new]
    n_refs = len(state.series.labels)
    known = (refs >= 0) & (refs < n_refs)
    known[known] = state.series.alive[refs[known]]
    if not known.all():
        too_old = ~known & (ts < min_time)
        if not replaying:
            rejected[OUT_OF_BOUNDS] += int(too_old.sum())
        rejected[SERIES_LIMIT] += int(((refs < 0) & ~too_old).sum())
        rejected[UNKNOWN_SERIES] += int(((refs >= 0) & ~known & ~too_old).sum())
        refs, ts, vs = refs[known], ts[known], vs[known]
    order = np.argsort(refs, kind="stable")
    r, t, v = refs[order], ts[order], vs[order]
    bits = v.view(np.uint64)
    first = group_starts(r)
    prev_t = state.series.last_t[r]
    prev_bits = state.series.last_bits[r]
    if len(r) and not first.all():
        batch_t, batch_bits = _previous_in_batch(t, bits, first)
        later = batch_t > prev_t
        prev_t = np.where(later, batch_t, prev_t)
        prev_bits = np.where(later, batch_bits, prev_bits)
    in_bounds = t >= min_time
    same = in_bounds & (t == prev_t)
    deduped = same & (bits == prev_bits)
    accept = in_bounds & (t > prev_t)
    older = in_bounds & (t < prev_t)
    n_bounds = int(len(t) - in_bounds.sum())
    if n_bounds and not replaying:
        rejected[OUT_OF_BOUNDS] += n_bounds
    rejected[DUPLICATE] += int(same.sum() - deduped.sum())
    window = state.options.out_of_order_time_window_ms
    ooo_rows: list[int] = []
    if out_of_order or window > 0:
        candidates = older if out_of_order else older & (t >= state.max_t - window)
        ooo_rows, ooo_dups = _out_of_order_rows(state, r, t, bits, np.flatnonzero(candidates))
        rejected[DUPLICATE] += ooo_dups
        older &= ~candidates
    rejected[OUT_OF_ORDER] += int(older.sum())
    acc_r, acc_t, acc_v = r[accept], t[accept], v[accept]
    ooo = np.asarray(ooo_rows, dtype=np.int64)
    if not replaying:
        _log(state, acc_r, acc_t, acc_v, r[ooo], t[ooo], v[ooo], histograms, histograms_after)
    if len(acc_r):
        insert_in_order(state, acc_r, acc_t, acc_v)
    if len(ooo):
        _insert_out_of_order(state, r[ooo], t[ooo], v[ooo])
    appended = len(acc_r) + len(ooo)
    if appended:
        state.max_t = max(state.max_t, int(acc_t.max()) if len(acc_t) else MIN_TIME)
        state.metrics.samples_appended.labels("float").inc(appended)
        state.metrics.max_time.set(state.max_t)
        state.metrics.chunks.set(state.num_chunks)
    if len(ooo):
        state.metrics.ooo_appended.labels("float").inc(len(ooo))
    result = {reason: count for reason, count in rejected.items() if count}
    for reason, count in result.items():
        state.metrics.rejected.labels(reason).inc(count)
    if result.get(OUT_OF_ORDER):
        state.metrics.out_of_order.labels("float").inc(result[OUT_OF_ORDER])
    out_of_bounds = result.get(OUT_OF_BOUNDS, 0) + result.get(TOO_FAR_IN_FUTURE, 0)
    if out_of_bounds:
        state.metrics.out_of_bound.labels("float").inc(out_of_bounds)
    return CommitResult(appended, int(deduped.sum()), result)


def _out_of_order_rows(
    state: HeadState, r: I64, t: I64, bits: U64, rows: I64
) -> tuple[list[int], int]:
    """Rows of older samples to accept out of order: the rare path, one row at a time,
    refusing a timestamp the series already has (deduplicating an identical value)."""
    accepted: list[int] = []
    duplicates = 0
    seen: dict[tuple[int, int], int] = {}
    for row in rows.tolist():
        ref, ts = int(r[row]), int(t[row])
        existing = seen.get((ref, ts))
        if existing is None:
            found = _value_bits_at(state, ref, ts)
            existing = found if found is not None else -1
        if existing == -1:
            seen[(ref, ts)] = int(bits[row])
            accepted.append(row)
        elif existing != int(bits[row]):
            duplicates += 1
    return accepted, duplicates


def _value_bits_at(state: HeadState, ref: int, t_ms: int) -> int | None:
    _, ts, vs = gather(state, np.array([ref], dtype=np.int64), t_ms, t_ms)
    return int(vs.view(np.uint64)[0]) if len(ts) else None


def _log(
    state: HeadState,
    r: I64,
    t: I64,
    v: F64,
    ooo_r: I64,
    ooo_t: I64,
    ooo_v: F64,
    histograms: walfmt.HistogramSamples | None,
    histograms_after: walfmt.HistogramSamples | None = None,
) -> None:
    parts = [h for h in (histograms, histograms_after) if h is not None and len(h)]
    if state.wal is None or not (len(r) or len(ooo_r) or parts):
        return
    touched = np.concatenate([r, ooo_r]) if len(ooo_r) else r
    if parts:
        touched = np.concatenate([touched, *(np.asarray(h.refs, dtype=np.int64) for h in parts)])
    new = sorted_set(touched[~state.series.logged[touched]])
    records = []
    if len(new):
        records.append(
            walfmt.encode_series([(ref, state.series.labels_at(ref)) for ref in new.tolist()])
        )
    if histograms is not None and len(histograms):
        records.append(walfmt.encode_histograms(histograms))
    if len(r):
        records.append(walfmt.encode_samples(r, t, v))
    if len(ooo_r):
        records.append(walfmt.encode_samples(ooo_r, ooo_t, ooo_v, out_of_order=True))
    if histograms_after is not None and len(histograms_after):
        records.append(walfmt.encode_histograms(histograms_after))
    state.wal_token = state.wal.log(records)
    state.series.logged[new] = True


def insert_in_order(state: HeadState, r: I64, t: I64, v: F64) -> None:
    """Place samples sorted by ref (time ascending within a ref) into the series' open
    chunks, vectorised; chunks that fill up are encoded, all of this commit's together."""
    size = state.options.chunk_samples
    n = len(r)
    first = group_starts(r)
    if first.all() and _append_to_open_chunks(state, r, t, v):
        return
    starts = np.flatnonzero(first)
    refs = r[starts]
    counts = np.diff(np.append(starts, n))
    open_slot = state.series.open_slot[refs]
    fill = np.zeros(len(refs), dtype=np.int64)
    has_open = open_slot >= 0
    fill[has_open] = state.open.length[open_slot[has_open]]
    closing = (fill + counts) // size
    remain = (fill + counts) % size
    position = np.repeat(fill, counts) + np.arange(n, dtype=np.int64) - np.repeat(starts, counts)
    chunk = position // size
    column = position % size
    to_open = chunk == np.repeat(closing, counts)
    if closing.any():
        _close_chunks(state, refs, counts, fill, open_slot, closing, chunk, column, ~to_open, t, v)
    lacking = (remain > 0) & (open_slot < 0)
    if lacking.any():
        ids = state.open.alloc(int(lacking.sum()))
        open_slot[lacking] = ids
        state.open.owner[ids] = refs[lacking]
        state.series.open_slot[refs[lacking]] = ids
    if to_open.any():
        widest = int(remain.max())
        if widest > state.open.ts.shape[1]:
            state.open.widen(widest)
        slot = np.repeat(open_slot, counts)[to_open]
        state.open.ts[slot, column[to_open]] = t[to_open]
        state.open.vs[slot, column[to_open]] = v[to_open]
    has_slot = open_slot >= 0
    state.open.length[open_slot[has_slot]] = remain[has_slot]
    last = np.append(starts[1:], n) - 1
    state.series.last_t[refs] = t[last]
    state.series.last_bits[refs] = v.view(np.uint64)[last]
    state.series.min_t[refs] = np.minimum(state.series.min_t[refs], t[starts])


def _append_to_open_chunks(state: HeadState, r: I64, t: I64, v: F64) -> bool:
    """A scrape's case, done in place: one sample for each of distinct series that all have
    an open chunk this sample does not fill. False (and nothing done) otherwise."""
    open_slot = state.series.open_slot[r]
    if not len(r) or int(open_slot.min()) < 0:
        return False
    fill = state.open.length[open_slot]
    widest = int(fill.max()) + 1
    if widest >= state.options.chunk_samples:
        return False
    if widest > state.open.ts.shape[1]:
        state.open.widen(widest)
    state.open.ts[open_slot, fill] = t
    state.open.vs[open_slot, fill] = v
    state.open.length[open_slot] = fill + 1
    state.series.last_t[r] = t
    state.series.last_bits[r] = v.view(np.uint64)
    state.series.min_t[r] = np.minimum(state.series.min_t[r], t)
    return True


def _close_chunks(
    state: HeadState,
    refs: I64,
    counts: I64,
    fill: I64,
    open_slot: I64,
    closing: I64,
    chunk: I64,
    column: I64,
    closed: Bools,
    t: I64,
    v: F64,
) -> None:
    """Encode every chunk this commit fills: each series' open samples, then new ones."""
    size = state.options.chunk_samples
    total = int(closing.sum())
    base = np.cumsum(closing) - closing
    chunk_ts = np.empty((total, size), dtype=np.int64)
    chunk_vs = np.empty((total, size), dtype=np.float64)
    carried = np.flatnonzero((fill > 0) & (closing > 0))
    if len(carried):
        which, cols = np.nonzero(
            np.arange(state.open.ts.shape[1], dtype=np.int64) < fill[carried][:, None]
        )
        src, dst = open_slot[carried][which], base[carried][which]
        chunk_ts[dst, cols] = state.open.ts[src, cols]
        chunk_vs[dst, cols] = state.open.vs[src, cols]
    row = (np.repeat(base, counts) + chunk)[closed]
    chunk_ts[row, column[closed]] = t[closed]
    chunk_vs[row, column[closed]] = v[closed]
    state.closed.add(np.repeat(refs, closing), chunk_ts, chunk_vs)


def _insert_out_of_order(state: HeadState, r: I64, t: I64, v: F64) -> None:
    state.ooo.add(r, t, v)
    np.minimum.at(state.series.min_t, r, t)


def _previous_in_batch(t: I64, bits: U64, first: Bools) -> tuple[I64, U64]:
    """For samples grouped by series (append order kept within a group): the largest earlier
    timestamp in the same group and the value bits of its first sample (MIN_TIME if none).

    A segmented prefix-max without a Python loop: timestamps become ranks (ties ranked so the
    earliest sample wins), offset by group so one `maximum.accumulate` never crosses groups.
    """
    n = len(t)
    if n and bool(np.all((t[1:] > t[:-1]) | first[1:])):
        # Time ascending within every group (WAL replay, most commits): the previous sample.
        prev_t = np.empty(n, dtype=np.int64)
        prev_bits = np.empty(n, dtype=np.uint64)
        prev_t[1:], prev_bits[1:] = t[:-1], bits[:-1]
        prev_t[first], prev_bits[first] = MIN_TIME, 0
        return prev_t, prev_bits
    positions = np.arange(n, dtype=np.int64)
    by_rank = np.lexsort((-positions, t))
    rank = np.empty(n, dtype=np.int64)
    rank[by_rank] = positions
    group = np.cumsum(first, dtype=np.int64) - 1
    key = np.maximum.accumulate(group * n + rank)
    before = np.empty(n, dtype=np.int64)
    before[0] = -1
    before[1:] = key[:-1]
    before[first] = -1
    has = before >= 0
    setter = by_rank[before[has] - group[has] * n]
    prev_t = np.full(n, MIN_TIME, dtype=np.int64)
    prev_bits = np.zeros(n, dtype=np.uint64)
    prev_t[has] = t[setter]
    prev_bits[has] = bits[setter]
    return prev_t, prev_bits
