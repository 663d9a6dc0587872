"""Reading one exposition line: names, label sets, numbers. Shared by both formats.

A `_Line` walks one line with a cursor so that an error can name the exact column;
the format modules use it for everything their fast regexes do not accept outright.
"""

from __future__ import annotations

import re

from vigil.exposition._types import ParseError
from vigil.model import METRIC_NAME

METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# Go's strconv.ParseFloat minus hex floats and digit separators, as Prometheus reads values.
_FLOAT_RE = re.compile(
    r"(?:[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
    r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)|[nN][aA][nN])\Z"
)
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")
_INT64_MAX = 2**63 - 1

_UNESCAPE_STRICT = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def parse_float(token: str) -> float | None:
    """The value of a sample token, or None where Prometheus would not read it as a number."""
    if _FLOAT_RE.match(token) is None:
        return None
    value = float(token)
    if value in (float("inf"), float("-inf")) and token.lstrip("+-")[:1] not in ("i", "I"):
        return None  # out of float64 range: Go reports ErrRange
    return value


def parse_int64(token: str) -> int | None:
    if _INT_RE.match(token) is None:
        return None
    value = int(token)
    return value if -_INT64_MAX - 1 <= value <= _INT64_MAX else None


def unescape_lenient(raw: str) -> str:
    r"""OpenMetrics: `\\`, `\"`, `\n` are escapes; any other backslash stays as written."""
    if "\\" not in raw:
        return raw
    return _UNESCAPE_STRICT.sub(lambda m: _ESCAPES.get(m.group(1), m.group(0)), raw)


class _Line:
    """A cursor over one line (without its newline). Columns in errors are 1-based."""

    __slots__ = ("lineno", "pos", "text")

    def __init__(self, text: str, lineno: int, pos: int = 0) -> None:
        self.text = text
        self.lineno = lineno
        self.pos = pos

    def error(self, message: str, pos: int | None = None) -> ParseError:
        return ParseError(self.lineno, (self.pos if pos is None else pos) + 1, message)

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_blanks(self) -> int:
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] in " \t":
            self.pos += 1
        return self.pos - start

    def expect(self, char: str, what: str) -> None:
        if self.peek() != char:
            found = self.peek()
            raise self.error(f"expected {what}, found {_show(found)}")
        self.pos += 1

    def take_regex(self, pattern: re.Pattern[str]) -> str:
        m = pattern.match(self.text, self.pos)
        if m is None:
            return ""
        self.pos = m.end()
        return m.group(0)

    def take_until_blank(self) -> str:
        start = self.pos
        text = self.text
        while self.pos < len(text) and text[self.pos] not in " \t":
            self.pos += 1
        return text[start : self.pos]

    def take_quoted(self, strict: bool) -> str:
        """A double-quoted string starting at the cursor; `strict` allows only \\\\, \\" and \\n."""
        start = self.pos
        self.expect('"', "'\"' to open a quoted string")
        out: list[str] = []
        text = self.text
        while True:
            if self.pos >= len(text):
                raise self.error(f"unterminated quoted string {text[start:]!r}", start)
            char = text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(out)
            if char == "\\":
                nxt = text[self.pos + 1 : self.pos + 2]
                if nxt in _ESCAPES:
                    out.append(_ESCAPES[nxt])
                elif strict:
                    raise self.error(f"invalid escape sequence '\\{nxt}'")
                else:
                    out.append("\\" + nxt)
                self.pos += 2
                continue
            out.append(char)
            self.pos += 1


def quote(text: str) -> str:
    """Double-quoted, with control characters escaped, for error messages."""
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


def _show(found: str) -> str:
    return "end of line" if not found else repr(found)


def check_label_name(line: _Line, name: str, metric: str, seen: set[str], pos: int) -> None:
    if name == METRIC_NAME:
        raise line.error(f'label name "{name}" is reserved', pos)
    if name in seen:
        raise line.error(f'duplicate label name "{name}" for metric "{metric}"', pos)
    seen.add(name)
