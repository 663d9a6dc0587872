"""What Loki 3 derives at ingest, so Grafana's Logs Drilldown and logs volume work unchanged:
a `service_name` stream label (Loki's `discover_service_name`) and a `detected_level`
structured-metadata entry per line (`discover_log_levels`), both with Loki's default lists."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson

from vigil.logs._api import Lines
from vigil.logs.lines import contains
from vigil.model import Labels

SERVICE_NAME = "service_name"
UNKNOWN_SERVICE = "unknown_service"
DETECTED_LEVEL = "detected_level"
UNKNOWN_LEVEL = "unknown"

SERVICE_NAME_SOURCES = (
    "service_name",
    "service",
    "app",
    "application",
    "name",
    "app_kubernetes_io_name",
    "container",
    "container_name",
    "k8s_container_name",
    "component",
    "workload",
    "job",
)
"""Loki's default `discover_service_name`: the first of these a stream has names its service."""

LEVEL_KEYS = ("level", "LEVEL", "Level", "severity", "SEVERITY", "Severity", "lvl", "LVL", "Lvl")
"""Where Loki looks for a level: stream labels, structured metadata, JSON or logfmt keys."""

OTLP_SEVERITY_NUMBER = "severity_number"

_NO_METADATA = Labels()

_LEVEL_NAMES = {
    "trace": "trace",
    "trc": "trace",
    "debug": "debug",
    "dbg": "debug",
    "info": "info",
    "inf": "info",
    "warn": "warn",
    "wrn": "warn",
    "warning": "warn",
    "error": "error",
    "err": "error",
    "critical": "critical",
    "fatal": "fatal",
}
_LOGFMT_LEVEL = re.compile(
    rb"(?:^|\s)(?:" + b"|".join(k.encode() for k in LEVEL_KEYS) + rb')=("(?:[^"\\]|\\.)*"|\S*)'
)
# OTLP SeverityNumber ranges (TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24).
_SEVERITY_RANGES = (
    (4, "trace"),
    (8, "debug"),
    (12, "info"),
    (16, "warn"),
    (20, "error"),
    (24, "fatal"),
)


@dataclass(frozen=True, slots=True)
class DiscoveryOptions:
    """Loki's `discover_service_name` (empty: none added) and `discover_log_levels`."""

    service_name_sources: tuple[str, ...] = SERVICE_NAME_SOURCES
    log_levels: bool = True


class Discovery:
    """Derives stream labels and per-line metadata; label sets seen before are cached."""

    def __init__(self, options: DiscoveryOptions = DiscoveryOptions()) -> None:
        self._options = options
        self._streams: dict[Labels, Labels] = {}
        self._level_only: dict[str, Labels] = {}

    def stream_labels(self, labels: Labels) -> Labels:
        """`labels` with `service_name` added when absent: the value of the first label of
        Loki's list the stream has, else `unknown_service`."""
        found = self._streams.get(labels)
        if found is not None:
            return found
        found = labels
        sources = self._options.service_name_sources
        if sources and not labels.get(SERVICE_NAME):
            values = labels.to_dict()
            service = next((values[n] for n in sources if values.get(n)), UNKNOWN_SERVICE)
            found = labels.with_label(SERVICE_NAME, service)
        if len(self._streams) >= 1 << 16:
            self._streams.clear()
        self._streams[labels] = found
        return found

    def entry_metadata(self, stream: Labels, line: bytes, metadata: Labels) -> Labels:
        """`metadata` with `detected_level` added, unless the sender set one."""
        return self.entries_metadata(stream, Lines.of([line]), (metadata,))[0]

    def entries_metadata(
        self, stream: Labels, lines: Lines, metadata: Sequence[Labels] | None
    ) -> list[Labels]:
        """`entry_metadata` for each line of one stream (`metadata` None: no line has any).
        What depends on the stream only is looked at once; levels read from the lines are
        found over the whole column (`line_levels`)."""
        n = len(lines)
        if not self._options.log_levels:
            return list(metadata) if metadata is not None else [_NO_METADATA] * n
        from_stream = _first_level(stream)
        if metadata is None:
            if from_stream:
                return [self._level_only_labels(from_stream)] * n
            levels = line_levels(lines)
            return [self._level_only_labels(level) for level in levels]
        found = []
        for i, meta in enumerate(metadata):
            if meta:
                if meta.get(DETECTED_LEVEL):
                    found.append(meta)
                    continue
                level = (
                    from_stream
                    or _first_level(meta)
                    or _severity_level(meta.get(OTLP_SEVERITY_NUMBER))
                    or line_level(lines[i])
                )
                found.append(meta.with_label(DETECTED_LEVEL, level))
                continue
            found.append(self._level_only_labels(from_stream or line_level(lines[i])))
        return found

    def _level_only_labels(self, level: str) -> Labels:
        cached = self._level_only.get(level)
        if cached is None:
            cached = self._level_only[level] = Labels(((DETECTED_LEVEL, level),))
        return cached


