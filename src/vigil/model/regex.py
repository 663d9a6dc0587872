"""Every regular expression a user supplies, compiled by RE2: Go's syntax, linear-time matching.

Prometheus anchors matchers, `label_replace` and relabeling as `^(?s:re)$`; Alertmanager anchors
its matchers as `^(?:re)$` (`.` does not match a newline); node_exporter's flags and the template
functions search unanchored. Python's `re` backtracks (`(.|.)*x` takes exponential time), so it is
kept for patterns vigil writes itself. Errors use Go's wording, as Prometheus reports them.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable, Sequence
from typing import Any, Protocol

_META = frozenset(".^$*+?{}[]\\|()")
_LINE_ANCHORS = ("$", "\\A", "\\z")

# RE2's error texts, as Go's regexp/syntax words them.
_GO_WORDING = {
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
}


class RegexError(ValueError):
    """A pattern RE2 (and so Prometheus) rejects; str() is Go's `error parsing regexp: ...`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __str__(self) -> str:
        return f"error parsing regexp: {self.reason}"


class Anchor(enum.Enum):
    """How a pattern is applied: whole value with `.` matching newlines (Prometheus), whole
    value without (Alertmanager), or anywhere in the value (Go's `MatchString`)."""

    PROMETHEUS = "prometheus"
    ALERTMANAGER = "alertmanager"
    SEARCH = "search"


class RegexMatch(Protocol):
    """The groups of one match (re2's match object)."""

    def group(self, ref: int | str = 0, /) -> str | None: ...

    @property
    def re(self) -> Any: ...


class _RE2:
    """re2 and the options vigil compiles with, imported by the first pattern that is not a
    plain string test (see `_literal_test`): a process whose patterns are all literals (the
    default alertmanager.yml's) never loads it (~2.5 MiB of resident memory)."""

    def __init__(self) -> None:
        import re2
        from re2 import _re2

        self.compile = re2.compile
        self.program = _re2.RE2
        self.anchor_both = _re2.RE2.Anchor.ANCHOR_BOTH
        self.unanchored = _re2.RE2.Anchor.UNANCHORED
        self.test = {dot_nl: self._options(dot_nl=dot_nl) for dot_nl in (False, True)}
        self.capture = {
            dot_nl: self._options(dot_nl=dot_nl, capture=True) for dot_nl in (False, True)
        }
        self.scan = {
            dot_nl: self._options(dot_nl=dot_nl, never_nl=True) for dot_nl in (False, True)
        }

    @staticmethod
    def _options(*, dot_nl: bool, capture: bool = False, never_nl: bool = False) -> Any:
        import re2

        options = re2.Options()
        options.log_errors = False
        options.dot_nl = dot_nl
        options.never_capture = not capture
        options.never_nl = never_nl
        return options


@functools.cache
def _re2() -> _RE2:
    return _RE2()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _program(pattern: str, options: Any) -> Any:
    program = _re2().program(_encode(pattern), options)
    if not program.ok():
        raise RegexError(_go_reason(program.error().decode("utf-8", "replace")))
    return program


def _go_reason(error: str) -> str:
    code, sep, arg = error.partition(": ")
    if not sep:
        return _GO_WORDING.get(error, error)
    return f"{_GO_WORDING.get(code, code)}: `{arg}`"


def _reject_any_byte(pattern: str) -> None:
    r"""Go has no `\C` (any byte); RE2 would let it match inside a UTF-8 character."""
    i = 0
    while i < len(pattern) - 1:
        if pattern[i] != "\\":
            i += 1
            continue
        escaped = pattern[i + 1]
        if escaped == "C":
            raise RegexError("invalid escape sequence: `\\C`")
        if escaped == "Q":
            end = pattern.find("\\E", i + 2)
            i = len(pattern) if end == -1 else end + 2
            continue
        i += 2


