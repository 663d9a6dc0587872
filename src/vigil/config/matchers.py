"""Alertmanager's matcher syntax: `{a="b", c=~"d.*"}`, `a=b`, `severity!=info`.

Alertmanager ≥0.27 parses with its UTF-8 parser and falls back to the classic (≤0.26) one when
that fails; when both succeed but disagree it keeps the classic result so old configs keep their
meaning. `parse_matchers` does the same; the two parsers are also available on their own.
Regexes are RE2, anchored as Alertmanager anchors them (`^(?:re)$`, `.` not matching newline).
"""

from __future__ import annotations

import re

from vigil.model.matchers import Matcher, MatchType
from vigil.model.regex import Anchor, Regex, RegexError

_CLASSIC = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*\Z", re.DOTALL)
_RESERVED = frozenset("{}!=~,\\\"'`")
_OPERATORS = ("=~", "!~", "!=", "=")
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


class MatcherParseError(ValueError):
    """Input that is not a matcher list; the message is Alertmanager's wording where it has one."""


def new_matcher(name: str, op: str, value: str) -> Matcher:
    """A matcher as Alertmanager builds it: regexes are RE2 with `^(?:re)$` anchoring."""
    mtype = MatchType(op)
    if mtype not in (MatchType.REGEX, MatchType.NOT_REGEX):
        return Matcher(mtype, name, value)
    try:
        regex = Regex(value, Anchor.ALERTMANAGER)
    except RegexError as err:
        raise MatcherParseError(f"invalid regular expression {value!r}: {err}") from None
    return Matcher(mtype, name, value, regex)


def api_matcher_op(is_regex: bool, is_equal: bool) -> str:
    """The operator of a matcher as Alertmanager's API v2 spells it (`isRegex`, `isEqual`)."""
    if is_regex:
        return "=~" if is_equal else "!~"
    return "=" if is_equal else "!="


def parse_matchers(text: str) -> tuple[Matcher, ...]:
    """Alertmanager's default ("fallback") parsing of one `matchers:` entry or amtool argument."""
    try:
        utf8 = parse_matchers_utf8(text)
    except MatcherParseError as utf8_error:
        try:
            return parse_matchers_classic(text)
        except MatcherParseError:
            raise utf8_error from None
    try:
        classic = parse_matchers_classic(text)
    except MatcherParseError:
        return utf8
    return classic if classic != utf8 else utf8


# --------------------------------------------------------------------------- classic parser


def parse_matchers_classic(text: str) -> tuple[Matcher, ...]:
    """`labels.ParseMatchers` of Alertmanager ≤0.26: split on commas outside quotes."""
    body = text.removeprefix("{").removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for char in body:
        if char == "," and not inside_quotes:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tuple(parse_matcher_classic(item) for item in tokens)


def parse_matcher_classic(text: str) -> Matcher:
    """`labels.ParseMatcher`: `name op value`, the value optionally double-quoted."""
    match = _CLASSIC.match(text)
    if match is None:
        raise MatcherParseError(f"bad matcher format: {text}")
    name, op, raw = match.groups()
    quoted = raw.startswith('"')
    if quoted:
        raw = raw[1:]
    value: list[str] = []
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            escaped = False
            if char == "n":
                value.append("\n")
            elif char in '"\\':
                value.append(char)
            else:
                value.append("\\" + char)
            continue
        if char == "\\":
            if index < len(raw) - 1:
                escaped = True
                continue
            value.append("\\")
        elif char == '"':
            if not quoted or index < len(raw) - 1:
                raise MatcherParseError(
                    f"matcher value contains unescaped double quote: {match.group(3)}"
                )
            quoted = False
        else:
            value.append(char)
    if quoted:
        raise MatcherParseError(f"matcher value contains unescaped double quote: {match.group(3)}")
    return new_matcher(name, op, "".join(value))


# --------------------------------------------------------------------------- UTF-8 parser


