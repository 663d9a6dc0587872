"""The two read caches of persisted blocks: series ids per matcher set (one per block's index)
and decoded series (one per TSDB, shared by its blocks). Blocks never change, so an entry
is never stale; both drop the least recently used entries past a byte budget."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.model import Labels
from vigil.tsdb.chunkenc import Samples
from vigil.tsdb.series import holds_histogram

_LABEL_PAIR_BYTES = 80  # what a cached series' Labels cost per pair, roughly (tuples)
_HISTOGRAM_BYTES = 600  # a decoded FloatHistogram of a dozen buckets, roughly


class PostingsCache:
    """Series ids computed from an immutable index, least recently used dropped first once
    their arrays pass `max_bytes`; stored arrays are made read-only."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[object, npt.NDArray[np.int64]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> npt.NDArray[np.int64] | None:
        with self._lock:
            ids = self._entries.get(key)
            if ids is not None:
                self._entries.move_to_end(key)
            return ids

    def put(self, key: object, ids: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        ids.flags.writeable = False
        if ids.nbytes > self._max_bytes:
            return ids
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = ids
            self._bytes += ids.nbytes
            while self._bytes > self._max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes
        return ids

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0


@dataclass(frozen=True, slots=True)
class _Decoded:
    labels: Labels
    samples: Samples
    nbytes: int


class DecodedCache:
    """Decoded series (labels and samples) of persisted blocks, least recently used dropped
    first once they pass `max_bytes`. Blocks never change, so an entry is never stale: a
    dashboard's refresh (or its next panel on the same series) reads samples without zstd
    and numpy decoding. One per TSDB, shared by its blocks; stored arrays are read-only;
    thread-safe."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[tuple[str, int], _Decoded] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, block: str, sid: int) -> tuple[Labels, Samples] | None:
        with self._lock:
            entry = self._entries.get((block, sid))
            if entry is None:
                return None
            self._entries.move_to_end((block, sid))
            return entry.labels, entry.samples

    def put(self, block: str, sid: int, labels: Labels, samples: Samples) -> None:
        size = samples.timestamps.nbytes + samples.values.nbytes + _LABEL_PAIR_BYTES * len(labels)
        if samples.histograms is not None:
            size += _HISTOGRAM_BYTES * int(np.count_nonzero(holds_histogram(samples.histograms)))
        if size > self.max_bytes:
            return
        samples.timestamps.flags.writeable = False
        samples.values.flags.writeable = False
        with self._lock:
            old = self._entries.pop((block, sid), None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[(block, sid)] = _Decoded(labels, samples, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self._bytes -= dropped.nbytes

    def forget(self, block: str) -> None:
        """Drop a closed block's entries (their memory, not correctness, is at stake)."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == block]:
                self._bytes -= self._entries.pop(key).nbytes