class Regex:
    """A user's pattern compiled by RE2; `text` is what the user wrote."""

    __slots__ = (
        "_capture",
        "_dot_nl",
        "_literal",
        "_match_anchor",
        "_scan",
        "_test",
        "anchor",
        "text",
    )

    def __init__(self, text: str, anchor: Anchor = Anchor.PROMETHEUS) -> None:
        """Raises RegexError for what Go's regexp (and so Prometheus) rejects. A pattern that is
        a plain string test is not compiled: RE2 accepts every such pattern."""
        _reject_any_byte(text)
        self.text = text
        self.anchor = anchor
        self._dot_nl = anchor is Anchor.PROMETHEUS
        self._capture: Any = None
        self._scan: Any = None
        self._test: Any = None
        self._match_anchor: Any = None
        self._literal = (
            _literal_test(text, dot_nl=self._dot_nl) if anchor is not Anchor.SEARCH else None
        )
        if self._literal is None:
            engine = _re2()
            self._test = _program(text, engine.test[self._dot_nl])
            self._match_anchor = (
                engine.unanchored if anchor is Anchor.SEARCH else engine.anchor_both
            )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Regex) and self.text == other.text and self.anchor is other.anchor

    def __hash__(self) -> int:
        return hash((self.text, self.anchor))

    def __repr__(self) -> str:
        return f"Regex({self.text!r}, {self.anchor.name})"

    def matches(self, value: str) -> bool:
        """Whether the whole value matches (for Anchor.SEARCH: any part of it)."""
        if self._literal is not None:
            return self._literal(value)
        data = _encode(value)
        return bool(self._test.Match(self._match_anchor, data, 0, len(data))[0][0] != -1)

    def matching(self, values: Sequence[str]) -> list[int]:
        """Indices of the values that match, in order: one RE2 scan over all of them joined by
        newlines (compiled never to match a newline) instead of one call per value."""
        if self._literal is not None:
            test = self._literal
            return [i for i, value in enumerate(values) if test(value)]
        if len(values) < 8 or self.anchor is Anchor.SEARCH or _has_line_anchor(self.text):
            return [i for i, value in enumerate(values) if self.matches(value)]
        import numpy as np  # here, not at the top: `vigil agent` never pays for numpy

        data = _encode("\n".join(values))
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 0x0A)
        if len(newlines) != len(values) - 1:
            return [i for i, value in enumerate(values) if self.matches(value)]
        engine = _re2()
        if self._scan is None:
            self._scan = _program(f"(?m:^)(?:{self.text})(?m:$)", engine.scan[self._dot_nl])
        starts: list[int] = []
        position, end = 0, len(data)
        while position <= end:
            span = self._scan.Match(engine.unanchored, data, position, end)[0]
            if span[0] == -1:
                break
            starts.append(span[0])
            position = span[1] + 1
        found: list[int] = np.searchsorted(newlines, starts).tolist()
        return found

    def captures(self, value: str) -> RegexMatch | None:
        """The match with its groups, for `$1`/`${name}` replacements."""
        if self._capture is None:
            self._capture = _re2().compile(self.text, _re2().capture[self._dot_nl])
        try:
            if self.anchor is Anchor.SEARCH:
                found: RegexMatch | None = self._capture.search(value)
            else:
                found = self._capture.fullmatch(value)
        except UnicodeEncodeError:  # a lone surrogate: no UTF-8 text to match
            return None
        return found

    def sub(self, replace: Callable[[RegexMatch], str], text: str) -> str:
        """Every non-overlapping match in `text` replaced (Go's `ReplaceAllStringFunc`)."""
        if self._capture is None:
            self._capture = _re2().compile(self.text, _re2().capture[self._dot_nl])
        try:
            result: str = self._capture.sub(replace, text)
        except UnicodeEncodeError:
            return text
        return result


def _has_line_anchor(text: str) -> bool:
    """`^`, `$`, `\\A` or `\\z`: they would see the joined text's ends, not each value's."""
    if any(anchor in text for anchor in _LINE_ANCHORS) or "\\[" in text:
        return True
    return "^" in text.replace("[^", "")


def _literal_test(text: str, *, dot_nl: bool) -> Callable[[str], bool] | None:
    """A plain string test for the common shapes `lit`, `a|b|c`, and with `.` matching
    newlines `lit.*`, `.*lit`, `.*lit.*`: exactly equality, set membership, startswith,
    endswith, `in`."""
    body = text
    head = dot_nl and body.startswith(".*")
    if head:
        body = body[2:]
    tail = dot_nl and body.endswith(".*") and _literal(body[:-2]) is not None
    if tail:
        body = body[:-2]
    if head or tail:
        lit = _literal(body)
        if lit is None:
            return None
        if head and tail:
            return lambda value: lit in value
        if head:
            return lambda value: value.endswith(lit)
        return lambda value: value.startswith(lit)
    if body.startswith("(?:") and body.endswith(")"):
        body = body[3:-1]
    elif body.startswith("(") and body.endswith(")") and not body.startswith("(?"):
        body = body[1:-1]
    alternatives = [_literal(part) for part in body.split("|")]
    if any(part is None for part in alternatives):
        return None
    if len(alternatives) == 1:
        only = alternatives[0]
        return lambda value: value == only
    options = frozenset(alternatives)
    return lambda value: value in options


def _literal(text: str) -> str | None:
    """The string `text` matches when it has no regex syntax besides escaped metacharacters."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 < len(text) and text[i + 1] in _META:
                out.append(text[i + 1])
                i += 2
                continue
            return None
        if char in _META:
            return None
        out.append(char)
        i += 1
    return "".join(out)
