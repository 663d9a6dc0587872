"""Processes picked by command-line pattern (`--collector.processes.match`): up or down, RSS, CPU and
OOM kills, so a bare `java -jar app.jar` without Docker is watched as closely as a container."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.exporter.containers.kmsg import KernelOomLog, read_boot_time
from vigil.model.regex import Anchor, Regex, RegexError

_NAMED = re.compile(r"^(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<regex>.+)$")


@dataclass(frozen=True, slots=True)
class ProcessMatch:
    name: str
    """The `name` label: NAME of `NAME=REGEX`, or the regex itself."""
    pattern: Regex


def parse_process_match(spec: str) -> ProcessMatch:
    """`NAME=REGEX` or `REGEX`; the regex is searched in the command line (arguments joined by spaces)."""
    named = _NAMED.match(spec)
    name, regex = (named["name"], named["regex"]) if named else (spec, spec)
    try:
        return ProcessMatch(name, Regex(regex, Anchor.SEARCH))
    except RegexError as err:
        raise ValueError(
            f"--collector.processes.match {spec!r}: invalid regular expression: {err}"
        ) from None


@dataclass(frozen=True, slots=True)
class _Process:
    pid: int
    cpu_seconds: float
    rss_bytes: int
    start_seconds: float
    """Since boot."""


@dataclass(slots=True)
class _Group:
    """CPU of processes gone since the last scrape is kept, so the counter never drops."""

    retired_cpu: float = 0.0
    last_cpu: dict[int, float] = field(default_factory=dict)
    oom_kills: int = 0


class ProcessCollector:
    name = "process_match"

    def __init__(
        self,
        procfs: Path,
        matches: Sequence[ProcessMatch],
        oom_log: KernelOomLog | None,
        own_pid: int,
    ) -> None:
        self._procfs = procfs
        self._matches = list(matches)
        self._oom_log = oom_log
        self._own_pid = own_pid  # `vigil agent --collector.processes.match=java` matches itself
        self._groups = {m.name: _Group() for m in self._matches}
        self._kill_cursor = -1
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._page = os.sysconf("SC_PAGE_SIZE")

    def _scan(self) -> dict[str, list[_Process]]:
        found: dict[str, list[_Process]] = {m.name: [] for m in self._matches}
        for entry in os.scandir(self._procfs):
            if not entry.name.isdigit() or int(entry.name) == self._own_pid:
                continue
            try:
                raw = Path(entry.path, "cmdline").read_bytes()
                if not raw:
                    continue  # kernel thread, or a zombie
                cmdline = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
                names = [m.name for m in self._matches if m.pattern.matches(cmdline)]
                if not names:
                    continue
                stat = Path(entry.path, "stat").read_text()
            except (FileNotFoundError, ProcessLookupError):
                continue  # exited while we looked
            fields = stat[stat.rindex(")") + 2 :].split()
            process = _Process(
                pid=int(entry.name),
                cpu_seconds=(int(fields[11]) + int(fields[12])) / self._ticks,
                rss_bytes=int(fields[21]) * self._page,
                start_seconds=int(fields[19]) / self._ticks,
            )
            for name in names:
                found[name].append(process)
        return found

    def _count_oom_kills(self, found: dict[str, list[_Process]]) -> None:
        if self._oom_log is None:
            return
        with contextlib.suppress(OSError):  # the oomkill collector reports an unreadable log
            self._oom_log.poll()
        for kill in self._oom_log.recent():
            if kill.seq <= self._kill_cursor:
                continue
            self._kill_cursor = kill.seq
            for name, group in self._groups.items():
                if kill.pid in group.last_cpu or any(p.pid == kill.pid for p in found[name]):
                    group.oom_kills += 1

    def collect(self) -> Iterator[Metric]:
        found = self._scan()
        self._count_oom_kills(found)
        boot = read_boot_time(self._procfs)
        up = GaugeMetricFamily(
            "vigil_process_up", "1 when a process matches the pattern.", labels=["name"]
        )
        count = GaugeMetricFamily(
            "vigil_process_count", "Processes matching the pattern.", labels=["name"]
        )
        rss = GaugeMetricFamily(
            "vigil_process_resident_memory_bytes",
            "Resident memory of the matching processes.",
            labels=["name"],
        )
        cpu = CounterMetricFamily(
            "vigil_process_cpu_seconds_total",
            "User and system CPU of the matching processes, those gone included.",
            labels=["name"],
        )
        started = GaugeMetricFamily(
            "vigil_process_start_time_seconds",
            "Start time of the newest matching process.",
            labels=["name"],
        )
        ooms = CounterMetricFamily(
            "vigil_process_oom_killed_total",
            "Matching processes the kernel's OOM killer killed (from the kernel log).",
            labels=["name"],
        )
        for match in self._matches:
            processes = found[match.name]
            group = self._groups[match.name]
            current = {p.pid: p.cpu_seconds for p in processes}
            group.retired_cpu += sum(v for pid, v in group.last_cpu.items() if pid not in current)
            group.last_cpu = current
            up.add_metric([match.name], 1.0 if processes else 0.0)
            count.add_metric([match.name], len(processes))
            rss.add_metric([match.name], sum(p.rss_bytes for p in processes))
            cpu.add_metric([match.name], group.retired_cpu + sum(current.values()))
            ooms.add_metric([match.name], group.oom_kills)
            if processes and boot is not None:
                started.add_metric([match.name], boot + max(p.start_seconds for p in processes))
        yield from (up, count, rss, cpu, started, ooms)