def _first_level(labels: Labels) -> str:
    if not labels:
        return ""
    values = labels.to_dict()
    return next((values[k] for k in LEVEL_KEYS if values.get(k)), "")


def _severity_level(number: str) -> str:
    if not number:
        return ""
    try:
        severity = int(number)
    except ValueError:
        return "info"
    if severity <= 0:
        return UNKNOWN_LEVEL
    return next((name for top, name in _SEVERITY_RANGES if severity <= top), UNKNOWN_LEVEL)


def line_level(line: bytes) -> str:
    """The level Loki 3 reads from a line: a level key of a JSON object or of logfmt, else
    the first level word found in the text, else `unknown`."""
    stripped = line.strip()
    value: object = None
    if stripped.startswith(b"{") and stripped.endswith(b"}"):
        try:
            document = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            document = None
        if isinstance(document, dict):
            value = next((document[k] for k in LEVEL_KEYS if k in document), None)
    elif b"=" in line:
        match = _LOGFMT_LEVEL.search(line)
        if match is not None:
            value = match.group(1).strip(b'"').decode("utf-8", "replace")
    if isinstance(value, str):
        name = _LEVEL_NAMES.get(value.lower())
        if name is not None:
            return name
    return _word_level(line)


_WORDS = (
    ("info", (b"info", b"INFO")),
    ("error", (b"err:", b"ERR:", b"error", b"ERROR")),
    ("warn", (b"warn:", b"WARN:", b"warning", b"WARNING")),
    ("critical", (b"CRITICAL:", b"critical:")),
    ("debug", (b"debug:", b"DEBUG:")),
)
"""Loki's last resort: the first of these words found, in this order."""

_STRUCTURED = (b"{", *(key.encode() + b"=" for key in LEVEL_KEYS))
"""A line holding none of these has no JSON or logfmt level key: its words decide."""


def _word_level(line: bytes) -> str:
    for level, words in _WORDS:
        if any(word in line for word in words):
            return level
    return UNKNOWN_LEVEL


def line_levels(lines: Lines) -> list[str]:
    """`line_level` of every line: the level words are searched over the whole blob; only
    lines that may hold a JSON object or a logfmt level key are read one by one."""
    names = [UNKNOWN_LEVEL, *(level for level, _ in _WORDS)]
    codes = np.zeros(len(lines), dtype=np.int64)
    for code in range(len(_WORDS), 0, -1):
        found = np.zeros(len(lines), dtype=bool)
        for word in _WORDS[code - 1][1]:
            found |= contains(lines, word)
        codes[found] = code
    levels: list[str] = np.array(names, dtype=object)[codes].tolist()
    structured = np.zeros(len(lines), dtype=bool)
    for marker in _STRUCTURED:
        structured |= contains(lines, marker)
    for i in np.flatnonzero(structured).tolist():
        levels[i] = line_level(lines[i])
    return levels
