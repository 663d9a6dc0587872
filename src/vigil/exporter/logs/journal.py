"""systemd's journal as a log source (Promtail's `journal` scrape): `journalctl --follow -o json`
runs as a child process, its entries become log entries labelled `unit` and `service_name`,
and the cursor of the last shipped entry is what the positions file keeps, so a restart goes
on after it (`--after-cursor`), neither losing nor repeating entries.

A reader thread moves journalctl's output into a bounded queue: while pushes fail and the
queue is full, journalctl blocks on its pipe (the backlog stays in the journal). Entries taken
but not yet committed are kept and handed out again after a `rewind`.
"""

from __future__ import annotations

import contextlib
import queue
import shutil
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

import orjson

from vigil.exporter.logs.entry import LogEntry, stream_labels

JOURNAL_SOURCE = "journal"

# syslog priorities (0 emerg .. 7 debug) as the level names the Level stage sets.
_PRIORITY_LEVELS = ("critical", "critical", "critical", "error", "warn", "info", "info", "debug")


@dataclass(frozen=True, slots=True)
class JournalOptions:
    """`path`: a journal directory or file to read instead of the system's (a journal mounted
    from the host into a container); `max_age_s`: how far back a first start reads."""

    path: Path | None = None
    max_age_s: float = 7 * 3600
    journalctl: str = "journalctl"
    queue_entries: int = 10_000


class JournalUnavailable(Exception):
    """journalctl cannot be run here; the message says why."""


def journal_command(options: JournalOptions, cursor: str | None, now: float) -> list[str]:
    binary = shutil.which(options.journalctl)
    if binary is None:
        raise JournalUnavailable(f"{options.journalctl} not found on PATH")
    command = [binary, "--output=json", "--follow", "--no-pager", "--all"]
    if options.path is not None:
        flag = "--directory" if options.path.is_dir() else "--file"
        command.append(f"{flag}={options.path}")
    if cursor:
        command.append(f"--after-cursor={cursor}")
    else:
        command += ["--lines=all", f"--since=@{int(now - options.max_age_s)}"]
    return command


def journal_entry(record: dict[str, object], host: str) -> tuple[LogEntry, str] | None:
    """A journal record (journalctl's JSON) as an entry and its cursor; None without a
    message or cursor. A message journalctl gives as a byte array (not UTF-8) is decoded
    with replacement characters."""
    cursor = record.get("__CURSOR")
    message = record.get("MESSAGE")
    if not isinstance(cursor, str) or message is None:
        return None
    if isinstance(message, list):
        message = bytes(b for b in message if isinstance(b, int)).decode("utf-8", "replace")
    unit = _text(record.get("_SYSTEMD_UNIT")) or _text(record.get("_SYSTEMD_USER_UNIT"))
    identifier = _text(record.get("SYSLOG_IDENTIFIER"))
    service = identifier or unit.removesuffix(".service") or _text(record.get("_COMM"))
    labels = stream_labels(
        host=_text(record.get("_HOSTNAME")) or host,
        unit=unit,
        service_name=service or "journal",
    )
    metadata = {}
    priority = _text(record.get("PRIORITY"))
    if priority.isdigit() and int(priority) < len(_PRIORITY_LEVELS):
        metadata["level"] = _PRIORITY_LEVELS[int(priority)]
    try:
        ts_ns = int(_text(record.get("__REALTIME_TIMESTAMP"))) * 1000
    except ValueError:
        return None
    return LogEntry(labels, ts_ns, str(message), metadata), cursor


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


class JournalFollower:
    """The journal followed from `cursor` on (or `max_age_s` back when None)."""

    def __init__(self, options: JournalOptions, cursor: str | None, host: str, now: float) -> None:
        self.committed = cursor
        self.undecodable = 0
        self._host = host
        self._queue: queue.Queue[tuple[LogEntry, str] | None] = queue.Queue(options.queue_entries)
        self._taken: list[tuple[LogEntry, str]] = []
        self._replay = 0  # entries of _taken to hand out again after a rewind
        self._process = subprocess.Popen(
            journal_command(options, cursor, now),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        self._reader = threading.Thread(target=self._read, name="vigil-journal", daemon=True)
        self._reader.start()
        self.error = ""

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                self.undecodable += 1
                continue
            parsed = journal_entry(record, self._host) if isinstance(record, dict) else None
            if parsed is None:
                self.undecodable += 1
                continue
            self._queue.put(parsed)
        code = self._process.wait()
        if code != 0:
            stderr = self._process.stderr.read() if self._process.stderr else b""
            self.error = f"journalctl exited {code}: {stderr.decode(errors='replace').strip()}"
        else:
            self.error = "journalctl exited"
        self._queue.put(None)

    def read(self, budget: int) -> list[LogEntry]:
        """Entries not yet handed out (those of a rewind first), up to `budget` bytes."""
        out: list[LogEntry] = []
        size = 0
        while self._replay and size < budget:
            entry = self._taken[len(self._taken) - self._replay][0]
            self._replay -= 1
            out.append(entry)
            size += len(entry.line)
        while size < budget:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                break
            self._taken.append(item)
            out.append(item[0])
            size += len(item[0].line)
        return out

    def safe_position(self) -> str | None:
        """The cursor of the last entry handed out."""
        handed = len(self._taken) - self._replay
        return self._taken[handed - 1][1] if handed else self.committed

    def commit(self, cursor: str) -> None:
        handed = len(self._taken) - self._replay
        del self._taken[:handed]
        self.committed = cursor

    def rewind(self) -> None:
        self._replay = len(self._taken)

    def close(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(5)
            if self._process.poll() is None:
                self._process.kill()
                self._process.wait()
        while self._reader.is_alive():  # a reader blocked on a full queue gets room to end
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.1)
        for stream in (self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()
