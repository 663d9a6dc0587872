"""The head's state, one small holder per concern: the series table, the open chunks, the
closed chunks and the out-of-order log. `HeadState` composes them with the time bounds; the
append, read and replay paths (`head_append`, `head_read`, `head_replay`) work on it, and
`Head` holds it under one lock."""

from __future__ import annotations

import sys
import threading
from collections import Counter as Tally
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.model import Labels
from vigil.tsdb.chunkenc.head_chunk import decode_chunks, encode_chunks
from vigil.tsdb.head_histograms import HistogramColumn
from vigil.tsdb.postings import MemPostings
from vigil.tsdb.wlog import WAL

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
U64 = npt.NDArray[np.uint64]
Bools = npt.NDArray[np.bool_]

MIN_TIME = int(np.iinfo(np.int64).min)
MAX_TIME = int(np.iinfo(np.int64).max)
HOUR_MS = 3_600_000

_DECODED_CACHE_BYTES = 8 << 20

_Array = TypeVar("_Array", bound=npt.NDArray[Any])


def grown(array: _Array, size: int, fill: object) -> _Array:
    """A copy with room for at least `size` rows (grown by half), new rows set to `fill`.
    Rows filled with zeros are left to the system's zeroed pages: they take no memory until
    written."""
    capacity = max(size, len(array) + len(array) // 2, 64)
    shape = (capacity, *array.shape[1:])
    if fill == 0:
        bigger = np.zeros(shape, dtype=array.dtype)
    else:
        bigger = np.empty(shape, dtype=array.dtype)
        bigger[len(array) :] = fill
    bigger[: len(array)] = array
    return bigger  # type: ignore[return-value]


def group_starts(sorted_refs: I64) -> Bools:
    """Where each run of equal refs starts."""
    first = np.empty(len(sorted_refs), dtype=np.bool_)
    if len(sorted_refs):
        first[0] = True
        np.not_equal(sorted_refs[1:], sorted_refs[:-1], out=first[1:])
    return first


@dataclass(frozen=True, slots=True)
class HeadOptions:
    block_range_ms: int = 2 * HOUR_MS
    out_of_order_time_window_ms: int = 0
    max_series: int = 0  # 0: no limit
    chunk_samples: int = 120
    max_future_ms: int = 10 * 60 * 1000  # samples newer than now + this are refused; 0: no bound


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


class SeriesTable:
    """Series by ref and by labels; refs are dense, never reused, and index the per-series
    state arrays (grown together)."""

    def __init__(self) -> None:
        self.postings = MemPostings()
        self.by_labels: dict[Labels, int] = {}
        self.labels: list[Labels | None] = []
        self.n_alive = 0
        self.refused_by_name: Tally[str] = Tally()
        self._pairs: dict[tuple[str, str], tuple[str, str]] = {}
        self.alive: Bools = np.zeros(0, dtype=np.bool_)
        self.logged: Bools = np.zeros(0, dtype=np.bool_)  # its labels are in the WAL
        self.gc_candidate: Bools = np.zeros(0, dtype=np.bool_)
        self.open_slot: I64 = np.zeros(0, dtype=np.int64)
        self.last_t: I64 = np.zeros(0, dtype=np.int64)
        self.last_bits: U64 = np.zeros(0, dtype=np.uint64)
        self.min_t: I64 = np.zeros(0, dtype=np.int64)

    def intern(self, labels: Labels) -> Labels:
        """The same labels made of pairs (and strings) shared with every other series."""
        shared = list(map(self._pairs.get, labels))
        if None not in shared:
            return Labels(shared)  # type: ignore[arg-type]
        return Labels(
            [found or self._intern_pair(pair) for found, pair in zip(shared, labels, strict=True)]
        )

    def _intern_pair(self, pair: tuple[str, str]) -> tuple[str, str]:
        name, value = sys.intern(pair[0]), sys.intern(pair[1])
        shared = (name, value) if name is not pair[0] or value is not pair[1] else pair
        self._pairs[shared] = shared  # keyed by itself: the caller's pair and strings go
        return shared

    def ensure_capacity(self, size: int) -> None:
        if size <= len(self.alive):
            return
        self.alive = grown(self.alive, size, False)
        self.logged = grown(self.logged, size, False)
        self.gc_candidate = grown(self.gc_candidate, size, False)
        self.open_slot = grown(self.open_slot, size, -1)
        self.last_t = grown(self.last_t, size, MIN_TIME)
        self.last_bits = grown(self.last_bits, size, 0)
        self.min_t = grown(self.min_t, size, MAX_TIME)

    def add(self, ref: int, labels: Labels) -> None:
        labels = self.intern(labels)
        while len(self.labels) <= ref:
            self.labels.append(None)
        self.ensure_capacity(ref + 1)
        self.labels[ref] = labels
        self.by_labels[labels] = ref
        self.alive[ref] = True
        self.postings.add(ref, labels)
        self.n_alive += 1

    def add_many(self, first: int, labels: list[Labels]) -> None:
        """Series `first`, `first + 1`, … for `labels` (distinct, none known), past every
        ref so far."""
        interned = list(map(self.intern, labels))
        end = first + len(interned)
        self.labels.extend([None] * (first - len(self.labels)))
        self.labels.extend(interned)
        self.ensure_capacity(end)
        self.by_labels.update(zip(interned, range(first, end), strict=True))
        self.alive[first:end] = True
        self.postings.add_after(first, interned)
        self.n_alive += len(interned)

    def labels_at(self, ref: int) -> Labels:
        labels = self.labels[ref]
        assert labels is not None
        return labels


class OpenChunks:
    """Open chunks, raw: at most one per series, a row ("slot") of 2-D arrays whose width
    grows, as series fill their chunks, up to chunk_samples; freed slots are reused."""

    def __init__(self, chunk_samples: int) -> None:
        self.chunk_samples = chunk_samples
        width = min(chunk_samples, 4)
        self.ts: I64 = np.zeros((0, width), dtype=np.int64)
        self.vs: F64 = np.zeros((0, width), dtype=np.float64)
        self.owner: I64 = np.zeros(0, dtype=np.int64)
        self.length: I64 = np.zeros(0, dtype=np.int64)
        self.used = 0
        self._free: I64 = np.zeros(0, dtype=np.int64)
        self._n_free = 0

    def count(self) -> int:
        """Open chunks holding samples."""
        return int(np.count_nonzero(self.length[: self.used]))

    def alloc(self, count: int) -> I64:
        reused = min(count, self._n_free)
        ids = [self._free[self._n_free - reused : self._n_free].copy()]
        self._n_free -= reused
        fresh = count - reused
        if fresh:
            start = self.used
            self.used += fresh
            if self.used > len(self.owner):
                size = self.used
                self.ts = grown(self.ts, size, 0)
                self.vs = grown(self.vs, size, 0.0)
                self.owner = grown(self.owner, size, -1)
                self.length = grown(self.length, size, 0)
            ids.append(np.arange(start, start + fresh, dtype=np.int64))
        return np.concatenate(ids)

    def release(self, slots: I64) -> None:
        self.owner[slots] = -1
        self.length[slots] = 0
        end = self._n_free + len(slots)
        if end > len(self._free):
            self._free = grown(self._free, end, 0)
        self._free[self._n_free : end] = slots
        self._n_free = end

    def widen(self, needed: int) -> None:
        """Give every slot room for `needed` samples (doubling, at most chunk_samples)."""
        old = self.ts.shape[1]
        width = min(self.chunk_samples, max(needed, 2 * old))
        ts = np.zeros((len(self.ts), width), dtype=np.int64)
        vs = np.zeros((len(self.vs), width), dtype=np.float64)
        ts[: self.used, :old] = self.ts[: self.used]
        vs[: self.used, :old] = self.vs[: self.used]
        self.ts, self.vs = ts, vs


class ClosedChunks:
    """Closed (full) chunks, encoded, in the order they closed, with owner and time range."""

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.owner: I64 = np.zeros(0, dtype=np.int64)
        self.mint: I64 = np.zeros(0, dtype=np.int64)
        self.maxt: I64 = np.zeros(0, dtype=np.int64)
        self.decoded = DecodedChunks(_DECODED_CACHE_BYTES)

    def add(self, owners: I64, chunk_ts: I64, chunk_vs: F64) -> None:
        """Encode full chunks (one per row, owners[i] owning row i) and keep them."""
        records = encode_chunks(chunk_ts, chunk_vs)
        start = len(self.records)
        end = start + len(records)
        if end > len(self.owner):
            self.owner = grown(self.owner, end, -1)
            self.mint = grown(self.mint, end, 0)
            self.maxt = grown(self.maxt, end, 0)
        self.records.extend(records)
        self.owner[start:end] = owners
        self.mint[start:end] = chunk_ts[:, 0]
        self.maxt[start:end] = chunk_ts[:, -1]

    def drop_before(self, cut_ms: int) -> None:
        """Forget chunks wholly older than cut_ms, keeping the others in closing order."""
        n_chunks = len(self.records)
        keep = np.flatnonzero(self.maxt[:n_chunks] >= cut_ms)
        if len(keep) == n_chunks:
            return
        records = self.records
        self.records = [records[i] for i in keep.tolist()]
        kept = len(keep)
        for column in (self.owner, self.mint, self.maxt):
            column[:kept] = column[keep]
            column[kept:n_chunks] = -1


class DecodedChunks:
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


class OutOfOrderLog:
    """Out-of-order samples (accepted within out_of_order_time_window_ms): a rare side log."""

    def __init__(self) -> None:
        self.ref: I64 = np.zeros(0, dtype=np.int64)
        self.t: I64 = np.zeros(0, dtype=np.int64)
        self.v: F64 = np.zeros(0, dtype=np.float64)
        self.n = 0

    def add(self, r: I64, t: I64, v: F64) -> None:
        end = self.n + len(r)
        if end > len(self.ref):
            self.ref = grown(self.ref, end, -1)
            self.t = grown(self.t, end, 0)
            self.v = grown(self.v, end, 0.0)
        self.ref[self.n : end] = r
        self.t[self.n : end] = t
        self.v[self.n : end] = v
        self.n = end

    def drop_before(self, cut_ms: int) -> None:
        if not self.n:
            return
        keep = self.t[: self.n] >= cut_ms
        kept = int(keep.sum())
        self.ref[:kept] = self.ref[: self.n][keep]
        self.t[:kept] = self.t[: self.n][keep]
        self.v[:kept] = self.v[: self.n][keep]
        self.n = kept


class HeadState:
    """Everything the head holds, composed; guarded by the owning Head's lock."""

    def __init__(self, options: HeadOptions, registry: CollectorRegistry) -> None:
        self.options = options
        self.metrics = HeadMetrics(registry)
        self.series = SeriesTable()
        self.open = OpenChunks(options.chunk_samples)
        self.closed = ClosedChunks()
        self.ooo = OutOfOrderLog()
        self.histograms = HistogramColumn(options.chunk_samples)
        self.max_t = MIN_TIME
        self.min_valid_t = MIN_TIME  # samples before it belong to persisted blocks
        self.wal: WAL | None = None
        self.wal_token = 0  # the last commit's, to wait on outside the lock

    @property
    def num_chunks(self) -> int:
        return len(self.closed.records) + self.open.count() + self.histograms.chunks

    def add_series(self, ref: int, labels: Labels) -> None:
        self.series.add(ref, labels)
        self.metrics.series_created.inc()
        self.metrics.series.set(self.series.n_alive)

    def add_many_series(self, first: int, labels: list[Labels]) -> None:
        self.series.add_many(first, labels)
        self.metrics.series_created.inc(len(labels))
        self.metrics.series.set(self.series.n_alive)
