"""TraceQL's tokens, as Grafana's `@grafana/lezer-traceql` grammar reads them.

An attribute (`.a`, `span.http.url`, `resource."service name"`) is one token: after its dot
the name runs to the next space or one of `{}()=~!<>&|,"^` (quoted parts keep anything and
take only the escapes `\\"` and `\\\\`). Durations take one unit (`1.5s`, `500ms`, never
`1h30m`). `//` and `/* */` are comments.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from vigil.logs.query_source import Source


class Kind(enum.Enum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    DURATION = "duration"
    WORD = "word"
    ATTRIBUTE = "attribute"
    OP = "operator"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    pos: int
    value: str = ""  # a string's unquoted value; an attribute's name
    scope: str = ""  # an attribute's scope: "", "span", "resource", ...

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of input"
        return repr(self.text) if self.kind is Kind.OP else f"{self.kind.value} {self.text!r}"


SCOPES = ("span", "resource", "event", "link", "instrumentation", "parent")
# Scoped intrinsics are single words in the grammar (`span:name`, `trace:duration`).
COLON_INTRINSICS = (
    "event:name", "event:timeSinceStart", "instrumentation:name", "instrumentation:version",
    "link:spanID", "link:traceID", "span:duration", "span:kind", "span:id", "span:name",
    "span:parentID", "span:status", "span:statusMessage", "trace:duration", "trace:id",
    "trace:rootName", "trace:rootService",
)  # fmt: skip
_COLON_WORD = re.compile("|".join(sorted(COLON_INTRINSICS, key=len, reverse=True)))
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(\d+(?:\.\d+)?)(us|µs|ns|ms|s|m|h)?")
_NAME_START = re.compile(r"""[A-Za-z_@#$%*+?:;'`]""")
_NAME_STOP = frozenset('{}()=~!<>&|,"^') | frozenset(" \t\n\r\f\v")
# Longest first: `&>>` before `&&`, `!>>` before `!>` before `!=`.
_OPS = (
    "&>>", "&<<", "!>>", "!<<",
    "&&", "||", ">>", "<<", "&>", "&<", "&~", "!>", "!<", "!=", "!~", "=~", ">=", "<=", "()",
    "{", "}", "(", ")", ",", "=", "<", ">", "~", "!", "|", "+", "-", "*", "/", "%", "^",
)  # fmt: skip
_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*(?:[^*]|\*(?!/))*\*/)+")


def tokenize(source: Source) -> list[Token]:
    return source.tokenize(
        _SPACE, lambda pos: _token_at(source, pos), lambda pos: Token(Kind.EOF, "", pos)
    )


def _token_at(source: Source, pos: int) -> Token:
    text = source.text
    if text.startswith("/*", pos):
        raise source.error("unterminated comment", pos)
    char = text[pos]
    if char == '"':
        end, value = _quoted(source, pos)
        return Token(Kind.STRING, text[pos:end], pos, value)
    if char == "`":
        end = text.find("`", pos + 1)
        if end == -1:
            raise source.error("unterminated raw string", pos)
        return Token(Kind.STRING, text[pos : end + 1], pos, text[pos + 1 : end])
    if char.isdigit():
        number = _NUMBER.match(text, pos)
        assert number is not None
        kind = (
            Kind.DURATION
            if number.group(2)
            else Kind.FLOAT
            if "." in number.group(1)
            else Kind.INTEGER
        )
        return Token(kind, number.group(), pos)
    if char == "." and (text[pos + 1 : pos + 2] == '"' or _NAME_START.match(text, pos + 1)):
        return _attribute(source, pos, "", pos + 1)
    if colon := _COLON_WORD.match(text, pos):
        return Token(Kind.WORD, colon.group(), pos)
    if word := _WORD.match(text, pos):
        name = word.group()
        if name in SCOPES and text.startswith(".", word.end()):
            return _attribute(source, pos, name, word.end() + 1)
        return Token(Kind.WORD, name, pos)
    for op in _OPS:
        if text.startswith(op, pos):
            return Token(Kind.OP, op, pos)
    raise source.error(f"unexpected character {char!r}", pos)


def _attribute(source: Source, start: int, scope: str, pos: int) -> Token:
    """`.name`, `scope.name`, `."quoted name"`, `scope.a."b c"`."""
    text = source.text
    if pos >= len(text) or not (text[pos] == '"' or _NAME_START.match(text, pos)):
        raise source.error("expecting an attribute name after '.'", pos)
    parts: list[str] = []
    while (pos < len(text) and text[pos] not in _NAME_STOP) or text[pos : pos + 1] == '"':
        if text[pos] == '"':
            pos, value = _quoted(source, pos)
            parts.append(value)
        else:
            parts.append(text[pos])
            pos += 1
    return Token(Kind.ATTRIBUTE, text[start:pos], start, "".join(parts), scope)


def _quoted(source: Source, pos: int) -> tuple[int, str]:
    """A double-quoted string: its end and value. Only `\\"` and `\\\\` are escapes."""
    text, i = source.text, pos + 1
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == '"':
            return i + 1, "".join(out)
        if char == "\\":
            code = text[i + 1 : i + 2]
            if code not in ('"', "\\"):
                raise source.error(
                    f'invalid escape sequence \\{code} in string (only \\" and \\\\ are)', i
                )
            out.append(code)
            i += 2
            continue
        out.append(char)
        i += 1
    raise source.error("unterminated string", pos)
