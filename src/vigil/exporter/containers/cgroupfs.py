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
    controller in `memory/` (a `unified/` v2 mount beside it is read for PSI only)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        if (root / "cgroup.controllers").exists():
            self.version: int | None = 2
            self._memory: Path = root
            self._cpu: Path | None = root
            self._cpuacct: Path | None = root
            self._psi: Path | None = root
        elif (root / "memory" / "memory.usage_in_bytes").exists():
            self.version = 1
            self._memory = root / "memory"
            self._cpu = _first_dir(root / "cpu", root / "cpu,cpuacct")
            self._cpuacct = _first_dir(root / "cpuacct", root / "cpu,cpuacct")
            self._psi = _first_dir(root / "unified")
        else:
            self.version = None
            self._memory = root
            self._cpu = self._cpuacct = self._psi = None

    def memory_dir(self, cgroup_id: str) -> Path:
        return self._memory / cgroup_id.lstrip("/")

    def ids(self) -> list[str]:
        """Every cgroup with memory accounting, parents before children."""
        if self.version is None:
            return []
        found: list[str] = []
        for dirpath, dirnames, _ in os.walk(self._memory):
            dirnames.sort()
            rel = os.path.relpath(dirpath, self._memory)
            if rel == ".":
                if self.version == 1:  # the v2 root has no memory.current
                    found.append("/")
                continue
            found.append("/" + rel)
        return found

    def read(self, cgroup_id: str) -> CgroupSnapshot | None:
        """The cgroup now, or None when it vanished (a container removed between list and read)."""
        directory = self.memory_dir(cgroup_id)
        try:
            return self._read_v2(cgroup_id) if self.version == 2 else self._read_v1(cgroup_id)
        except FileNotFoundError as err:
            if not directory.is_dir():
                return None
            raise CgroupReadError(Path(err.filename or directory), "missing") from None
        except OSError as err:
            raise CgroupReadError(
                Path(err.filename or directory), err.strerror or str(err)
            ) from None

    def _read_v1(self, cgroup_id: str) -> CgroupSnapshot:
        mem = self.memory_dir(cgroup_id)
        usage = _int(mem / "memory.usage_in_bytes")
        stat = _keyed(mem / "memory.stat")
        oom_control = _keyed(mem / "memory.oom_control")
        limit = _int(mem / "memory.limit_in_bytes")
        memsw = _optional_int(mem / "memory.memsw.limit_in_bytes")
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
            peak=_optional_int(mem / "memory.max_usage_in_bytes"),
            events=MemoryEvents(
                low=None,
                high=None,
                max=_optional_int(mem / "memory.failcnt"),
                oom=None,
                oom_kill=oom_control.get("oom_kill", 0),
            ),
            cpu=self._cpu_v1(cgroup_id),
            memory_pressure=self._pressure(cgroup_id),
        )

    def _cpu_v1(self, cgroup_id: str) -> CpuUsage | None:
        if self._cpuacct is None:
            return None
        acct = self._cpuacct / cgroup_id.lstrip("/")
        usage_ns = _optional_int(acct / "cpuacct.usage")
        if usage_ns is None:
            return None
        ticks = _optional_keyed(acct / "cpuacct.stat") or {}
        cpu = self._cpu / cgroup_id.lstrip("/") if self._cpu is not None else None
        stat = (_optional_keyed(cpu / "cpu.stat") if cpu else None) or {}
        quota = _optional_int(cpu / "cpu.cfs_quota_us") if cpu else None
        throttled_ns = stat.get("throttled_time")
        return CpuUsage(
            usage_seconds=usage_ns / 1e9,
            user_seconds=ticks["user"] / _USER_HZ if "user" in ticks else None,
            system_seconds=ticks["system"] / _USER_HZ if "system" in ticks else None,
            periods=stat.get("nr_periods"),
            throttled_periods=stat.get("nr_throttled"),
            throttled_seconds=throttled_ns / 1e9 if throttled_ns is not None else None,
            quota_us=quota if quota is not None and quota > 0 else None,
            period_us=_optional_int(cpu / "cpu.cfs_period_us") if cpu else None,
        )

    def _read_v2(self, cgroup_id: str) -> CgroupSnapshot:
        mem = self.memory_dir(cgroup_id)
        usage = _int(mem / "memory.current")
        stat = _keyed(mem / "memory.stat")
        events = _keyed(mem / "memory.events")
        swap = _optional_int(mem / "memory.swap.current")
        return CgroupSnapshot(
            id=cgroup_id,
            memory_usage=usage,
            working_set=max(0, usage - stat.get("inactive_file", 0)),
            rss=stat.get("anon"),
            cache=stat.get("file"),
            swap=swap,
            memory_limit=_limit_v2(mem / "memory.max"),
            swap_limit=_limit_v2(mem / "memory.swap.max"),
            memory_high=_limit_v2(mem / "memory.high"),
            peak=_optional_int(mem / "memory.peak"),
            events=MemoryEvents(
                low=events.get("low"),
                high=events.get("high"),
                max=events.get("max"),
                oom=events.get("oom"),
                oom_kill=events.get("oom_kill", 0),
            ),
            cpu=self._cpu_v2(cgroup_id),
            memory_pressure=self._pressure(cgroup_id),
        )

    def _cpu_v2(self, cgroup_id: str) -> CpuUsage | None:
        directory = self.memory_dir(cgroup_id)
        stat = _optional_keyed(directory / "cpu.stat")
        if stat is None or "usage_usec" not in stat:
            return None
        quota: int | None = None
        period: int | None = None
        cpu_max = _optional_text(directory / "cpu.max")
        if cpu_max is not None:
            fields = cpu_max.split()
            if len(fields) != 2:
                raise CgroupReadError(
                    directory / "cpu.max", f"expected 'QUOTA PERIOD', got {cpu_max[:40]!r}"
                )
            quota = None if fields[0] == "max" else _parse_int(directory / "cpu.max", fields[0])
            period = _parse_int(directory / "cpu.max", fields[1])
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
        path = self._psi / cgroup_id.lstrip("/") / "memory.pressure"
        try:
            text = path.read_text()
        except FileNotFoundError:
            return None
        except OSError as err:
            if err.errno == 95:  # EOPNOTSUPP: PSI compiled in but disabled (psi=0)
                return None
            raise
        return parse_pressure(path, text)


