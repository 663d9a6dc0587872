"""The head: the most recent samples of every series, in memory, WAL-backed.

Samples live in fixed-size chunks ("slots") of one 2-D numpy array per column, so a whole
scrape is validated and placed with a handful of numpy calls, with no Python object per
sample. Series refs are dense, never reused, and index the per-series state arrays.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
from collections import Counter as Tally
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.model import METRIC_NAME, Labels, Matcher
from vigil.tsdb._api import SelectHints, SeriesRef
from vigil.tsdb.chunkenc.head_chunk import ENCODE_ROWS, decode_chunks, encode_chunks
from vigil.tsdb.postings import MemPostings, RefArray, select_refs
from vigil.tsdb.series import SeriesBatch, SeriesData

if TYPE_CHECKING:
    from vigil.tsdb.wal import WAL

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

MIN_TIME = int(np.iinfo(np.int64).min)
MAX_TIME = int(np.iinfo(np.int64).max)
HOUR_MS = 3_600_000

# Why a sample (or a series) was refused; the `reason` label of vigil_tsdb_rejected_samples_total.
OUT_OF_ORDER = "out_of_order"
DUPLICATE = "duplicate"
OUT_OF_BOUNDS = "out_of_bounds"
SERIES_LIMIT = "series_limit"
UNKNOWN_SERIES = "unknown_series"


class AppendError(ValueError):
    """A sample or series the head refuses; `reason` is one of the rejection reasons."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class HeadOptions:
    block_range_ms: int = 2 * HOUR_MS
    out_of_order_time_window_ms: int = 0
    max_series: int = 0  # 0: no limit
    chunk_samples: int = 120


@dataclass(frozen=True, slots=True)
class CommitResult:
    """What one commit did: samples made visible, silently deduplicated, and refused by reason."""

    appended: int = 0
    deduplicated: int = 0
    rejected: Mapping[str, int] = field(default_factory=dict)


