"""The head's memory self-budget: how many series fit in the memory this process may use.

Rule: half of the memory limit goes to the head, at `HEAD_BYTES_PER_SERIES` each. That
figure is 3 h (the head's span before it is cut) of 15 s samples at 16 bytes (int64
timestamp + float64 value, uncompressed in the head) = 11.25 KiB, plus ~0.75 KiB of
labels, postings and per-series state: 12 KiB. A 1 GiB container thus holds ~43k series.
The limit is the cgroup's (v2 `memory.max`, else v1 `memory.limit_in_bytes`) when set,
else the host's MemTotal.
"""

from __future__ import annotations

from pathlib import Path

HEAD_BYTES_PER_SERIES = 12 * 1024
HEAD_SHARE = 0.5
_UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a huge page-aligned number


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():  # cgroup v2 writes "max" when unlimited
        return None
    value = int(text)
    return value if 0 < value < _UNLIMITED else None


def _mem_total(meminfo: Path) -> int | None:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def memory_limit_bytes(root: Path = Path("/")) -> int:
    """The memory this process may use: cgroup limit if any, else host RAM (0 if unknown)."""
    for candidate in (
        root / "sys/fs/cgroup/memory.max",
        root / "sys/fs/cgroup/memory/memory.limit_in_bytes",
    ):
        limit = _read_int(candidate)
        if limit is not None:
            host = _mem_total(root / "proc/meminfo")
            return min(limit, host) if host else limit
    return _mem_total(root / "proc/meminfo") or 0


def default_max_series(memory_bytes: int) -> int:
    """Series the head accepts before refusing new ones (0: no limit, memory unknown)."""
    if memory_bytes <= 0:
        return 0
    return max(1000, int(memory_bytes * HEAD_SHARE) // HEAD_BYTES_PER_SERIES)
