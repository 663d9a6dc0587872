"""Per-cgroup memory and CPU accounting read from cgroup v1 or v2 into one typed snapshot, so the
collectors and the death classifier never care which hierarchy the host mounts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_V1_UNLIMITED = 1 << 62
"""v1 writes "no limit" as PAGE_COUNTER_MAX pages (9223372036854771712 with 4 KiB pages)."""
_USER_HZ = 100
"""cpuacct.stat counts in USER_HZ ticks, which Linux fixes at 100 for userspace."""
_READ_SIZE = 1 << 16


class CgroupReadError(Exception):
    """A cgroup file that exists but cannot be read, or does not read as the kernel documents it."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True, slots=True)
class MemoryEvents:
    """`memory.events` on v2; on v1 only `max` (memory.failcnt) and `oom_kill` (memory.oom_control)."""

    low: int | None
    high: int | None
    max: int | None
    oom: int | None
    """Times the cgroup hit its own limit and the allocation was about to fail (v2 only)."""
    oom_kill: int
    """Processes of this cgroup killed by any OOM killer, the cgroup's or the host's."""

    def items(self) -> list[tuple[str, int]]:
        pairs = [("low", self.low), ("high", self.high), ("max", self.max), ("oom", self.oom)]
        return [(k, v) for k, v in pairs if v is not None] + [("oom_kill", self.oom_kill)]


@dataclass(frozen=True, slots=True)
class Pressure:
    """PSI totals: seconds in which some task waited for memory, and in which all of them did."""

    waiting_seconds: float
    stalled_seconds: float


@dataclass(frozen=True, slots=True)
class CpuUsage:
    usage_seconds: float
    user_seconds: float | None
    system_seconds: float | None
    periods: int | None
    throttled_periods: int | None
    throttled_seconds: float | None
    quota_us: int | None
    """CFS quota per period in microseconds; None when unlimited."""
    period_us: int | None


@dataclass(frozen=True, slots=True)
class CgroupSnapshot:
    """One cgroup at one moment; limits are None when unlimited."""

    id: str
    """The cgroup's path below the hierarchy root, `/` for the root (cAdvisor's `id` label)."""
    memory_usage: int
    working_set: int
    rss: int | None
    cache: int | None
    swap: int | None
    memory_limit: int | None
    swap_limit: int | None
    memory_high: int | None
    peak: int | None
    events: MemoryEvents
    cpu: CpuUsage | None
    memory_pressure: Pressure | None


