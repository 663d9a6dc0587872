"""Processing at the edge, in Promtail's spirit but small: drop noise, lift fields into
structured metadata, detect the level, derive the client's IP.

A pipeline is a list of stages, each `apply(entry, fields) -> bool` (False drops the entry).
`Fields` parses the line once (JSON when it starts with `{`, logfmt otherwise) for every
stage that asks.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import orjson

from vigil.exporter.logs.entry import LogEntry
from vigil.model.forwarded import TOMCAT_INTERNAL_PROXIES, TrustedProxies, x_forwarded_for_hops
from vigil.model.regex import Anchor, Regex

# A key starts a word (so a long word is read once, not once per character).
_LOGFMT = re.compile(r'(?<!\S)([^\s="]++)=(?:"((?:[^"\\]|\\.)*+)"|([^\s"]*+))')
MAX_METADATA_FIELDS = 32


class Fields:
    """The line's top-level fields, parsed on first use; values as strings."""

    __slots__ = ("_line", "_parsed")

    def __init__(self, line: str) -> None:
        self._line = line
        self._parsed: dict[str, str] | None = None

    def get(self) -> dict[str, str]:
        if self._parsed is None:
            self._parsed = _parse(self._line)
        return self._parsed


def _parse(line: str) -> dict[str, str]:
    text = line.lstrip()
    if text.startswith("{"):
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError:
            return {}
        if not isinstance(data, dict):
            return {}
        return {k: _text(v) for k, v in data.items() if v is not None}
    return {
        m.group(1): m.group(2).replace('\\"', '"') if m.group(2) is not None else m.group(3)
        for m in _LOGFMT.finditer(line)
    }


def _text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return orjson.dumps(value).decode() if isinstance(value, dict | list) else str(value)


class Stage(Protocol):
    @property
    def name(self) -> str: ...

    def apply(self, entry: LogEntry, fields: Fields) -> bool: ...


@dataclass(frozen=True, slots=True)
class Drop:
    """Drops entries whose line (or, with `source`, that field) matches `expression`: the
    load balancer's health checks, e.g. `source="user_agent", expression="ELB-HealthChecker"`."""

    name: str
    expression: str
    source: str = ""
    _regex: Regex = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", Regex(self.expression, Anchor.SEARCH))

    def apply(self, entry: LogEntry, fields: Fields) -> bool:
        text = fields.get().get(self.source) if self.source else entry.line
        return text is None or not self._regex.matches(text)


@dataclass(frozen=True, slots=True)
class Extract:
    """Copies JSON/logfmt fields into structured metadata (ids belong there, not in
    labels); `fields` empty takes every top-level field, up to MAX_METADATA_FIELDS."""

    name: str = "extract"
    fields: tuple[str, ...] = ()

    def apply(self, entry: LogEntry, fields: Fields) -> bool:
        parsed = fields.get()
        wanted = self.fields or tuple(parsed)[:MAX_METADATA_FIELDS]
        for key in wanted:
            value = parsed.get(key)
            if value is not None and key not in entry.metadata:
                entry.metadata[key] = value
        return True


_LEVEL_FIELDS = ("level", "lvl", "loglevel", "severity", "log.level", "LEVEL", "Level")
_LEVELS = {
    "trace": "trace",
    "debug": "debug",
    "dbug": "debug",
    "info": "info",
    "inf": "info",
    "notice": "info",
    "warn": "warn",
    "warning": "warn",
    "wrn": "warn",
    "err": "error",
    "error": "error",
    "eror": "error",
    "fatal": "critical",
    "critical": "critical",
    "crit": "critical",
    "panic": "critical",
    "emerg": "critical",
    "alert": "critical",
}
_LEVEL_WORD = re.compile(
    r"\b(TRACE|DEBUG|INFO|WARN(?:ING)?|ERROR|FATAL|CRITICAL|PANIC|"
    r"trace|debug|info|warn(?:ing)?|error|fatal|critical|panic)\b"
)


_LEVEL_PAIR = re.compile(r"(?<![\w.])(?:level|lvl|loglevel|severity)=\"?([A-Za-z]+)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Level:
    """Sets metadata `level` (trace, debug, info, warn, error, critical) from a level field
    (JSON, or logfmt's `level=`), else from the first level word in the line's first 200
    characters; leaves it unset when neither says. A JSON line is parsed (and shared with
    later stages); other lines are only searched, never split into fields."""

    name: str = "level"

    def apply(self, entry: LogEntry, fields: Fields) -> bool:
        if entry.metadata.get("level") in _LEVEL_VALUES:
            return True
        line = entry.line
        if line.lstrip().startswith("{"):
            parsed = fields.get()
            for key in _LEVEL_FIELDS:
                value = parsed.get(key)
                if value is not None and value.lower() in _LEVELS:
                    entry.metadata["level"] = _LEVELS[value.lower()]
                    return True
        elif _may_have_level_pair(line):
            m = _LEVEL_PAIR.search(line, 0, 512)
            if m is not None and m.group(1).lower() in _LEVELS:
                entry.metadata["level"] = _LEVELS[m.group(1).lower()]
                return True
        m = _LEVEL_WORD.search(line, 0, 200)
        if m is not None:
            entry.metadata["level"] = _LEVELS[m.group(1).lower()]
        return True


_LEVEL_VALUES = frozenset(_LEVELS.values())


def _may_have_level_pair(line: str) -> bool:
    """A cheap test before the regex: `level=`, `lvl=`, `severity=` in any case end so."""
    return any(tail in line for tail in ("el=", "EL=", "vl=", "VL=", "ty=", "TY="))


@dataclass(frozen=True, slots=True)
class ClientIP:
    """Metadata `client_ip`: the right-most address of `X-Forwarded-For` that is not one of
    the trusted proxies (what Tomcat's RemoteIpValve and nginx's real_ip_recursive take);
    the left-most one when every hop is trusted. Addresses to the left of the first
    untrusted hop were written by the client and can be forged, so they are never used."""

    source: str = "x_forwarded_for"
    trusted: tuple[str, ...] = TOMCAT_INTERNAL_PROXIES
    name: str = "client_ip"
    _proxies: TrustedProxies = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_proxies", TrustedProxies(self.trusted))

    def client(self, forwarded_for: str) -> str | None:
        return self._proxies.client(x_forwarded_for_hops(forwarded_for))

    def apply(self, entry: LogEntry, fields: Fields) -> bool:
        header = fields.get().get(self.source)
        if header:
            client = self.client(header)
            if client is not None:
                entry.metadata["client_ip"] = client
        return True


def run_pipeline(stages: Sequence[Stage], entry: LogEntry) -> Stage | None:
    """Apply the stages in order; the stage that dropped the entry, or None if it passed."""
    fields = Fields(entry.line)
    for stage in stages:
        if not stage.apply(entry, fields):
            return stage
    return None