def parse_matchers_utf8(text: str) -> tuple[Matcher, ...]:
    """The UTF-8 parser of Alertmanager ≥0.27: names and values quoted or unquoted, optional
    braces, an optional trailing comma."""
    tokens = _lex(text)
    pos = 0
    braced = bool(tokens) and tokens[0][0] == "{"
    if braced:
        pos = 1
    matchers: list[Matcher] = []
    while pos < len(tokens) and tokens[pos][0] != "}":
        name, pos = _expect_text(tokens, pos, text, "label name")
        if pos >= len(tokens) or tokens[pos][0] not in _OPERATORS:
            raise _unexpected(tokens, pos, text, "an operator such as '=', '!=', '=~' or '!~'")
        op = tokens[pos][0]
        value, pos = _expect_text(tokens, pos + 1, text, "label value")
        matchers.append(new_matcher(name, op, value))
        if pos < len(tokens) and tokens[pos][0] == ",":
            pos += 1
        elif pos < len(tokens) and tokens[pos][0] != "}":
            raise _unexpected(tokens, pos, text, "a comma or close brace")
    if braced:
        if pos >= len(tokens):
            raise MatcherParseError(f"0:{len(text)}: end of input: expected close brace")
        pos += 1
    elif pos < len(tokens):
        raise MatcherParseError(
            f"{tokens[pos][2]}:{tokens[pos][2] + 1}: }}: expected opening brace"
        )
    if pos < len(tokens):
        raise _unexpected(tokens, pos, text, "end of input")
    return tuple(matchers)


# A token is (kind, text, offset); kind is the punctuation itself, "text" or "quoted".
_Token = tuple[str, str, int]


def _expect_text(tokens: list[_Token], pos: int, text: str, what: str) -> tuple[str, int]:
    if pos >= len(tokens) or tokens[pos][0] not in ("text", "quoted"):
        raise _unexpected(tokens, pos, text, what)
    return tokens[pos][1], pos + 1


def _unexpected(tokens: list[_Token], pos: int, text: str, expected: str) -> MatcherParseError:
    if pos >= len(tokens):
        return MatcherParseError(f"0:{len(text)}: unexpected end of input, expected {expected}")
    kind, value, offset = tokens[pos]
    shown = value if kind in ("text", "quoted") else kind
    return MatcherParseError(f"{offset}:{offset + len(shown)}: {shown}: expected {expected}")


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
        elif char in "{},":
            tokens.append((char, char, pos))
            pos += 1
        elif char == "=":
            op = "=~" if text.startswith("=~", pos) else "="
            tokens.append((op, op, pos))
            pos += len(op)
        elif char == "!":
            if not (text.startswith("!=", pos) or text.startswith("!~", pos)):
                raise MatcherParseError(f"{pos}:{pos + 1}: !: expected one of '=~'")
            tokens.append((text[pos : pos + 2], text[pos : pos + 2], pos))
            pos += 2
        elif char == '"':
            value, end = _unquote(text, pos)
            tokens.append(("quoted", value, pos))
            pos = end
        elif char in _RESERVED:
            raise MatcherParseError(f"{pos}:{pos + 1}: {char}: invalid input")
        else:
            end = pos
            while end < len(text) and not text[end].isspace() and text[end] not in _RESERVED:
                end += 1
            tokens.append(("text", text[pos:end], pos))
            pos = end
    return tokens


def _unquote(text: str, start: int) -> tuple[str, int]:
    """A Go double-quoted string starting at `start`; returns its value and the end offset."""
    out: list[str] = []
    pos = start + 1
    while pos < len(text):
        char = text[pos]
        if char == '"':
            return "".join(out), pos + 1
        if char == "\n":
            break
        if char != "\\":
            out.append(char)
            pos += 1
            continue
        escape = text[pos + 1 : pos + 2]
        if escape in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[escape])
            pos += 2
            continue
        width = {"x": 2, "u": 4, "U": 8}.get(escape)
        digits = text[pos + 2 : pos + 2 + width] if width else text[pos + 1 : pos + 4]
        base = 16 if width else 8
        if len(digits) != (width or 3) or not all(
            c in "0123456789abcdefABCDEF"[:base] for c in digits
        ):
            raise MatcherParseError(f"{start}:{pos + 2}: {text[start : pos + 2]}: invalid input")
        code = int(digits, base)
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            raise MatcherParseError(f"{start}:{pos + 2}: {text[start : pos + 2]}: invalid input")
        out.append(chr(code))
        pos += 2 + width if width else 4
    raise MatcherParseError(f'{start}:{len(text)}: {text[start:]}: missing end "')