class CgroupFs:
    """The cgroup hierarchy mounted at `root` (`--path.cgroupfs`): v2 unified, or v1 with the memory
    controller in `memory/` (a `unified/` v2 mount beside it is read for PSI only).

    Each scrape reads some 14 small files per cgroup: paths are joined as strings and read with
    `os.open`/`os.read`, which cost a fraction of pathlib's joins and text-mode opens."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._memory: str = str(root)
        self._cpu: str | None = None
        self._cpuacct: str | None = None
        self._psi: str | None = None
        if (root / "cgroup.controllers").exists():
            self.version: int | None = 2
            self._cpu = self._cpuacct = self._psi = str(root)
        elif (root / "memory" / "memory.usage_in_bytes").exists():
            self.version = 1
            self._memory = str(root / "memory")
            self._cpu = _first_dir(root / "cpu", root / "cpu,cpuacct")
            self._cpuacct = _first_dir(root / "cpuacct", root / "cpu,cpuacct")
            self._psi = _first_dir(root / "unified")
        else:
            self.version = None

    def memory_dir(self, cgroup_id: str) -> Path:
        return Path(_below(self._memory, cgroup_id))

    def ids(self) -> list[str]:
        """Every cgroup with memory accounting, parents before children."""
        if self.version is None:
            return []
        found: list[str] = []
        prefix = len(self._memory.rstrip("/"))
        for dirpath, dirnames, _ in os.walk(self._memory):
            dirnames.sort()
            if dirpath == self._memory:
                if self.version == 1:  # the v2 root has no memory.current
                    found.append("/")
                continue
            found.append(dirpath[prefix:])
        return found

    def read(self, cgroup_id: str) -> CgroupSnapshot | None:
        """The cgroup now, or None when it vanished (a container removed between list and read)."""
        directory = _below(self._memory, cgroup_id)
        try:
            if self.version == 2:
                return self._read_v2(cgroup_id, directory)
            return self._read_v1(cgroup_id, directory)
        except FileNotFoundError as err:
            if not os.path.isdir(directory):
                return None
            raise CgroupReadError(Path(err.filename or directory), "missing") from None
        except OSError as err:
            raise CgroupReadError(
                Path(err.filename or directory), err.strerror or str(err)
            ) from None

    def _read_v1(self, cgroup_id: str, mem: str) -> CgroupSnapshot:
        usage = _int(f"{mem}/memory.usage_in_bytes")
        stat = _keyed(f"{mem}/memory.stat")
        oom_control = _keyed(f"{mem}/memory.oom_control")
        limit = _int(f"{mem}/memory.limit_in_bytes")
        memsw = _optional_int(f"{mem}/memory.memsw.limit_in_bytes")
        return CgroupSnapshot(
            id=cgroup_id,
            memory_usage=usage,
            working_set=max(0, usage - stat.get("total_inactive_file", 0)),
            rss=stat.get("total_rss"),
            cache=stat.get("total_cache"),
            swap=stat.get("total_swap"),
            memory_limit=None if limit >= _V1_UNLIMITED else limit,
            swap_limit=None if memsw is None or memsw >= _V1_UNLIMITED else memsw,
            memory_high=None,
            peak=_optional_int(f"{mem}/memory.max_usage_in_bytes"),
            events=MemoryEvents(
                low=None,
                high=None,
                max=_optional_int(f"{mem}/memory.failcnt"),
                oom=None,
                oom_kill=oom_control.get("oom_kill", 0),
            ),
            cpu=self._cpu_v1(cgroup_id),
            memory_pressure=self._pressure(cgroup_id),
        )

    def _cpu_v1(self, cgroup_id: str) -> CpuUsage | None:
        if self._cpuacct is None:
            return None
        acct = _below(self._cpuacct, cgroup_id)
        usage_ns = _optional_int(f"{acct}/cpuacct.usage")
        if usage_ns is None:
            return None
        ticks = _optional_keyed(f"{acct}/cpuacct.stat") or {}
        cpu = _below(self._cpu, cgroup_id) if self._cpu is not None else None
        stat = (_optional_keyed(f"{cpu}/cpu.stat") if cpu else None) or {}
        quota = _optional_int(f"{cpu}/cpu.cfs_quota_us") if cpu else None
        throttled_ns = stat.get("throttled_time")
        return CpuUsage(
            usage_seconds=usage_ns / 1e9,
            user_seconds=ticks["user"] / _USER_HZ if "user" in ticks else None,
            system_seconds=ticks["system"] / _USER_HZ if "system" in ticks else None,
            periods=stat.get("nr_periods"),
            throttled_periods=stat.get("nr_throttled"),
            throttled_seconds=throttled_ns / 1e9 if throttled_ns is not None else None,
            quota_us=quota if quota is not None and quota > 0 else None,
            period_us=_optional_int(f"{cpu}/cpu.cfs_period_us") if cpu else None,
        )

    def _read_v2(self, cgroup_id: str, mem: str) -> CgroupSnapshot:
        usage = _int(f"{mem}/memory.current")
        stat = _keyed(f"{mem}/memory.stat")
        events = _keyed(f"{mem}/memory.events")
        swap = _optional_int(f"{mem}/memory.swap.current")
        return CgroupSnapshot(
            id=cgroup_id,
            memory_usage=usage,
            working_set=max(0, usage - stat.get("inactive_file", 0)),
            rss=stat.get("anon"),
            cache=stat.get("file"),
            swap=swap,
            memory_limit=_limit_v2(f"{mem}/memory.max"),
            swap_limit=_limit_v2(f"{mem}/memory.swap.max"),
            memory_high=_limit_v2(f"{mem}/memory.high"),
            peak=_optional_int(f"{mem}/memory.peak"),
            events=MemoryEvents(
                low=events.get("low"),
                high=events.get("high"),
                max=events.get("max"),
                oom=events.get("oom"),
                oom_kill=events.get("oom_kill", 0),
            ),
            cpu=self._cpu_v2(mem),
            memory_pressure=self._pressure(cgroup_id),
        )

    def _cpu_v2(self, directory: str) -> CpuUsage | None:
        stat = _optional_keyed(f"{directory}/cpu.stat")
        if stat is None or "usage_usec" not in stat:
            return None
        quota: int | None = None
        period: int | None = None
        path = f"{directory}/cpu.max"
        cpu_max = _optional_text(path)
        if cpu_max is not None:
            fields = cpu_max.split()
            if len(fields) != 2:
                raise CgroupReadError(Path(path), f"expected 'QUOTA PERIOD', got {cpu_max[:40]!r}")
            quota = None if fields[0] == "max" else _parse_int(path, fields[0])
            period = _parse_int(path, fields[1])
        throttled = stat.get("throttled_usec")
        user = stat.get("user_usec")
        system = stat.get("system_usec")
        return CpuUsage(
            usage_seconds=stat["usage_usec"] / 1e6,
            user_seconds=user / 1e6 if user is not None else None,
            system_seconds=system / 1e6 if system is not None else None,
            periods=stat.get("nr_periods"),
            throttled_periods=stat.get("nr_throttled"),
            throttled_seconds=throttled / 1e6 if throttled is not None else None,
            quota_us=quota,
            period_us=period,
        )

    def _pressure(self, cgroup_id: str) -> Pressure | None:
        if self._psi is None:
            return None
        path = f"{_below(self._psi, cgroup_id)}/memory.pressure"
        try:
            text = _read_text(path)
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == 95:  # EOPNOTSUPP: PSI compiled in but disabled (psi=0)
                return None
            raise
        return parse_pressure(path, text)


def parse_pressure(path: str, text: str) -> Pressure:
    """`some avg10=0.00 avg60=0.00 avg300=0.00 total=USEC` / `full …` → seconds."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for item in rest.split():
            key, _, value = item.partition("=")
            if key == "total":
                totals[kind] = _parse_int(path, value) / 1e6
    if "some" not in totals:
        raise CgroupReadError(Path(path), f"no 'some … total=' line in {text[:60]!r}")
    return Pressure(waiting_seconds=totals["some"], stalled_seconds=totals.get("full", 0.0))