def parse_pressure(path: Path, text: str) -> Pressure:
    """`some avg10=0.00 avg60=0.00 avg300=0.00 total=USEC` / `full …` → seconds."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        kind, _, rest = line.partition(" ")
        for item in rest.split():
            key, _, value = item.partition("=")
            if key == "total":
                totals[kind] = _parse_int(path, value) / 1e6
    if "some" not in totals:
        raise CgroupReadError(path, f"no 'some … total=' line in {text[:60]!r}")
    return Pressure(waiting_seconds=totals["some"], stalled_seconds=totals.get("full", 0.0))


def _first_dir(*candidates: Path) -> Path | None:
    return next((c for c in candidates if c.is_dir()), None)


def _parse_int(path: Path, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CgroupReadError(path, f"expected an integer, got {text[:40]!r}") from None


def _int(path: Path) -> int:
    return _parse_int(path, path.read_text().strip())


def _optional_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def _optional_int(path: Path) -> int | None:
    text = _optional_text(path)
    return None if text is None else _parse_int(path, text)


def _limit_v2(path: Path) -> int | None:
    text = _optional_text(path)
    return None if text is None or text == "max" else _parse_int(path, text)


def _parse_keyed(path: Path, text: str) -> dict[str, int]:
    """Flat keyed files (`memory.stat`, `memory.events`, `cpu.stat`): one `key value` a line."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if not key:
            continue
        values[key] = _parse_int(path, value.strip())
    return values


def _keyed(path: Path) -> dict[str, int]:
    return _parse_keyed(path, path.read_text())


def _optional_keyed(path: Path) -> dict[str, int] | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return _parse_keyed(path, text)
