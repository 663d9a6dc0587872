"""Giving the memory of a burst of work back to the system (a big query, a scrape that
created many series: its body, parse and WAL records are garbage once the series exist).

glibc keeps freed memory in its arenas (one per thread that allocated, and queries run in
worker threads): after one large burst the process would hold its peak RSS for good.
`malloc_trim(0)` returns the free pages of every arena; elsewhere (musl, macOS) it is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def trim_heap() -> bool:
    """Return the allocator's free memory to the system; False where that is not possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
