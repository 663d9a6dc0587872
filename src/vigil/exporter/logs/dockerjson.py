"""Docker's json-file log driver: one JSON object per line, `{"log", "stream", "time"}`.

Docker splits a line longer than 16 KiB into parts whose `log` does not end in a newline;
`PartialJoiner` puts them back together per stream (also across a file rotation, since it
outlives the file). The entry's time is its first part's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import orjson

from vigil.exporter.logs.tail import Position, Record

MAX_JOINED_BYTES = 1 << 20  # a runaway line is cut here rather than held in memory


@dataclass(frozen=True, slots=True)
class DockerLine:
    stream: str
    ts_ns: int
    text: str  # without its trailing newline
    start: Position
    end: Position
    partial: bool


def parse_time_ns(text: str) -> int:
    """RFC 3339 with up to nanoseconds (`2024-01-02T03:04:05.123456789Z`) as Unix ns."""
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        fraction, zone = rest[:digits], rest[digits:]
    else:
        fraction, zone = "", head[19:]
        head = head[:19]
    when = dt.datetime.fromisoformat(head + (zone.replace("Z", "+00:00") or "+00:00"))
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return int(when.timestamp()) * 1_000_000_000 + nanos


def decode(record: Record) -> DockerLine | None:
    """A json-file line, or None for one that is not (counted by the caller)."""
    try:
        data = orjson.loads(record.line)
        log, stream, when = data["log"], data.get("stream", "stdout"), data["time"]
        ts = parse_time_ns(when)
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
    if not isinstance(log, str) or not isinstance(stream, str):
        return None
    partial = not log.endswith("\n")
    text = log if partial else log[:-1]
    if text.endswith("\r"):
        text = text[:-1]
    return DockerLine(stream, ts, text, record.start, record.end, partial)


@dataclass(slots=True)
class _Parts:
    ts_ns: int
    start: Position
    parts: list[str] = field(default_factory=list)
    size: int = 0


class PartialJoiner:
    """Whole lines out of Docker's parts, per stream."""

    def __init__(self) -> None:
        self._pending: dict[str, _Parts] = {}

    def push(self, line: DockerLine) -> DockerLine | None:
        pending = self._pending.get(line.stream)
        if pending is None and not line.partial:
            return line
        if pending is None:
            pending = self._pending[line.stream] = _Parts(line.ts_ns, line.start)
        if pending.size < MAX_JOINED_BYTES:
            pending.parts.append(line.text[: MAX_JOINED_BYTES - pending.size])
            pending.size += len(pending.parts[-1])
        if line.partial:
            return None
        del self._pending[line.stream]
        return DockerLine(
            line.stream, pending.ts_ns, "".join(pending.parts), pending.start, line.end, False
        )

    def pending_starts(self) -> list[Position]:
        """Where each stream's unfinished line begins."""
        return [p.start for p in self._pending.values()]

    def clear(self) -> None:
        self._pending.clear()
