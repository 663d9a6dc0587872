"""The kernel's own word on OOM kills: `/dev/kmsg` "Killed process" records (victim, pid, cgroup,
cgroup-or-host scope) and the `oom_kill` counter of `/proc/vmstat`, which outlive any cgroup."""

from __future__ import annotations

import errno
import logging
import os
import re
import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger("vigil.exporter.containers.kmsg")

Scope = Literal["cgroup", "host"]

_KILLED = re.compile(
    r"^(?:(?P<why>Memory cgroup out of memory|Out of memory(?: \(oom_kill_allocating_task\))?): )?"
    r"Killed process (?P<pid>\d+) \((?P<comm>[^)]*)\)(?P<rest>.*)$"
)
_ANON_RSS = re.compile(r"anon-rss:(\d+)kB")
_TASK_IN = re.compile(r"^Task in (?P<task>\S+) killed as a result of limit of (?P<oom>\S+)")
_KILL_HINT = re.compile(
    r"^(?P<why>Memory cgroup out of memory|Out of memory): Kill process (?P<pid>\d+)"
)
_HISTORY = 256


@dataclass(frozen=True, slots=True)
class OomKill:
    """One process the kernel's OOM killer killed, as its log lines tell it."""

    seq: int
    """kmsg sequence number: orders kills and tells a new one from one already seen."""
    pid: int
    process: str
    task_cgroup: str
    """The victim's memory cgroup (`task_memcg`), "" when the kernel did not say."""
    oom_cgroup: str
    """The cgroup whose limit was hit (`oom_memcg`), "" for a host-wide OOM."""
    scope: Scope
    """`cgroup` when a memory cgroup's limit triggered the kill, `host` when the whole machine ran out."""
    anon_rss_bytes: int | None
    uptime_seconds: float
    """When, in seconds since boot (the kmsg timestamp)."""


@dataclass(frozen=True, slots=True)
class _Record:
    seq: int
    usec: int
    message: str


def _parse_record(line: str, fallback_seq: int) -> _Record:
    """`PRI,SEQ,USEC,FLAGS[,…];MESSAGE` as /dev/kmsg hands it out; a bare line counts as a message."""
    header, sep, message = line.partition(";")
    if sep:
        fields = header.split(",")
        if len(fields) >= 3 and fields[1].isdigit() and fields[2].isdigit():
            return _Record(int(fields[1]), int(fields[2]), message)
    return _Record(fallback_seq, 0, line)


class OomKillParser:
    """Turns kmsg records into OomKills: the `oom-kill:` summary line (4.19+), or the older `Task in
    … killed as a result of limit of …` line, gives the cgroups; `Killed process` closes the kill."""

    def __init__(self) -> None:
        self._summary: dict[str, str] = {}
        self._task_in: tuple[str, str] | None = None
        self._hint_memcg: dict[int, bool] = {}

    def feed(self, record: _Record) -> OomKill | None:
        message = record.message.strip()
        if message.startswith("oom-kill:"):
            self._summary = dict(
                item.partition("=")[::2] for item in message[len("oom-kill:") :].split(",")
            )
            return None
        if task_in := _TASK_IN.match(message):
            self._task_in = (task_in["task"], task_in["oom"])
            return None
        if hint := _KILL_HINT.match(message):
            self._hint_memcg = {int(hint["pid"]): hint["why"].startswith("Memory cgroup")}
            return None
        killed = _KILLED.match(message)
        if killed is None:
            return None
        pid = int(killed["pid"])
        summary = self._summary if self._summary.get("pid") == str(pid) else {}
        task_cgroup = summary.get("task_memcg", "")
        oom_cgroup = summary.get("oom_memcg", "")
        if not summary and self._task_in is not None:
            task_cgroup, oom_cgroup = self._task_in
        if killed["why"] is not None:
            memcg = killed["why"].startswith("Memory cgroup")
        elif summary:
            memcg = summary.get("constraint") == "CONSTRAINT_MEMCG"
        else:
            memcg = self._hint_memcg.get(pid, bool(oom_cgroup) and oom_cgroup != "/")
        rss = _ANON_RSS.search(killed["rest"])
        self._summary, self._task_in, self._hint_memcg = {}, None, {}
        return OomKill(
            seq=record.seq,
            pid=pid,
            process=killed["comm"],
            task_cgroup=task_cgroup,
            oom_cgroup=oom_cgroup if memcg else "",
            scope="cgroup" if memcg else "host",
            anon_rss_bytes=int(rss[1]) * 1024 if rss else None,
            uptime_seconds=record.usec / 1e6,
        )


class KernelOomLog:
    """Follows the kernel log for OOM kills. The first poll reads the ring buffer's backlog (so
    the last victim survives an agent restart) without counting it as new; `recent()` holds the
    kills seen since, for correlating with container deaths."""

    def __init__(self, path: Path, poll_interval: float = 1.0) -> None:
        self._path = path
        self._poll_interval = poll_interval
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._pending = b""
        self._parser = OomKillParser()
        self._fallback_seq = 0
        self._backlog_done = False
        self._last: OomKill | None = None
        self._recent: deque[OomKill] = deque(maxlen=_HISTORY)
        self._seen = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> Path:
        return self._path

    def poll(self) -> list[OomKill]:
        """Reads every record available now, without blocking; returns the new kills.
        Raises OSError when the log cannot be opened or read."""
        with self._lock:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDONLY | os.O_NONBLOCK)
            kills = [k for k in map(self._parser.feed, self._read_records()) if k is not None]
            if kills:
                self._last = kills[-1]
            if not self._backlog_done:
                self._backlog_done = True
                return []
            self._recent.extend(kills)
            self._seen += len(kills)
            return kills

    def _read_records(self) -> list[_Record]:
        assert self._fd is not None
        records: list[_Record] = []
        while True:
            try:
                chunk = os.read(self._fd, 16384)
            except BlockingIOError:
                break
            except OSError as err:
                if err.errno == errno.EPIPE:  # the ring buffer overwrote records we had not read
                    continue
                raise
            if not chunk:
                break
            lines = (self._pending + chunk).split(b"\n")
            self._pending = lines.pop()
            for raw in lines:
                if not raw or raw.startswith(b" "):  # empty, or a `KEY=value` continuation line
                    continue
                self._fallback_seq += 1
                records.append(_parse_record(raw.decode("utf-8", "replace"), self._fallback_seq))
        return records

    def last(self) -> OomKill | None:
        with self._lock:
            return self._last

    def recent(self) -> tuple[OomKill, ...]:
        """Kills seen after the backlog, oldest first (a bounded history)."""
        with self._lock:
            return tuple(self._recent)

    def seen(self) -> int:
        """Kills seen since the first poll: the fallback counter where /proc/vmstat has no oom_kill."""
        with self._lock:
            return self._seen

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-kmsg", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.poll()
                failing = False
            except OSError as err:
                if not failing:
                    log.error("cannot read OOM kills from %s: %s", self._path, err)
                failing = True
            self._stop.wait(self._poll_interval)


def read_vmstat_oom_kills(procfs: Path) -> int | None:
    """`oom_kill` of /proc/vmstat (Linux 4.13+): every OOM kill since boot, cgroup or host."""
    path = procfs / "vmstat"
    for line in path.read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    return None


def read_boot_time(procfs: Path) -> float | None:
    """`btime` of /proc/stat, to turn kmsg's seconds-since-boot into a timestamp."""
    try:
        text = (procfs / "stat").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return None
