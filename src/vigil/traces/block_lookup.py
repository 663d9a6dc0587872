"""A span block's trace lookup (its `traces` file): every (trace key, page) pair of the
block, sorted, mapped and searched in place. A key is 8 bytes of the trace id and the page
checks the whole id, so ids sharing a key cost a page read, never a wrong answer.

Columns: the keys (u64), then the pages (u2 or u4). Format 2 keys a trace by its id's two
halves XORed, so ids alike in one half still differ (Zipkin's 64-bit ids have a zero high
half, X-Ray's begin with a time), little-endian, so numpy searches the mapped keys in place.
Format 1, still read, kept the first half, big-endian, which numpy would copy whole for
each search: its keys are bisected in Python instead.
"""

from __future__ import annotations

import bisect
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.model.sorted_set import sorted_set

FIRST_HALF, FOLDED = 1, 2  # the lookup's formats


def _keys(ids: npt.NDArray[Any], form: int) -> npt.NDArray[np.uint64]:
    """The keys of S16 trace ids (order kept)."""
    halves = np.frombuffer(ids.astype("S16").tobytes(), dtype=">u8").reshape(-1, 2)
    keys = halves[:, 0] if form == FIRST_HALF else halves[:, 0] ^ halves[:, 1]
    return np.asarray(keys, dtype=np.uint64)


def folded_keys(ids: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """Format 2's keys of S16 trace ids, sorted unique: 8 bytes a trace where a head page
    would keep 16 to say whether it may hold one."""
    return sorted_set(_keys(ids, FOLDED))


class LookupWriter:
    """The lookup of a block's pages, given page by page (their sorted unique ids)."""

    def __init__(self) -> None:
        self._ids: list[npt.NDArray[Any]] = []

    def add(self, ids: npt.NDArray[Any]) -> None:
        self._ids.append(ids)

    def traces(self) -> int:
        """Distinct trace ids."""
        return len(sorted_set(np.concatenate(self._ids)))

    def finish(self) -> tuple[bytes, dict[str, Any]]:
        """The `traces` file and what the index keeps of it."""
        keys = _keys(np.concatenate(self._ids), FOLDED)
        page_of = np.concatenate([np.full(len(ids), i) for i, ids in enumerate(self._ids)])
        order = np.lexsort((page_of, keys))
        page_dtype = "<u2" if len(self._ids) <= 1 << 16 else "<u4"
        data = keys[order].astype("<u8").tobytes() + page_of[order].astype(page_dtype).tobytes()
        return data, {"lookup_format": FOLDED, "traces": len(keys), "page_dtype": page_dtype}


class TraceLookup:
    """A block's mapped lookup; ValueError when its size or page numbers do not hold."""

    def __init__(self, data: Any, about: dict[str, Any], pages: int) -> None:
        self.format = int(about.get("lookup_format", FIRST_HALF))
        traces = int(about["traces"])
        page_dtype = str(about["page_dtype"])
        if page_dtype not in ("<u2", "<u4") or self.format not in (FIRST_HALF, FOLDED):
            raise ValueError(f"lookup format {self.format} with page numbers {page_dtype!r}")
        size = (8 + np.dtype(page_dtype).itemsize) * traces
        if len(data) != size:
            raise ValueError(f"it is not {size} bytes")
        key_dtype = ">u8" if self.format == FIRST_HALF else "<u8"
        self._keys = np.frombuffer(data, dtype=key_dtype, count=traces)
        self._page = np.frombuffer(data, dtype=page_dtype, count=traces, offset=8 * traces)
        if traces and int(self._page.max()) >= pages:
            raise ValueError("it names pages the block has not")

    def pages(self, trace_id: bytes) -> list[int]:
        """The pages that may hold spans of the trace, ascending."""
        key = _keys(np.array([trace_id], dtype="S16"), self.format)[0]
        if self.format == FOLDED:
            lo = int(np.searchsorted(self._keys, key, "left"))
            hi = int(np.searchsorted(self._keys, key, "right"))
        else:
            lo = bisect.bisect_left(self._keys, key)
            hi = bisect.bisect_right(self._keys, key, lo)
        return sorted(set(self._page[lo:hi].tolist()))
