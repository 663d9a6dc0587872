"""Multiline entries: a Java stack trace is one entry, not forty.

A line that continues the entry before it (by default the shapes of a JVM stack trace: `\tat
…`, `Caused by: …`, `\t... 12 more`, an exception's class line) is appended to it; with a
start pattern, every line that does not match it is. Patterns are RE2 (linear time on
whatever a program prints), matched against the first PREFIX_CHARS of a line; the default
Java rule is tested with string methods instead (`java_continues`), so a shipper on the
defaults never loads RE2 (~2.5 MiB). An entry is complete when the next one
starts, when it reaches `max_lines`, or when no line came for `max_wait_s` (driven by the
caller's clock), or at once when the caller knows its writer has stopped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.exporter.logs.tail import Position
from vigil.model.regex import Anchor, Regex

JAVA_CONTINUATION = (
    r"^\s+at |^\s+\.\.\. \d+ (?:more|common frames omitted)|^Caused by: |^\s*Suppressed: "
    r"|^[a-zA-Z_$][\w$]*(?:\.[a-zA-Z_$][\w$]*)*\.[\w$]*(?:Exception|Error|Throwable)(?::|$)"
)
_NEVER_CONTINUES_JAVA = frozenset("0123456789{[<(\"'-+#*/|")
_RE2_SPACE = "\t\n\f\r "  # RE2's \s
_NAME = re.compile(r"[A-Za-z0-9_$.]*")  # [\w$.]*, one pass
_TRACE_ENDS = (" more", " common frames omitted")
_THROWABLES = ("Exception", "Error", "Throwable")
PREFIX_CHARS = 1024  # patterns look at the start of a line only: a huge line costs no more


@dataclass(frozen=True, slots=True)
class MultilineRule:
    continuation: str = JAVA_CONTINUATION
    start: str = ""  # when set: a line starts an entry iff it matches this
    max_lines: int = 500
    max_wait_s: float = 3.0


@dataclass(slots=True)
class Line:
    ts_ns: int
    text: str
    start: Position  # of its first record in the file
    end: Position  # just past its last record


def java_continues(text: str) -> bool:
    """Whether JAVA_CONTINUATION matches `text`, in one pass of string operations."""
    rest = text.lstrip(_RE2_SPACE)
    if rest.startswith("Suppressed: ") or text.startswith("Caused by: "):
        return True
    if len(rest) < len(text):
        if rest.startswith("at "):
            return True
        if rest.startswith("... "):
            count = rest[4:]
            digits = len(count) - len(count.lstrip("0123456789"))
            return digits > 0 and count[digits:].startswith(_TRACE_ENDS)
        return False
    name = _NAME.match(text)
    assert name is not None  # matches the empty string at least
    if text[name.end() : name.end() + 1] not in ("", ":"):
        return False
    *packages, last = name.group().split(".")
    return (
        bool(packages)
        and all(part and not part[0].isdigit() for part in packages)
        and last.endswith(_THROWABLES)
    )


class MultilineMerger:
    def __init__(self, rule: MultilineRule) -> None:
        self._rule = rule
        self._java = not rule.start and rule.continuation == JAVA_CONTINUATION
        self._start = Regex(rule.start, Anchor.SEARCH) if rule.start else None
        self._continuation = (
            Regex(rule.continuation, Anchor.SEARCH)
            if rule.continuation and not self._java
            else None
        )
        self._lines: list[Line] = []
        self._since = 0.0

    def _continues(self, text: str) -> bool:
        head = text[:PREFIX_CHARS]
        if self._java:
            # most lines start with a timestamp or a JSON object: nothing more to look at
            return head[:1] not in _NEVER_CONTINUES_JAVA and java_continues(head)
        if self._start is not None:
            return not self._start.matches(head)
        return self._continuation is not None and self._continuation.matches(head)

    def push(self, line: Line, now: float) -> Line | None:
        """Take a line; returns the entry it completed, if any."""
        done = None
        if self._lines and (
            not self._continues(line.text) or len(self._lines) >= self._rule.max_lines
        ):
            done = self._take()
        self._lines.append(line)
        self._since = now
        return done

    def flush_due(self, now: float, *, at_once: bool = False) -> Line | None:
        """The pending entry, when nothing was added for `max_wait_s` (or `at_once`: the writer
        is gone, nothing can continue it)."""
        if self._lines and (at_once or now - self._since >= self._rule.max_wait_s):
            return self._take()
        return None

    def _take(self) -> Line:
        lines, self._lines = self._lines, []
        if len(lines) == 1:
            return lines[0]
        text = "\n".join(line.text for line in lines)
        return Line(lines[0].ts_ns, text, lines[0].start, lines[-1].end)

    def pending_start(self) -> Position | None:
        return self._lines[0].start if self._lines else None

    def clear(self) -> None:
        self._lines = []