def _first_dir(*candidates: Path) -> str | None:
    return next((str(c) for c in candidates if c.is_dir()), None)


def _below(root: str, cgroup_id: str) -> str:
    """The directory of `cgroup_id` (`/` for the root) under a hierarchy mounted at `root`."""
    relative = cgroup_id.lstrip("/")
    return f"{root}/{relative}" if relative else root


def _read_text(path: str) -> str:
    """The whole file, up to EOF; cgroup files are ASCII."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, _READ_SIZE):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode("ascii", "replace")


def _parse_int(path: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CgroupReadError(Path(path), f"expected an integer, got {text[:40]!r}") from None


def _int(path: str) -> int:
    return _parse_int(path, _read_text(path).strip())


def _optional_text(path: str) -> str | None:
    try:
        return _read_text(path).strip()
    except FileNotFoundError:
        return None


def _optional_int(path: str) -> int | None:
    text = _optional_text(path)
    return None if text is None else _parse_int(path, text)


def _limit_v2(path: str) -> int | None:
    text = _optional_text(path)
    return None if text is None or text == "max" else _parse_int(path, text)


def _parse_keyed(path: str, text: str) -> dict[str, int]:
    """Flat keyed files (`memory.stat`, `memory.events`, `cpu.stat`): one `key value` a line."""
    fields = text.split()
    if len(fields) == 2 * text.count("\n"):  # the kernel's layout: one pair per line
        try:
            return dict(zip(fields[::2], map(int, fields[1::2]), strict=True))
        except ValueError:
            pass  # the line by line reading below names the value
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if not key:
            continue
        values[key] = _parse_int(path, value.strip())
    return values


def _keyed(path: str) -> dict[str, int]:
    return _parse_keyed(path, _read_text(path))


def _optional_keyed(path: str) -> dict[str, int] | None:
    try:
        text = _read_text(path)
    except FileNotFoundError:
        return None
    return _parse_keyed(path, text)
