"""glibc's allocator bounded for a long-running server.

By default glibc gives each thread that allocates an arena of its own (up to 8 per core) and
raises its mmap threshold to the size of the largest block freed so far (up to 32 MiB). A
server whose worker threads take turns decoding pages, compressing them and evaluating
queries then keeps the freed megabytes of each turn in whichever arena ran it: with spans at
100/s the free memory glibc held grew without end (55 MiB after 80 minutes, 16 arenas).
Two arenas, and blocks of 128 KiB and more always mapped and unmapped, keep that free
memory to a few MiB. A user's own MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ is left as set;
elsewhere (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters
M_ARENA_MAX = -8
ARENAS = 2
MMAP_THRESHOLD = 128 * 1024


def bound_free_memory() -> bool:
    """Set the arena count and a fixed mmap threshold; False when the C library has no
    mallopt or refuses them."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    settings = (
        ("MALLOC_ARENA_MAX", M_ARENA_MAX, ARENAS),
        ("MALLOC_MMAP_THRESHOLD_", M_MMAP_THRESHOLD, MMAP_THRESHOLD),
    )
    done = True
    for variable, parameter, value in settings:
        if variable not in os.environ:
            done = bool(mallopt(parameter, value)) and done
    return done
