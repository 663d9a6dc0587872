"""How `vigil logs` prints entries, as logcli prints them: `default` (time, the labels not
common to every stream padded to one width, the line), `raw` (the line) and `jsonl` (Go's
JSON of {labels, line, timestamp}); times in RFC 3339 in the chosen zone."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from vigil.cmd.query import format_label_set

OUTPUTS = ("default", "raw", "jsonl")


@dataclass(frozen=True, slots=True)
class Entry:
    timestamp_ns: int
    labels: Mapping[str, str]
    line: str


def entries(streams: Iterable[Mapping[str, Any]], forward: bool) -> list[Entry]:
    """Every entry of a `streams` result, oldest first when `forward`, else newest first."""
    found = [
        Entry(int(value[0]), stream.get("stream", {}), value[1])
        for stream in streams
        for value in stream.get("values", [])
    ]
    found.sort(key=lambda e: e.timestamp_ns, reverse=not forward)
    return found


def common_labels(label_sets: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """The name=value pairs every set has."""
    if not label_sets:
        return {}
    common = dict(label_sets[0])
    for labels in label_sets[1:]:
        common = {k: v for k, v in common.items() if labels.get(k) == v}
    return common


def rfc3339(timestamp_ns: int, zone: tzinfo, nano: bool = False) -> str:
    """Go's time.RFC3339 (or RFC3339Nano: the fraction without trailing zeros)."""
    seconds, ns = divmod(timestamp_ns, 1_000_000_000)
    when = datetime.fromtimestamp(seconds, UTC).astimezone(zone)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if nano and ns:
        text += "." + f"{ns:09d}".rstrip("0")
    offset = when.utcoffset()
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def go_json(value: object) -> str:
    """json.Marshal's text: compact, keys sorted, <, > and & escaped as Go escapes them."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


@dataclass(frozen=True, slots=True)
class Printer:
    """One output format's way of printing an entry (its labels already reduced)."""

    output: str
    zone: tzinfo
    no_labels: bool = False

    def line(self, entry: Entry, labels: Mapping[str, str], width: int) -> str:
        if self.output == "raw":
            return entry.line.removesuffix("\n")
        if self.output == "jsonl":
            record: dict[str, object] = {
                "timestamp": rfc3339(entry.timestamp_ns, self.zone, nano=True),
                "line": entry.line,
            }
            if not self.no_labels:
                record["labels"] = dict(labels)
            return go_json(record)
        when = rfc3339(entry.timestamp_ns, self.zone)
        if self.no_labels:
            return f"{when} {entry.line.strip()}"
        return f"{when} {format_label_set(dict(labels)).ljust(width)} {entry.line.strip()}"


def print_entries(found: Sequence[Entry], printer: Printer) -> tuple[list[str], dict[str, str]]:
    """The printed lines of a query's entries and the labels they all share (logcli says
    those once, on stderr, and leaves them out of each line)."""
    common = common_labels([e.labels for e in found])
    reduced = [{k: v for k, v in e.labels.items() if k not in common} for e in found]
    width = max((len(format_label_set(dict(labels))) for labels in reduced), default=0)
    lines = [printer.line(e, labels, width) for e, labels in zip(found, reduced, strict=True)]
    return lines, common
