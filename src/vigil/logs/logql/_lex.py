"""LogQL's tokens: the lexical rules of Loki's lexer and Grafana's lezer grammar.

Numbers, durations and byte sizes are told apart by longest match (a duration wins a tie
over a size, a size over a number), so `5m` is a duration and `5MB` a size.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from vigil.logs.query_source import Source


class Kind(enum.Enum):
    STRING = "string"
    NUMBER = "number"
    DURATION = "duration"
    BYTES = "bytes"
    IDENT = "identifier"
    FLAG = "flag"
    OP = "operator"
    EOF = "end of input"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    pos: int
    value: str = ""  # a string's unquoted value

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of input"
        return f"{self.kind.value} {self.text!r}" if self.kind is not Kind.OP else repr(self.text)


_FLOAT = r"\d+(?:\.\d+)?"
_DURATION = re.compile(
    rf"(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:{_FLOAT}h)?(?:{_FLOAT}m(?!s))?(?:{_FLOAT}s)?"
    rf"(?:{_FLOAT}ms)?(?:{_FLOAT}(?:µs|us))?(?:{_FLOAT}ns)?"
)
_BYTES = re.compile(rf"{_FLOAT}(?:KiB|KB|kB|MiB|MB|GiB|GB|TiB|TB|PiB|PB|B)")
_NUMBER = re.compile(r"0x[0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_FLAG = re.compile(r"--(?:strict|keep-empty)")
_OPS = (
    "=~", "!=", "!~", "|=", "|~", "|>", "!>", "==", "<=", ">=",
    "=", "<", ">", "|", "+", "-", "*", "/", "%", "^", "(", ")", "{", "}", "[", "]", ",",
)  # fmt: skip
_SPACE = re.compile(r"(?:\s+|#[^\n]*)+")

_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"', "'": "'",
}  # fmt: skip


def tokenize(source: Source) -> list[Token]:
    return source.tokenize(
        _SPACE, lambda pos: _token_at(source, pos), lambda pos: Token(Kind.EOF, "", pos)
    )


def _token_at(source: Source, pos: int) -> Token:
    text = source.text
    char = text[pos]
    if char == '"':
        return _quoted(source, pos)
    if char == "`":
        end = text.find("`", pos + 1)
        if end == -1:
            raise source.error("unterminated raw string", pos)
        return Token(Kind.STRING, text[pos : end + 1], pos, text[pos + 1 : end])
    if char.isdigit() or (char == "." and text[pos + 1 : pos + 2].isdigit()):
        return _numeric(source, pos)
    if ident := _IDENT.match(text, pos):
        return Token(Kind.IDENT, ident.group(), pos)
    if flag := _FLAG.match(text, pos):
        return Token(Kind.FLAG, flag.group(), pos)
    for op in _OPS:
        if text.startswith(op, pos):
            return Token(Kind.OP, op, pos)
    raise source.error(f"unexpected character {char!r}", pos)


def _numeric(source: Source, pos: int) -> Token:
    text = source.text
    found = [
        (len(m.group()), -rank, kind)
        for rank, (pattern, kind) in enumerate(
            ((_DURATION, Kind.DURATION), (_BYTES, Kind.BYTES), (_NUMBER, Kind.NUMBER))
        )
        if (m := pattern.match(text, pos)) and m.group()
    ]
    length, _, kind = max(found)
    return Token(kind, text[pos : pos + length], pos)


def _quoted(source: Source, pos: int) -> Token:
    """A Go interpreted string literal (strconv.Unquote's escapes)."""
    text, i = source.text, pos + 1
    out: list[str] = []
    while i < len(text):
        char = text[i]
        if char == '"':
            return Token(Kind.STRING, text[pos : i + 1], pos, "".join(out))
        if char == "\n":
            break
        if char != "\\":
            out.append(char)
            i += 1
            continue
        code = text[i + 1 : i + 2]
        if code in _ESCAPES and code != "'":
            out.append(_ESCAPES[code])
            i += 2
        elif code in ("x", "u", "U"):
            width = {"x": 2, "u": 4, "U": 8}[code]
            digits = text[i + 2 : i + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise source.error("invalid escape sequence in string", i)
            value = int(digits, 16)
            if value > 0x10FFFF or (code != "x" and 0xD800 <= value < 0xE000):
                raise source.error("invalid escape sequence in string", i)
            out.append(chr(value) if code != "x" else bytes([value]).decode("latin-1"))
            i += 2 + width
        elif code.isdigit() and code < "8":
            digits = text[i + 1 : i + 4]
            if len(digits) != 3 or not all("0" <= c <= "7" for c in digits) or int(digits, 8) > 255:
                raise source.error("invalid escape sequence in string", i)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise source.error(f"invalid escape sequence \\{code} in string", i)
    raise source.error("unterminated string", pos)