class HeadMetrics:
    """The head's self-metrics, with Prometheus's names, on a registry the caller owns."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.series = Gauge(
            "prometheus_tsdb_head_series",
            "Total number of series in the head block.",
            registry=registry,
        )
        self.series_created = Counter(
            "prometheus_tsdb_head_series_created",
            "Total number of series created in the head",
            registry=registry,
        )
        self.series_removed = Counter(
            "prometheus_tsdb_head_series_removed",
            "Total number of series removed in the head",
            registry=registry,
        )
        self.chunks = Gauge(
            "prometheus_tsdb_head_chunks",
            "Total number of chunks in the head block.",
            registry=registry,
        )
        self.samples_appended = Counter(
            "prometheus_tsdb_head_samples_appended",
            "Total number of appended samples.",
            ["type"],
            registry=registry,
        )
        self.out_of_order = Counter(
            "prometheus_tsdb_out_of_order_samples",
            "Total number of out of order samples ingestion failed attempts due to out of order being disabled.",
            ["type"],
            registry=registry,
        )
        self.out_of_bound = Counter(
            "prometheus_tsdb_out_of_bound_samples",
            "Total number of out of bound samples ingestion failed attempts with out of order support disabled.",
            ["type"],
            registry=registry,
        )
        self.ooo_appended = Counter(
            "prometheus_tsdb_head_out_of_order_samples_appended",
            "Total number of appended out of order samples.",
            ["type"],
            registry=registry,
        )
        self.rejected = Counter(
            "vigil_tsdb_rejected_samples",
            "Samples the head refused, by reason.",
            ["reason"],
            registry=registry,
        )
        self.series_refused = Counter(
            "vigil_tsdb_head_series_refused",
            "New series refused because the head reached its series limit.",
            registry=registry,
        )
        self.truncations = Counter(
            "prometheus_tsdb_head_truncations",
            "Total number of head truncations attempted.",
            registry=registry,
        )
        self.min_time = Gauge(
            "prometheus_tsdb_head_min_time",
            "Minimum time bound of the head block.",
            registry=registry,
        )
        self.max_time = Gauge(
            "prometheus_tsdb_head_max_time", "Maximum timestamp of the head.", registry=registry
        )


_Array = TypeVar("_Array", bound=npt.NDArray[Any])


def _grown(array: _Array, size: int, fill: object) -> _Array:
    """A copy with room for at least `size` rows (grown by half), new rows set to `fill`."""
    capacity = max(size, len(array) + len(array) // 2, 64)
    grown = np.empty((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[: len(array)] = array
    grown[len(array) :] = fill
    return grown  # type: ignore[return-value]


def _group_starts(sorted_refs: I64) -> Bools:
    first = np.empty(len(sorted_refs), dtype=np.bool_)
    if len(sorted_refs):
        first[0] = True
        np.not_equal(sorted_refs[1:], sorted_refs[:-1], out=first[1:])
    return first


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


# Distinct open-chunk fill levels in one replay block above which rows are placed one sample
# at a time (vectorised) rather than per fill level.
_MAX_FILL_GROUPS = 16


class _Lockstep:
    """WAL sample records grouped by their refs: within a group every record has the same
    strictly ascending refs, and no ref is in two groups, so stacking a group's records as
    columns gives each series its samples in WAL order."""

    def __init__(self, n_refs: int) -> None:
        self._n_refs = n_refs
        self._taken: Bools = np.zeros(n_refs, dtype=np.bool_)
        self._groups: list[tuple[I64, list[I64], list[F64]]] = []
        self._by_key: dict[tuple[int, int, int], int] = {}

    def add(self, refs: I64, ts: I64, vs: F64) -> bool:
        """Add a record (non-empty); False if it fits no group and cannot start one."""
        key = (len(refs), int(refs[0]), int(refs[-1]))
        at = self._by_key.get(key)
        if at is not None:
            group = self._groups[at]
            if not np.array_equal(group[0], refs):
                return False
            group[1].append(ts)
            group[2].append(vs)
            return True
        if key[1] < 0 or key[2] >= self._n_refs or not bool(np.all(refs[1:] > refs[:-1])):
            return False
        if self._taken[refs].any():
            return False
        self._taken[refs] = True
        self._by_key[key] = len(self._groups)
        self._groups.append((refs, [ts], [vs]))
        return True

    def take(self) -> list[tuple[I64, list[I64], list[F64]]]:
        """The groups so far, leaving none."""
        groups, self._groups = self._groups, []
        for refs, _, _ in groups:
            self._taken[refs] = False
        self._by_key.clear()
        return groups


@dataclass(frozen=True, slots=True)
class HeadSnapshot:
    """Everything the head holds, for a WAL checkpoint: series, then samples by (ref, time)."""

    series: list[tuple[int, Labels]]
    refs: I64
    timestamps: I64
    values: F64


class Head:
    """Series registry, postings and append buffers; implements the appender's commit and the
    querier's reads under one lock (numpy calls are short; no lock is held across I/O but WAL)."""

    def __init__(
        self,
        options: HeadOptions | None = None,
        registry: CollectorRegistry | None = None,
        wal: WAL | None = None,
    ) -> None:
        self.options = options or HeadOptions()
        self.metrics = HeadMetrics(registry if registry is not None else CollectorRegistry())
        self._wal = wal
        self._lock = threading.RLock()
        self._postings = MemPostings()
        self._by_labels: dict[Labels, int] = {}
        self._labels: list[Labels | None] = []
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        self._n_alive = 0
        # Per series, indexed by ref.
        self._alive: Bools = np.zeros(0, dtype=np.bool_)
        self._logged: Bools = np.zeros(0, dtype=np.bool_)
        self._gc_candidate: Bools = np.zeros(0, dtype=np.bool_)
        self._open_slot: I64 = np.zeros(0, dtype=np.int64)
        self._last_t: I64 = np.zeros(0, dtype=np.int64)
        self._last_bits: U64 = np.zeros(0, dtype=np.uint64)
        self._min_t: I64 = np.zeros(0, dtype=np.int64)
        # Open chunks, raw: at most one per series, a row ("slot") of 2-D arrays whose width
        # grows, as series fill their chunks, up to chunk_samples.
        width = min(self.options.chunk_samples, 4)
        self._ts: I64 = np.zeros((0, width), dtype=np.int64)
        self._vs: F64 = np.zeros((0, width), dtype=np.float64)
        self._slot_owner: I64 = np.zeros(0, dtype=np.int64)
        self._slot_len: I64 = np.zeros(0, dtype=np.int64)
        self._slots_used = 0
        self._free: I64 = np.zeros(0, dtype=np.int64)
        self._n_free = 0
        # Closed (full) chunks, encoded, in the order they closed, with owner and time range.
        self._chunks: list[bytes] = []
        self._chunk_owner: I64 = np.zeros(0, dtype=np.int64)
        self._chunk_mint: I64 = np.zeros(0, dtype=np.int64)
        self._chunk_maxt: I64 = np.zeros(0, dtype=np.int64)
        self._decoded = _DecodedChunks(_DECODED_CACHE_BYTES)
        # Out-of-order samples (accepted within out_of_order_time_window_ms): a rare side log.
        self._ooo_ref: I64 = np.zeros(0, dtype=np.int64)
        self._ooo_t: I64 = np.zeros(0, dtype=np.int64)
        self._ooo_v: F64 = np.zeros(0, dtype=np.float64)
        self._n_ooo = 0
        self._max_t = MIN_TIME
        self._min_valid_t = MIN_TIME
        self._refused_by_name: Tally[str] = Tally()
        self._wal_token = 0

    def attach_wal(self, wal: WAL) -> None:
        """Log every commit from now on (after replay, which must not re-log)."""
        with self._lock:
            self._wal = wal

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold off commits, e.g. while a WAL segment is cut and the head snapshotted."""
        with self._lock:
            yield

    # ----- series registry -----

    @property
    def num_series(self) -> int:
        return self._n_alive

    @property
    def num_chunks(self) -> int:
        open_chunks = int(np.count_nonzero(self._slot_len[: self._slots_used]))
        return len(self._chunks) + open_chunks

    def _intern(self, labels: Labels) -> Labels:
        pairs = self._pairs
        try:  # every pair seen before: the usual case
            return Labels([pairs[pair] for pair in labels])
        except KeyError:
            pass
        interned = []
        for pair in labels:
            shared = pairs.get(pair)
            if shared is None:
                shared = pairs[pair] = (sys.intern(pair[0]), sys.intern(pair[1]))
            interned.append(shared)
        return Labels(interned)

    def _ensure_series_capacity(self, size: int) -> None:
        if size <= len(self._alive):
            return
        self._alive = _grown(self._alive, size, False)
        self._logged = _grown(self._logged, size, False)
        self._gc_candidate = _grown(self._gc_candidate, size, False)
        self._open_slot = _grown(self._open_slot, size, -1)
        self._last_t = _grown(self._last_t, size, MIN_TIME)
        self._last_bits = _grown(self._last_bits, size, 0)
        self._min_t = _grown(self._min_t, size, MAX_TIME)

    def _add_series(self, ref: int, labels: Labels) -> None:
        labels = self._intern(labels)
        while len(self._labels) <= ref:
            self._labels.append(None)
        self._ensure_series_capacity(ref + 1)
        self._labels[ref] = labels
        self._by_labels[labels] = ref
        self._alive[ref] = True
        self._postings.add(ref, labels)
        self._n_alive += 1
        self.metrics.series_created.inc()
        self.metrics.series.set(self._n_alive)

    def get_or_create(self, labels: Labels) -> SeriesRef:
        """The series' ref, created if new; -1 (counted, name remembered) past max_series."""
        ref = self._by_labels.get(labels)
        if ref is not None:
            return ref
        with self._lock:
            ref = self._by_labels.get(labels)
            if ref is not None:
                return ref
            limit = self.options.max_series
            if limit and self._n_alive >= limit:
                self._refused_by_name[labels.get(METRIC_NAME)] += 1
                self.metrics.series_refused.inc()
                return -1
            ref = len(self._labels)
            self._add_series(ref, labels)
            return ref

    def refs_for(self, labels: Sequence[Labels]) -> I64:
        known = self._by_labels
        refs = [known.get(item) for item in labels]
        return np.fromiter(
            (
                ref if ref is not None else self.get_or_create(item)
                for ref, item in zip(refs, labels, strict=True)
            ),
            dtype=np.int64,
            count=len(refs),
        )

    def labels_of(self, ref: SeriesRef) -> Labels | None:
        return self._labels[ref] if 0 <= ref < len(self._labels) else None

    def refused_series_top(self, n: int = 10) -> list[tuple[str, int]]:
        """Metric names whose new series were refused by the series limit, most first."""
        return self._refused_by_name.most_common(n)

    def set_min_valid_time(self, t_ms: int) -> None:
        """Samples older than this are refused (they belong to persisted blocks)."""
        with self._lock:
            self._min_valid_t = max(self._min_valid_t, t_ms)

    # ----- time range -----

    @property
    def max_time(self) -> int:
        return self._max_t

    @property
    def min_time(self) -> int:
        """Oldest sample time held (MAX_TIME when empty)."""
        n = len(self._labels)
        alive = self._alive[:n] & (self._last_t[:n] != MIN_TIME)
        if not alive.any():
            return MAX_TIME
        return max(int(self._min_t[:n][alive].min()), self._min_valid_t)

    # ----- appending -----

    def appender(self) -> HeadAppender:
        return HeadAppender(self)

    def _appendable_min_time(self) -> int:
        """Prometheus's bound: nothing older than the last block, nor (when out-of-order is
        off) than half a block range before the newest sample."""
        if self.options.out_of_order_time_window_ms > 0 or self._max_t == MIN_TIME:
            return self._min_valid_t
        return max(self._min_valid_t, self._max_t - self.options.block_range_ms // 2)

    def commit(self, refs: I64, ts: I64, vs: F64) -> CommitResult:
        """Validate, log to the WAL, then make visible; a WAL failure raises and applies nothing."""
        with self._lock:
            self._wal_token = 0
            result = self._apply(refs, ts, vs, replaying=False, out_of_order=False)
            token = self._wal_token
        if token and self._wal is not None:
            self._wal.wait_durable(token)
        return result

    def replay(self, refs: I64, ts: I64, vs: F64, out_of_order: bool) -> CommitResult:
        """Re-apply one WAL record: samples older than the last block are skipped, nothing is logged."""
        with self._lock:
            return self._apply(refs, ts, vs, replaying=True, out_of_order=out_of_order)

    def replay_series(self, ref: int, labels: Labels) -> None:
        with self._lock:
            existing = self._by_labels.get(labels)
            if existing is not None or (ref < len(self._labels) and self._labels[ref] is not None):
                return
            self._add_series(ref, labels)
            self._logged[ref] = True

    def replay_series_many(self, series: Sequence[tuple[int, Labels]]) -> None:
        """`replay_series` for a whole WAL record, with the per-series bookkeeping done once."""
        if not series:
            return
        with self._lock:
            top = max(ref for ref, _ in series)
            labels_of = self._labels
            if top >= len(labels_of):
                labels_of.extend([None] * (top + 1 - len(labels_of)))
            self._ensure_series_capacity(top + 1)
            by_labels = self._by_labels
            add = self._postings.add
            created: list[int] = []
            for ref, labels in series:
                if labels in by_labels or labels_of[ref] is not None:
                    continue
                labels = self._intern(labels)
                labels_of[ref] = labels
                by_labels[labels] = ref
                add(ref, labels)
                created.append(ref)
            refs = np.array(created, dtype=np.int64)
            self._alive[refs] = True
            self._logged[refs] = True
            self._n_alive += len(created)
            self.metrics.series_created.inc(len(created))
            self.metrics.series.set(self._n_alive)

    def replay_in_order(self, records: Sequence[tuple[I64, I64, F64]]) -> None:
        """Re-apply in-order WAL sample records, in WAL order, exactly as `replay` would one
        after another, but without sorting for the usual shape: records that repeat one set of
        series (a target's scrapes) are stacked into a (series x records) block, placed and
        chunked row by row. A record that fits no block (a ref twice, refs of another block)
        first places the blocks gathered so far, so every series sees its samples in order."""
        with self._lock:
            blocks = _Lockstep(len(self._labels))
            for refs, ts, vs in records:
                if not len(refs) or blocks.add(refs, ts, vs):
                    continue
                self._replay_lockstep(blocks.take())
                if not blocks.add(refs, ts, vs):
                    self._apply(refs, ts, vs, replaying=True, out_of_order=False)
            self._replay_lockstep(blocks.take())

    def _replay_lockstep(self, groups: list[tuple[I64, list[I64], list[F64]]]) -> None:
        """Groups (disjoint refs) with the same record count share one block. The block is
        built a record per row (plain copies) and handed on transposed, as a view: the one
        transposing copy is then the write into the open chunks or the closed ones."""
        by_width: dict[int, list[tuple[I64, list[I64], list[F64]]]] = {}
        for group in groups:
            by_width.setdefault(len(group[1]), []).append(group)
        for width, members in by_width.items():
            refs = np.concatenate([m[0] for m in members]) if len(members) > 1 else members[0][0]
            ts = np.empty((width, len(refs)), dtype=np.int64)
            vs = np.empty((width, len(refs)), dtype=np.float64)
            start = 0
            for member_refs, member_ts, member_vs in members:
                end = start + len(member_refs)
                for row, (t, v) in enumerate(zip(member_ts, member_vs, strict=True)):
                    ts[row, start:end] = t
                    vs[row, start:end] = v
                start = end
            self._replay_block(refs, ts.T, vs.T)

    def _replay_block(self, refs: I64, ts: I64, vs: F64) -> None:
        """Row i: samples of series refs[i] (refs distinct and known) in WAL order. Rows plainly
        in order are placed row-wise; the others (dead series, older or repeated timestamps,
        samples before the last block) go through `_apply`, which refuses or deduplicates as
        it does for a commit."""
        width = ts.shape[1]
        first = ts[:, 0]
        ok = self._alive[refs] & (first > self._last_t[refs]) & (first >= self._min_valid_t)
        if width > 1:
            ok &= (ts[:, 1:] > ts[:, :-1]).all(axis=1)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            self._apply(
                np.repeat(refs[bad], width),
                ts[bad].reshape(-1),
                vs[bad].reshape(-1),
                replaying=True,
                out_of_order=False,
            )
            good = np.flatnonzero(ok)
            refs, ts, vs = refs[good], ts[good], vs[good]
            if not len(refs):
                return
        open_slot = self._open_slot[refs]
        fill = np.zeros(len(refs), dtype=np.int64)
        has_open = open_slot >= 0
        fill[has_open] = self._slot_len[open_slot[has_open]]
        fills = fill[:1] if fill.min() == fill.max() else np.unique(fill)
        if len(fills) > _MAX_FILL_GROUPS:  # series far out of step: the general placement
            self._insert_in_order(np.repeat(refs, width), ts.reshape(-1), vs.reshape(-1))
        elif len(fills) == 1:
            self._place_rows(int(fills[0]), refs, open_slot, ts, vs)
        else:
            for at in fills.tolist():
                rows = np.flatnonzero(fill == at)
                self._place_rows(at, refs[rows], open_slot[rows], ts[rows], vs[rows])
        self._last_t[refs] = ts[:, -1]
        self._last_bits[refs] = vs[:, -1].view(np.uint64)
        self._min_t[refs] = np.minimum(self._min_t[refs], ts[:, 0])
        self._max_t = max(self._max_t, int(ts[:, -1].max()))
        self.metrics.samples_appended.labels("float").inc(ts.size)
        self.metrics.max_time.set(self._max_t)
        self.metrics.chunks.set(self.num_chunks)

    def _place_rows(self, fill: int, refs: I64, slots: I64, ts: I64, vs: F64) -> None:
        """Append each row to its series' open chunk (`fill` samples in it already, slot -1
        if none), closing full chunks: the open samples, then the row's, cut every
        chunk_samples."""
        size = self.options.chunk_samples
        rows, width = ts.shape
        closing = (fill + width) // size
        if closing:
            taken = closing * size - fill  # of each row, into closed chunks
            # Built and encoded a few hundred chunks at a time, so they stay in cache.
            step = max(1, ENCODE_ROWS // closing)
            for start in range(0, rows, step):
                end = min(start + step, rows)
                if fill:
                    chunk_ts = np.empty((end - start, closing * size), dtype=np.int64)
                    chunk_vs = np.empty((end - start, closing * size), dtype=np.float64)
                    chunk_ts[:, :fill] = self._ts[slots[start:end], :fill]
                    chunk_vs[:, :fill] = self._vs[slots[start:end], :fill]
                    chunk_ts[:, fill:] = ts[start:end, :taken]
                    chunk_vs[:, fill:] = vs[start:end, :taken]
                else:
                    chunk_ts, chunk_vs = ts[start:end, :taken], vs[start:end, :taken]
                self._add_chunks(
                    np.repeat(refs[start:end], closing),
                    chunk_ts.reshape(-1, size),
                    chunk_vs.reshape(-1, size),
                )
            ts, vs = ts[:, taken:], vs[:, taken:]
            fill = 0
        remain = fill + ts.shape[1]
        if remain:
            lacking = slots < 0
            if lacking.any():
                slots = slots.copy()
                ids = self._alloc_slots(int(lacking.sum()))
                slots[lacking] = ids
                self._slot_owner[ids] = refs[lacking]
                self._open_slot[refs[lacking]] = ids
            if remain > self._ts.shape[1]:  # replay fills chunks: widen once, not by doubling
                self._widen_slots(size)
            self._ts[slots, fill:remain] = ts
            self._vs[slots, fill:remain] = vs
            self._slot_len[slots] = remain
        else:
            self._slot_len[slots[slots >= 0]] = 0

    def _apply(
        self, refs: I64, ts: I64, vs: F64, replaying: bool, out_of_order: bool
    ) -> CommitResult:
        rejected: Tally[str] = Tally()
        n_refs = len(self._labels)
        known = (refs >= 0) & (refs < n_refs)
        known[known] = self._alive[refs[known]]
        if not known.all():
            rejected[SERIES_LIMIT] += int((refs < 0).sum())
            rejected[UNKNOWN_SERIES] += int(((refs >= 0) & ~known).sum())
            refs, ts, vs = refs[known], ts[known], vs[known]
        order = np.argsort(refs, kind="stable")
        r, t, v = refs[order], ts[order], vs[order]
        bits = v.view(np.uint64)
        first = _group_starts(r)
        prev_t = self._last_t[r]
        prev_bits = self._last_bits[r]
        if len(r) and not first.all():
            batch_t, batch_bits = _previous_in_batch(t, bits, first)
            later = batch_t > prev_t
            prev_t = np.where(later, batch_t, prev_t)
            prev_bits = np.where(later, batch_bits, prev_bits)
        min_time = self._min_valid_t if replaying else self._appendable_min_time()
        in_bounds = t >= min_time
        same = in_bounds & (t == prev_t)
        deduped = same & (bits == prev_bits)
        accept = in_bounds & (t > prev_t)
        older = in_bounds & (t < prev_t)
        n_bounds = int(len(t) - in_bounds.sum())
        if n_bounds and not replaying:
            rejected[OUT_OF_BOUNDS] += n_bounds
        rejected[DUPLICATE] += int(same.sum() - deduped.sum())
        window = self.options.out_of_order_time_window_ms
        ooo_rows: list[int] = []
        if out_of_order or window > 0:
            candidates = older if out_of_order else older & (t >= self._max_t - window)
            ooo_rows, ooo_dups = self._out_of_order_rows(r, t, bits, np.flatnonzero(candidates))
            rejected[DUPLICATE] += ooo_dups
            older &= ~candidates
        rejected[OUT_OF_ORDER] += int(older.sum())
        acc_r, acc_t, acc_v = r[accept], t[accept], v[accept]
        ooo = np.asarray(ooo_rows, dtype=np.int64)
        if not replaying:
            self._log(acc_r, acc_t, acc_v, r[ooo], t[ooo], v[ooo])
        if len(acc_r):
            self._insert_in_order(acc_r, acc_t, acc_v)
        if len(ooo):
            self._insert_out_of_order(r[ooo], t[ooo], v[ooo])
        appended = len(acc_r) + len(ooo)
        if appended:
            self._max_t = max(self._max_t, int(acc_t.max()) if len(acc_t) else MIN_TIME)
            self.metrics.samples_appended.labels("float").inc(appended)
            self.metrics.max_time.set(self._max_t)
            self.metrics.chunks.set(self.num_chunks)
        if len(ooo):
            self.metrics.ooo_appended.labels("float").inc(len(ooo))
        result = {reason: count for reason, count in rejected.items() if count}
        for reason, count in result.items():
            self.metrics.rejected.labels(reason).inc(count)
        if result.get(OUT_OF_ORDER):
            self.metrics.out_of_order.labels("float").inc(result[OUT_OF_ORDER])
        if result.get(OUT_OF_BOUNDS):
            self.metrics.out_of_bound.labels("float").inc(result[OUT_OF_BOUNDS])
        return CommitResult(appended, int(deduped.sum()), result)

    def _out_of_order_rows(self, r: I64, t: I64, bits: U64, rows: I64) -> tuple[list[int], int]:
        """Rows of older samples to accept out of order: the rare path, one row at a time,
        refusing a timestamp the series already has (deduplicating an identical value)."""
        accepted: list[int] = []
        duplicates = 0
        seen: dict[tuple[int, int], int] = {}
        for row in rows.tolist():
            ref, ts = int(r[row]), int(t[row])
            existing = seen.get((ref, ts))
            if existing is None:
                found = self._value_bits_at(ref, ts)
                existing = found if found is not None else -1
            if existing == -1:
                seen[(ref, ts)] = int(bits[row])
                accepted.append(row)
            elif existing != int(bits[row]):
                duplicates += 1
        return accepted, duplicates

    def _value_bits_at(self, ref: int, t_ms: int) -> int | None:
        _, ts, vs = self._gather(np.array([ref], dtype=np.int64), t_ms, t_ms)
        return int(vs.view(np.uint64)[0]) if len(ts) else None

    def _log(self, r: I64, t: I64, v: F64, ooo_r: I64, ooo_t: I64, ooo_v: F64) -> None:
        if self._wal is None or not (len(r) or len(ooo_r)):
            return
        from vigil.tsdb import wal as walfmt

        touched = np.concatenate([r, ooo_r]) if len(ooo_r) else r
        new = np.unique(touched[~self._logged[touched]])
        records = []
        if len(new):
            records.append(
                walfmt.encode_series([(ref, self._series_labels(ref)) for ref in new.tolist()])
            )
        if len(r):
            records.append(walfmt.encode_samples(r, t, v))
        if len(ooo_r):
            records.append(walfmt.encode_samples(ooo_r, ooo_t, ooo_v, out_of_order=True))
        self._wal_token = self._wal.log(records)
        self._logged[new] = True

    def _series_labels(self, ref: int) -> Labels:
        labels = self._labels[ref]
        assert labels is not None
        return labels

    def _alloc_slots(self, count: int) -> I64:
        reused = min(count, self._n_free)
        ids = [self._free[self._n_free - reused : self._n_free].copy()]
        self._n_free -= reused
        fresh = count - reused
        if fresh:
            start = self._slots_used
            self._slots_used += fresh
            if self._slots_used > len(self._slot_owner):
                size = self._slots_used
                self._ts = _grown(self._ts, size, 0)
                self._vs = _grown(self._vs, size, 0.0)
                self._slot_owner = _grown(self._slot_owner, size, -1)
                self._slot_len = _grown(self._slot_len, size, 0)
            ids.append(np.arange(start, start + fresh, dtype=np.int64))
        return np.concatenate(ids)

    def _free_slots(self, slots: I64) -> None:
        self._slot_owner[slots] = -1
        self._slot_len[slots] = 0
        end = self._n_free + len(slots)
        if end > len(self._free):
            self._free = _grown(self._free, end, 0)
        self._free[self._n_free : end] = slots
        self._n_free = end

    def _widen_slots(self, needed: int) -> None:
        """Give every slot room for `needed` samples (doubling, at most chunk_samples)."""
        old = self._ts.shape[1]
        width = min(self.options.chunk_samples, max(needed, 2 * old))
        ts = np.zeros((len(self._ts), width), dtype=np.int64)
        vs = np.zeros((len(self._vs), width), dtype=np.float64)
        ts[:, :old] = self._ts
        vs[:, :old] = self._vs
        self._ts, self._vs = ts, vs

    def _insert_in_order(self, r: I64, t: I64, v: F64) -> None:
        """Place samples sorted by ref (time ascending within a ref) into the series' open
        chunks, vectorised; chunks that fill up are encoded, all of this commit's together."""
        size = self.options.chunk_samples
        n = len(r)
        first = _group_starts(r)
        starts = np.flatnonzero(first)
        refs = r[starts]
        counts = np.diff(np.append(starts, n))
        open_slot = self._open_slot[refs]
        fill = np.zeros(len(refs), dtype=np.int64)
        has_open = open_slot >= 0
        fill[has_open] = self._slot_len[open_slot[has_open]]
        closing = (fill + counts) // size
        remain = (fill + counts) % size
        position = (
            np.repeat(fill, counts) + np.arange(n, dtype=np.int64) - np.repeat(starts, counts)
        )
        chunk = position // size
        column = position % size
        to_open = chunk == np.repeat(closing, counts)
        if closing.any():
            self._close_chunks(
                refs, counts, fill, open_slot, closing, chunk, column, ~to_open, t, v
            )
        lacking = (remain > 0) & (open_slot < 0)
        if lacking.any():
            ids = self._alloc_slots(int(lacking.sum()))
            open_slot[lacking] = ids
            self._slot_owner[ids] = refs[lacking]
            self._open_slot[refs[lacking]] = ids
        if to_open.any():
            widest = int(remain.max())
            if widest > self._ts.shape[1]:
                self._widen_slots(widest)
            slot = np.repeat(open_slot, counts)[to_open]
            self._ts[slot, column[to_open]] = t[to_open]
            self._vs[slot, column[to_open]] = v[to_open]
        has_slot = open_slot >= 0
        self._slot_len[open_slot[has_slot]] = remain[has_slot]
        last = np.append(starts[1:], n) - 1
        self._last_t[refs] = t[last]
        self._last_bits[refs] = v.view(np.uint64)[last]
        self._min_t[refs] = np.minimum(self._min_t[refs], t[starts])

    def _close_chunks(
        self,
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
        size = self.options.chunk_samples
        total = int(closing.sum())
        base = np.cumsum(closing) - closing
        chunk_ts = np.empty((total, size), dtype=np.int64)
        chunk_vs = np.empty((total, size), dtype=np.float64)
        carried = np.flatnonzero((fill > 0) & (closing > 0))
        if len(carried):
            which, cols = np.nonzero(
                np.arange(self._ts.shape[1], dtype=np.int64) < fill[carried][:, None]
            )
            src, dst = open_slot[carried][which], base[carried][which]
            chunk_ts[dst, cols] = self._ts[src, cols]
            chunk_vs[dst, cols] = self._vs[src, cols]
        row = (np.repeat(base, counts) + chunk)[closed]
        chunk_ts[row, column[closed]] = t[closed]
        chunk_vs[row, column[closed]] = v[closed]
        self._add_chunks(np.repeat(refs, closing), chunk_ts, chunk_vs)

    def _add_chunks(self, owners: I64, chunk_ts: I64, chunk_vs: F64) -> None:
        """Encode full chunks (one per row, owners[i] owning row i) and keep them."""
        records = encode_chunks(chunk_ts, chunk_vs)
        start = len(self._chunks)
        end = start + len(records)
        if end > len(self._chunk_owner):
            self._chunk_owner = _grown(self._chunk_owner, end, -1)
            self._chunk_mint = _grown(self._chunk_mint, end, 0)
            self._chunk_maxt = _grown(self._chunk_maxt, end, 0)
        self._chunks.extend(records)
        self._chunk_owner[start:end] = owners
        self._chunk_mint[start:end] = chunk_ts[:, 0]
        self._chunk_maxt[start:end] = chunk_ts[:, -1]

    def _insert_out_of_order(self, r: I64, t: I64, v: F64) -> None:
        end = self._n_ooo + len(r)
        if end > len(self._ooo_ref):
            self._ooo_ref = _grown(self._ooo_ref, end, -1)
            self._ooo_t = _grown(self._ooo_t, end, 0)
            self._ooo_v = _grown(self._ooo_v, end, 0.0)
        self._ooo_ref[self._n_ooo : end] = r
        self._ooo_t[self._n_ooo : end] = t
        self._ooo_v[self._n_ooo : end] = v
        self._n_ooo = end
        np.minimum.at(self._min_t, r, t)

    # ----- reading -----

    def _gather(self, refs: RefArray, mint: int, maxt: int) -> tuple[I64, I64, F64]:
        """Samples of the given series in [mint, maxt], sorted by (ref, time)."""
        mint = max(mint, self._min_valid_t)
        chosen = np.zeros(len(self._labels) + 1, dtype=np.bool_)
        chosen[refs] = True
        parts_r: list[I64] = []
        parts_t: list[I64] = []
        parts_v: list[F64] = []
        n_chunks = len(self._chunks)
        if n_chunks:
            owner = self._chunk_owner[:n_chunks]
            ids = np.flatnonzero(
                chosen[owner]
                & (self._chunk_mint[:n_chunks] <= maxt)
                & (self._chunk_maxt[:n_chunks] >= mint)
            )
            if len(ids):
                ids = ids[np.argsort(owner[ids], kind="stable")]
                chunks = self._chunks
                ct, cv, lengths = self._decoded.decode(tuple(chunks[i] for i in ids.tolist()))
                parts_r.append(np.repeat(owner[ids], lengths))
                parts_t.append(ct)
                parts_v.append(cv)
        slot_owner = self._slot_owner[: self._slots_used]
        slots = np.flatnonzero(chosen[slot_owner])  # free slots have owner -1: the extra False
        lengths = self._slot_len[slots]
        slots, lengths = slots[lengths > 0], lengths[lengths > 0]
        overlap = (self._ts[slots, 0] <= maxt) & (self._ts[slots, lengths - 1] >= mint)
        slots, lengths = slots[overlap], lengths[overlap]
        total = int(lengths.sum())
        rows = np.repeat(slots, lengths)
        columns = np.arange(total, dtype=np.int64) - np.repeat(
            np.cumsum(lengths) - lengths, lengths
        )
        parts_r.append(np.repeat(slot_owner[slots], lengths))
        parts_t.append(self._ts[rows, columns])
        parts_v.append(self._vs[rows, columns])
        # A series' closed chunks all precede its open one: a stable sort by ref orders time.
        out_r = np.concatenate(parts_r)
        order = np.argsort(out_r, kind="stable")
        out_r = out_r[order]
        out_t = np.concatenate(parts_t)[order]
        out_v = np.concatenate(parts_v)[order]
        keep = (out_t >= mint) & (out_t <= maxt)
        out_r, out_t, out_v = out_r[keep], out_t[keep], out_v[keep]
        if self._n_ooo:
            o_r = self._ooo_ref[: self._n_ooo]
            o_t = self._ooo_t[: self._n_ooo]
            extra = chosen[o_r] & (o_t >= mint) & (o_t <= maxt)
            if extra.any():
                out_r = np.concatenate([out_r, o_r[extra]])
                out_t = np.concatenate([out_t, o_t[extra]])
                out_v = np.concatenate([out_v, self._ooo_v[: self._n_ooo][extra]])
                order = np.lexsort((out_t, out_r))
                out_r, out_t, out_v = out_r[order], out_t[order], out_v[order]
        return out_r, out_t, out_v

    def select_refs(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> RefArray:
        """Ascending refs of live series matching all matchers whose samples span [mint, maxt]."""
        with self._lock:
            n = len(self._labels)
            refs = select_refs(self._postings, matchers, lambda: np.flatnonzero(self._alive[:n]))
            lo = max(mint, self._min_valid_t)
            keep = (
                (self._last_t[refs] != MIN_TIME)
                & (self._min_t[refs] <= maxt)
                & (self._last_t[refs] >= lo)
            )
            selected: RefArray = refs[keep]
            return selected

    def series_data(self, refs: RefArray, mint: int, maxt: int) -> Iterator[SeriesData]:
        """SeriesData for those refs that have samples in [mint, maxt], in label order."""
        with self._lock:
            out_r, out_t, out_v = self._gather(refs, mint, maxt)
            labels = self._labels
            if not len(out_r):
                return iter(())
            bounds = np.flatnonzero(out_r[1:] != out_r[:-1]) + 1
            starts = np.concatenate([[0], bounds]).tolist()
            ends = [*bounds.tolist(), len(out_r)]
            owners = out_r[starts].tolist()
            found = []
            for ref, a, b in zip(owners, starts, ends, strict=True):
                series_labels = labels[ref]
                assert series_labels is not None
                found.append(SeriesData(series_labels, out_t[a:b], out_v[a:b]))
        found.sort(key=lambda s: s.labels)
        return iter(found)

    def series_batch(self, refs: RefArray, mint: int, maxt: int) -> SeriesBatch:
        """`series_data` as one SeriesBatch (label order), without an object per series."""
        with self._lock:
            out_r, out_t, out_v = self._gather(refs, mint, maxt)
            if not len(out_r):
                return SeriesBatch.of([])
            bounds = np.flatnonzero(out_r[1:] != out_r[:-1]) + 1
            starts = np.concatenate([[0], bounds, [len(out_r)]]).astype(np.int64)
            labels = [self._labels[ref] for ref in out_r[starts[:-1]].tolist()]
        order = sorted(range(len(labels)), key=labels.__getitem__)
        if any(i != at for at, i in enumerate(order)):
            lengths = np.diff(starts)[order]
            firsts = starts[:-1][order]
            take = np.arange(int(lengths.sum())) + np.repeat(
                firsts - (np.cumsum(lengths) - lengths), lengths
            )
            out_t, out_v = out_t[take], out_v[take]
            starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            labels = [labels[i] for i in order]
        return SeriesBatch(tuple(labels), out_t, out_v, starts)

    def querier(self, mint: int, maxt: int) -> HeadQuerier:
        return HeadQuerier(self, mint, maxt)

    # ----- truncation, snapshots, stats -----

    def truncate(self, cut_ms: int) -> int:
        """Drop every sample older than cut_ms (now in a block) and series left without any;
        returns the number of series removed."""
        with self._lock:
            self.metrics.truncations.inc()
            self._min_valid_t = max(self._min_valid_t, cut_ms)
            used = self._slots_used
            lengths = self._slot_len[:used]
            live = lengths > 0
            slot_max = np.full(used, MAX_TIME, dtype=np.int64)
            live_ids = np.flatnonzero(live)
            slot_max[live_ids] = self._ts[live_ids, lengths[live_ids] - 1]
            dead_slots = np.flatnonzero(live & (slot_max < cut_ms))
            if len(dead_slots):
                owners = self._slot_owner[dead_slots]
                was_open = self._open_slot[owners] == dead_slots
                self._open_slot[owners[was_open]] = -1
                self._free_slots(dead_slots)
            self._drop_chunks_before(cut_ms)
            if self._n_ooo:
                keep = self._ooo_t[: self._n_ooo] >= cut_ms
                kept = int(keep.sum())
                self._ooo_ref[:kept] = self._ooo_ref[: self._n_ooo][keep]
                self._ooo_t[:kept] = self._ooo_t[: self._n_ooo][keep]
                self._ooo_v[:kept] = self._ooo_v[: self._n_ooo][keep]
                self._n_ooo = kept
            n = len(self._labels)
            alive = self._alive[:n]
            last_t = self._last_t[:n]
            empty = last_t == MIN_TIME
            dead = alive & (last_t < cut_ms) & (~empty | self._gc_candidate[:n])
            self._gc_candidate[:n] = alive & empty & ~dead
            dead_refs = np.flatnonzero(dead)
            removed = []
            for ref in dead_refs.tolist():
                labels = self._labels[ref]
                assert labels is not None
                removed.append((ref, labels))
                del self._by_labels[labels]
                self._labels[ref] = None
            self._postings.remove(removed)
            self._alive[dead_refs] = False
            leftover = self._open_slot[dead_refs]
            self._free_slots(leftover[leftover >= 0])
            self._open_slot[dead_refs] = -1
            self._n_alive -= len(dead_refs)
            self._reset_min_times(np.flatnonzero(self._alive[:n]), cut_ms)
            self.metrics.series_removed.inc(len(dead_refs))
            self.metrics.series.set(self._n_alive)
            self.metrics.chunks.set(self.num_chunks)
            self.metrics.min_time.set(max(cut_ms, 0))
            return len(dead_refs)

    def _drop_chunks_before(self, cut_ms: int) -> None:
        """Forget closed chunks wholly older than cut_ms, keeping the others in closing order."""
        n_chunks = len(self._chunks)
        keep = np.flatnonzero(self._chunk_maxt[:n_chunks] >= cut_ms)
        if len(keep) == n_chunks:
            return
        chunks = self._chunks
        self._chunks = [chunks[i] for i in keep.tolist()]
        kept = len(keep)
        for column in (self._chunk_owner, self._chunk_mint, self._chunk_maxt):
            column[:kept] = column[keep]
            column[kept:n_chunks] = -1

    def _reset_min_times(self, survivors: I64, cut_ms: int) -> None:
        """Each survivor's oldest sample from cut_ms on: a closed chunk's start where the
        series' first chunk starts after the cut, else found by reading (one chunk at most)."""
        if not len(survivors):
            return
        self._min_t[survivors] = MAX_TIME
        n_chunks = len(self._chunks)
        owners, first = np.unique(self._chunk_owner[:n_chunks], return_index=True)
        first_mint = self._chunk_mint[first]
        after = first_mint >= cut_ms
        self._min_t[owners[after]] = first_mint[after]
        reads = [(owners[~after], int(self._chunk_maxt[first[~after]].max(initial=MIN_TIME)))]
        without = np.setdiff1d(survivors, owners, assume_unique=True)
        if self._n_ooo:
            without = np.union1d(without, self._ooo_ref[: self._n_ooo])
        reads.append((without, MAX_TIME))
        for refs, upto in reads:
            if not len(refs):
                continue
            kept_r, kept_t, _ = self._gather(refs, cut_ms, upto)
            if len(kept_r):
                firsts = _group_starts(kept_r)
                found = kept_r[firsts]
                self._min_t[found] = np.minimum(self._min_t[found], kept_t[firsts])

    def snapshot(self) -> HeadSnapshot:
        with self._lock:
            n = len(self._labels)
            refs = np.flatnonzero(self._alive[:n])
            series = [(ref, self._series_labels(ref)) for ref in refs.tolist()]
            r, t, v = self._gather(refs, MIN_TIME, MAX_TIME)
            return HeadSnapshot(series, r, t, v)

    def series_count_by_metric_name(self, n: int = 10) -> list[tuple[str, int]]:
        counts = self._postings.cardinality(METRIC_NAME)
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    def label_value_count_by_name(self, n: int = 10) -> list[tuple[str, int]]:
        counts = self._postings.value_counts()
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:n]

    def series_count_by_label_pair(self, n: int = 10) -> list[tuple[str, int]]:
        pairs: list[tuple[str, int]] = []
        for name in self._postings.names():
            pairs.extend(
                (f"{name}={value}", count)
                for value, count in self._postings.cardinality(name).items()
            )
        return sorted(pairs, key=lambda item: (-item[1], item[0]))[:n]

    def memory_in_bytes_by_label_name(self, n: int = 10) -> list[tuple[str, int]]:
        sizes = {
            name: sum(
                len(value) * count for value, count in self._postings.cardinality(name).items()
            )
            for name in self._postings.names()
        }
        return sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:n]

    def postings(self) -> MemPostings:
        return self._postings


class HeadAppender:
    """One transaction against the head: buffered until commit, discarded by rollback."""

    def __init__(self, head: Head) -> None:
        self._head = head
        self._batches: list[tuple[I64, I64, F64]] = []
        self._one_refs: list[int] = []
        self._one_ts: list[int] = []
        self._one_vs: list[float] = []
        self.result = CommitResult()

    def append(self, labels: Labels, t_ms: int, value: float) -> SeriesRef:
        ref = self._head.get_or_create(labels)
        if ref < 0:
            raise AppendError(SERIES_LIMIT, f"series limit reached, refusing new series {labels}")
        self.append_by_ref(ref, t_ms, value)
        return ref

    def append_by_ref(self, ref: SeriesRef, t_ms: int, value: float) -> None:
        self._one_refs.append(ref)
        self._one_ts.append(t_ms)
        self._one_vs.append(value)

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
        if not batches:
            self.result = CommitResult()
            return
        if len(batches) == 1:
            refs, ts, vs = batches[0]
        else:
            refs = np.concatenate([b[0] for b in batches])
            ts = np.concatenate([b[1] for b in batches])
            vs = np.concatenate([b[2] for b in batches])
        self.result = self._head.commit(refs, ts, vs)

    def rollback(self) -> None:
        self._batches = []
        self._one_refs, self._one_ts, self._one_vs = [], [], []


_DECODED_CACHE_BYTES = 8 << 20


class _DecodedChunks:
    """Closed chunks never change: the samples of a set of them, decoded, kept for the next
    query over the same set (a rule group's rules over one metric, a dashboard's refresh).
    Keyed by the encoded records themselves, so truncation or reuse cannot alias a key."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple[bytes, ...], tuple[I64, F64, I64]] = OrderedDict()
        self._lock = threading.Lock()

    def decode(self, records: tuple[bytes, ...]) -> tuple[I64, F64, I64]:
        with self._lock:
            found = self._entries.get(records)
            if found is not None:
                self._entries.move_to_end(records)
                return found
        found = decode_chunks(records)
        for array in found:
            array.flags.writeable = False
        size = sum(a.nbytes for a in found) + sum(len(r) for r in records)
        if size <= self._max_bytes // 4:
            with self._lock:
                if records not in self._entries:
                    self._entries[records] = found
                    self._bytes += size
                while self._bytes > self._max_bytes:
                    old, dropped = self._entries.popitem(last=False)
                    self._bytes -= sum(a.nbytes for a in dropped) + sum(len(r) for r in old)
        return found


class HeadQuerier:
    """The head as a Querier over [mint, maxt]."""

    def __init__(self, head: Head, mint: int, maxt: int) -> None:
        self._head = head
        self.mint = mint
        self.maxt = maxt

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[SeriesData]:
        refs = self._head.select_refs(matchers, self.mint, self.maxt)
        if hints is not None and hints.series_only:
            empty_t = np.empty(0, dtype=np.int64)
            empty_v = np.empty(0, dtype=np.float64)
            return iter([SeriesData(labels, empty_t, empty_v) for labels in self.series(matchers)])
        return self._head.series_data(refs, self.mint, self.maxt)

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        if hints is not None and hints.series_only:
            return SeriesBatch.of(list(self.select(matchers, hints)))
        refs = self._head.select_refs(matchers, self.mint, self.maxt)
        if not len(refs):  # e.g. history only in blocks: skip gathering nothing
            return SeriesBatch.of([])
        return self._head.series_batch(refs, self.mint, self.maxt)

    def _labels(self, matchers: Sequence[Matcher]) -> list[Labels]:
        refs = self._head.select_refs(matchers, self.mint, self.maxt)
        found = [self._head.labels_of(ref) for ref in refs.tolist()]
        return [labels for labels in found if labels is not None]

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return sorted(self._labels(matchers))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({name for labels in self._labels(matchers) for name in labels.names()})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values = {labels.get(name) for labels in self._labels(matchers)}
        values.discard("")
        return sorted(values)

    def close(self) -> None:
        return None
