"""Slow SQL: per (service, normalised statement), the 95th percentile of database call
durations over a window, with the trace ids of the slowest calls — the APM's slow-query
table.

A call is a CLIENT span with `db.query.text` (or the older `db.statement`). Its text is
normalised so one query shape is one row: comments dropped, string, numeric and hex literals
replaced by `?`, `IN (?, ?, …)` and repeated `VALUES (…), (…)` folded to one, whitespace
collapsed. Each statement keeps its last `samples_per_statement` calls (time, duration, ids)
in a ring; at most `max_statements` statements are kept, the least recently seen one
forgotten first. Memory is thus bounded: 256 × 500 × 48 bytes ≈ 6 MiB at most by default.
The window counts calls by when vigil received them (spans' own clocks may be skewed);
an example's `time` is its span's start.

The HTTP API (`vigil.web.slowsql_api`, for the UI's slow-SQL table):

    GET /api/v1/traces/slow_sql?window=1h&service=shop&limit=20

window: a Prometheus duration or seconds (default 1h, at most 24h); service: optional;
limit: rows (default 20, at most 1000). Answers, slowest p95 first:

    {"status": "success", "data": {"window_seconds": 3600, "statements": [
      {"service": "shop", "db_system": "postgresql",
       "statement": "SELECT * FROM orders WHERE id = ?",
       "calls": 120, "p95_seconds": 0.25, "max_seconds": 1.3,
       "examples": [{"trace_id": "0af7…319c", "span_id": "b7ad6b7169203331",
                     "duration_seconds": 1.3, "time": 1700000000.123}]}]}}

The percentile interpolates linearly between the calls' durations (numpy's default);
`examples` are the window's three slowest calls.
"""

from __future__ import annotations

import functools
import re
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.traces._api import KIND_CLIENT, SPAN_ID_SIZE, TRACE_ID_SIZE, AttrValue
from vigil.traces.spanmetrics_attributes import AttributeColumns, truthy
from vigil.traces.spanmetrics_guards import GuardedSpans

DEFAULT_SAMPLES = 256
DEFAULT_MAX_STATEMENTS = 500
EXAMPLES = 3
_TEXT_KEYS = ("db.query.text", "db.statement")
_SYSTEM_KEYS = ("db.system.name", "db.system")
_MAX_TEXT = 2000
_IDS = f"V{TRACE_ID_SIZE + SPAN_ID_SIZE}"

_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n]*", re.S)
_LITERALS = re.compile(
    r"(?=['\d-])(?:"  # what every literal starts with: most places are passed at once
    r"'(?:[^']|'')*'"  # strings, '' escaping a quote
    r"|(?<![\w$.])0x[0-9a-fA-F]+\b"  # hex
    r"|(?<![\w$.])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w$])"  # numbers, not in names
    r")"
)
_LISTS = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_ROWS = re.compile(r"(\(\?\))(?:\s*,\s*\(\?\))+")
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=4096)
def normalize(statement: str) -> str:
    """One query shape per statement text (cached: prepared statements repeat their text)."""
    text = statement[: _MAX_TEXT * 4]
    if "/*" in text or "--" in text:
        text = _COMMENTS.sub(" ", text)
    text = _LITERALS.sub("?", text)
    if "(" in text and "?" in text:
        text = _ROWS.sub(r"\1", _LISTS.sub("(?)", text))
    return " ".join(text.split()).rstrip(";").rstrip()[:_MAX_TEXT]


def _either(
    columns: AttributeColumns, keys: tuple[str, str], rows: npt.NDArray[np.intp]
) -> list[AttrValue | None]:
    """Per span of `rows`: its first key's value when that is truthy, else its second's."""
    first, second = columns.value(keys[0])[rows], columns.value(keys[1])[rows]
    found: list[AttrValue | None] = np.where(truthy(first), first, second).tolist()
    return found


@dataclass(frozen=True, slots=True)
class Example:
    trace_id: bytes
    span_id: bytes
    duration_s: float
    time_s: float


@dataclass(frozen=True, slots=True)
class SlowStatement:
    service: str
    db_system: str
    statement: str
    calls: int
    p95_s: float
    max_s: float
    examples: tuple[Example, ...]


