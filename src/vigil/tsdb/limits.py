"""The head's memory self-budget: how many series fit in the memory this process may use.

Rule: half of the memory limit goes to the head, at `HEAD_BYTES_PER_SERIES` each. That
figure is 3 h (the head's span before it is cut) of 15 s samples at 16 bytes (int64
timestamp + float64 value, uncompressed in the head) = 11.25 KiB, plus ~0.75 KiB of
labels, postings and per-series state: 12 KiB. A 1 GiB container thus holds ~43k series.

The limit is the tightest memory limit on the cgroup this process runs in or any of its
ancestors (v2 `memory.max`, v1 `memory.limit_in_bytes`; `/proc/self/cgroup` names the
cgroup, `/proc/self/mountinfo` where its hierarchy is mounted), capped by the host's MemTotal.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

HEAD_BYTES_PER_SERIES = 12 * 1024
HEAD_SHARE = 0.5
_UNLIMITED = 1 << 60  # cgroup v1 reports "no limit" as a huge page-aligned number
_V1_LIMIT = "memory.limit_in_bytes"
_V2_LIMIT = "memory.max"


@dataclass(frozen=True)
class _Mount:
    root: PurePosixPath
    """The hierarchy's path that is mounted (not "/" when a container sees only its own)."""
    point: PurePosixPath
    limit_file: str


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


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash in paths as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def _memory_mounts(mountinfo: str) -> tuple[_Mount | None, _Mount | None]:
    """The v1 memory hierarchy's mount and the v2 unified hierarchy's mount, when present."""
    v1 = v2 = None
    for line in mountinfo.splitlines():
        fields = line.split()
        if "-" not in fields[6:]:
            continue
        sep = fields.index("-", 6)
        if len(fields) < sep + 4:
            continue
        fstype, super_options = fields[sep + 1], fields[sep + 3].split(",")
        root, point = PurePosixPath(_unescape(fields[3])), PurePosixPath(_unescape(fields[4]))
        if v1 is None and fstype == "cgroup" and "memory" in super_options:
            v1 = _Mount(root, point, _V1_LIMIT)
        elif v2 is None and fstype == "cgroup2":
            v2 = _Mount(root, point, _V2_LIMIT)
    return v1, v2


def _own_cgroups(proc_cgroup: str) -> tuple[str | None, str | None]:
    """This process's cgroup path in the v1 memory hierarchy and in the v2 hierarchy."""
    v1 = v2 = None
    for line in proc_cgroup.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hierarchy, controllers, path = parts
        if hierarchy == "0" and not controllers:
            v2 = path
        elif "memory" in controllers.split(","):
            v1 = path
    return v1, v2


def _tightest_limit(root: Path, mount: _Mount, cgroup: str) -> int | None:
    """The smallest limit from the process's cgroup up to the top of what is mounted."""
    path = PurePosixPath(cgroup)
    relative = path.relative_to(mount.root) if path.is_relative_to(mount.root) else None
    top = root / str(mount.point).lstrip("/")
    directory = top / relative if relative is not None else top
    limits = []
    while True:
        limit = _read_int(directory / mount.limit_file)
        if limit is not None:
            limits.append(limit)
        if directory == top or top not in directory.parents:
            break
        directory = directory.parent
    return min(limits, default=None)


def cgroup_memory_limit(root: Path = Path("/")) -> int | None:
    """The tightest memory limit on this process's own cgroup and its ancestors, v1 or v2
    (None: no limit, or no cgroup filesystem visible)."""
    try:
        proc_cgroup = (root / "proc/self/cgroup").read_text()
        mountinfo = (root / "proc/self/mountinfo").read_text()
    except OSError:
        return None
    mounts = _memory_mounts(mountinfo)
    limits = [
        _tightest_limit(root, mount, cgroup)
        for mount, cgroup in zip(mounts, _own_cgroups(proc_cgroup), strict=True)
        if mount is not None and cgroup is not None
    ]
    return min((limit for limit in limits if limit is not None), default=None)


def memory_limit_bytes(root: Path = Path("/")) -> int:
    """The memory this process may use: its cgroup's limit if any, else host RAM (0 if unknown)."""
    host = _mem_total(root / "proc/meminfo")
    limit = cgroup_memory_limit(root)
    if limit is None:
        return host or 0
    return min(limit, host) if host else limit


def default_max_series(memory_bytes: int) -> int:
    """Series the head accepts before refusing new ones (0: no limit, memory unknown)."""
    if memory_bytes <= 0:
        return 0
    return max(1000, int(memory_bytes * HEAD_SHARE) // HEAD_BYTES_PER_SERIES)