class _Ring:
    """The last `size` calls of one statement."""

    def __init__(self, db_system: str, size: int) -> None:
        self.db_system = db_system
        self.written = 0
        self.t_ms = np.zeros(size, dtype=np.int64)  # when it arrived: what the window reads
        self.start_ns = np.zeros(size, dtype=np.int64)
        self.duration_ns = np.zeros(size, dtype=np.int64)
        self.ids = np.zeros(size, dtype=_IDS)

    def add(
        self,
        t_ms: int,
        starts: npt.NDArray[np.int64],
        durations: npt.NDArray[np.int64],
        ids: npt.NDArray[np.void],
    ) -> None:
        size = len(self.t_ms)
        starts, durations, ids = starts[-size:], durations[-size:], ids[-size:]
        at = (self.written + np.arange(len(durations))) % size
        self.t_ms[at] = t_ms
        self.start_ns[at] = starts
        self.duration_ns[at] = durations
        self.ids[at] = ids
        self.written += len(durations)

    def after(self, t_ms: int) -> npt.NDArray[np.intp]:
        filled = min(self.written, len(self.t_ms))
        return np.flatnonzero(self.t_ms[:filled] > t_ms)


class SlowSQL:
    def __init__(
        self,
        samples_per_statement: int = DEFAULT_SAMPLES,
        max_statements: int = DEFAULT_MAX_STATEMENTS,
    ) -> None:
        self.samples_per_statement = samples_per_statement
        self.max_statements = max_statements
        self._rings: OrderedDict[tuple[str, str], _Ring] = OrderedDict()

    def __len__(self) -> int:
        return len(self._rings)

    def observe(self, guarded: GuardedSpans, t_ms: int) -> None:
        spans = guarded.spans
        found: dict[tuple[str, str], tuple[str, list[int]]] = {}
        clients = np.flatnonzero(spans.kind == KIND_CLIENT)
        texts = _either(guarded.columns, _TEXT_KEYS, clients)
        systems = _either(guarded.columns, _SYSTEM_KEYS, clients)
        rows = zip(clients.tolist(), spans.service[clients].tolist(), texts, systems, strict=True)
        for i, service, text, system in rows:
            if not isinstance(text, str):
                continue
            key = (spans.strings[service], normalize(text))
            found.setdefault(key, (system if isinstance(system, str) else "", []))[1].append(i)
        if not found:
            return
        trace_ids = np.frombuffer(spans.trace_ids, np.uint8).reshape(-1, TRACE_ID_SIZE)
        span_ids = np.frombuffer(spans.span_ids, np.uint8).reshape(-1, SPAN_ID_SIZE)
        for key, (system, picked_rows) in found.items():
            picked = np.asarray(picked_rows, dtype=np.intp)
            ids = np.hstack([trace_ids[picked], span_ids[picked]]).view(_IDS).reshape(-1)
            self._ring(key, system).add(
                t_ms, spans.start_ns[picked], spans.duration_ns[picked], ids
            )

    def _ring(self, key: tuple[str, str], system: str) -> _Ring:
        ring = self._rings.get(key)
        if ring is None:
            if len(self._rings) >= self.max_statements:
                self._rings.popitem(last=False)
            ring = self._rings[key] = _Ring(system, self.samples_per_statement)
        else:
            self._rings.move_to_end(key)
        return ring

    def slowest(
        self, now_ms: int, window_ms: int, service: str | None = None, limit: int = 20
    ) -> list[SlowStatement]:
        """Statements with calls in (now - window, now], by p95 descending."""
        rows: list[SlowStatement] = []
        for (owner, statement), ring in self._rings.items():
            if service is not None and owner != service:
                continue
            at = ring.after(now_ms - window_ms)
            if not len(at):
                continue
            durations = ring.duration_ns[at] / 1e9
            slowest = at[np.argsort(-ring.duration_ns[at], kind="stable")[:EXAMPLES]]
            examples = tuple(
                Example(
                    trace_id=ids[:TRACE_ID_SIZE],
                    span_id=ids[TRACE_ID_SIZE:],
                    duration_s=int(ring.duration_ns[j]) / 1e9,
                    time_s=int(ring.start_ns[j]) / 1e9,
                )
                for j in slowest.tolist()
                for ids in (bytes(ring.ids[j]),)
            )
            rows.append(
                SlowStatement(
                    service=owner,
                    db_system=ring.db_system,
                    statement=statement,
                    calls=len(at),
                    p95_s=float(np.percentile(durations, 95)),
                    max_s=float(durations.max()),
                    examples=examples,
                )
            )
        rows.sort(key=lambda row: (-row.p95_s, row.service, row.statement))
        return rows[:limit]
