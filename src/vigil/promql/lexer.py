"""Prometheus's PromQL lexer (`promql/parser/lex.go`), token for token, for error positions.

`promql_parser` reports a broken query without saying where. This lexer splits the text as
Prometheus does — the same token kinds, the same modes inside braces and brackets, the same
errors at the same offsets — so `positions` can point at the token Prometheus would name.
"""

from __future__ import annotations

from dataclasses import dataclass

KEYWORDS = {
    "and": "LAND",
    "or": "LOR",
    "unless": "LUNLESS",
    "atan2": "ATAN2",
    "sum": "SUM",
    "avg": "AVG",
    "count": "COUNT",
    "min": "MIN",
    "max": "MAX",
    "group": "GROUP",
    "stddev": "STDDEV",
    "stdvar": "STDVAR",
    "topk": "TOPK",
    "bottomk": "BOTTOMK",
    "count_values": "COUNT_VALUES",
    "quantile": "QUANTILE",
    "limitk": "LIMITK",
    "limit_ratio": "LIMIT_RATIO",
    "offset": "OFFSET",
    "by": "BY",
    "without": "WITHOUT",
    "on": "ON",
    "ignoring": "IGNORING",
    "group_left": "GROUP_LEFT",
    "group_right": "GROUP_RIGHT",
    "bool": "BOOL",
    "start": "START",
    "end": "END",
    "inf": "NUMBER",
    "nan": "NUMBER",
}
OPERATORS = frozenset(
    [
        "ADD",
        "DIV",
        "EQLC",
        "EQL_REGEX",
        "GTE",
        "GTR",
        "LAND",
        "LOR",
        "LSS",
        "LTE",
        "LUNLESS",
        "MOD",
        "MUL",
        "NEQ",
        "NEQ_REGEX",
        "POW",
        "SUB",
        "AT",
        "ATAN2",
    ]
)
AGGREGATORS = frozenset(
    [
        "AVG",
        "BOTTOMK",
        "COUNT",
        "COUNT_VALUES",
        "GROUP",
        "MAX",
        "MIN",
        "QUANTILE",
        "STDDEV",
        "STDVAR",
        "SUM",
        "TOPK",
        "LIMITK",
        "LIMIT_RATIO",
    ]
)
_KEYWORD_KINDS = frozenset(
    ["BOOL", "BY", "GROUP_LEFT", "GROUP_RIGHT", "IGNORING", "OFFSET", "ON", "WITHOUT"]
)
_PUNCTUATION = frozenset(
    [
        "LEFT_PAREN",
        "RIGHT_PAREN",
        "LEFT_BRACE",
        "RIGHT_BRACE",
        "LEFT_BRACKET",
        "RIGHT_BRACKET",
        "COMMA",
        "EQL",
        "COLON",
        "START",
        "END",
    ]
)
_KIND_NAMES = {
    "IDENTIFIER": "identifier",
    "METRIC_IDENTIFIER": "metric identifier",
    "STRING": "string",
    "NUMBER": "number",
    "DURATION": "duration",
}
_SINGLE = {
    ",": "COMMA",
    "*": "MUL",
    "/": "DIV",
    "%": "MOD",
    "+": "ADD",
    "-": "SUB",
    "^": "POW",
    "@": "AT",
}
_DIGITS = "0123456789"
_HEX_DIGITS = "0123456789abcdefABCDEF"
_SPACES = " \t\n\r"


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # Prometheus's item type name: IDENTIFIER, NUMBER, LEFT_PAREN, SUM, EOF, ...
    pos: int  # offset of its first character in the query
    text: str

    @property
    def end(self) -> int:
        return self.pos + len(self.text)

    def describe(self) -> str:
        """The token as Prometheus's `unexpected ...` messages name it (`Item.desc()`)."""
        if self.kind == "EOF":
            return "end of input"
        if self.kind in _KEYWORD_KINDS:
            return f"<{self.text}>"
        if self.kind in OPERATORS:
            return f"<op:{self.text}>"
        if self.kind in AGGREGATORS:
            return f"<aggr:{self.text}>"
        if self.kind in _PUNCTUATION:
            return _short_quote(self.text)
        if self.kind in ("IDENTIFIER", "METRIC_IDENTIFIER"):
            return f"{_KIND_NAMES[self.kind]} {go_quote(self.text)}"
        return f"{_KIND_NAMES.get(self.kind, self.kind)} {_short_quote(self.text)}"


class LexError(Exception):
    """The lexer stopped: `pos` is where the token it was reading started."""

    def __init__(self, pos: int, message: str) -> None:
        super().__init__(message)
        self.pos = pos
        self.message = message


class Lexer:
    """Tokens of one query, read on demand as the parser asks (a lexer error surfaces only
    when the parser reaches it, as in Prometheus). Comments are skipped."""

    def __init__(self, query: str) -> None:
        self._src = query
        self._pos = 0
        self._start = 0
        self._paren_depth = 0
        self._brace_open = False
        self._bracket_open = False
        self._got_colon = False
        self._duration_next = False

    def next(self) -> Token:
        while True:
            token = self._scan()
            if token.kind != "COMMENT":
                return token

    # --- scanning primitives ---------------------------------------------------------------

    def _read(self) -> str:
        if self._pos >= len(self._src):
            return ""
        self._pos += 1
        return self._src[self._pos - 1]

    def _back(self, ch: str) -> None:
        self._pos -= len(ch)

    def _peek(self) -> str:
        return self._src[self._pos] if self._pos < len(self._src) else ""

    def _accept(self, valid: str) -> bool:
        ch = self._read()
        if ch and ch in valid:
            return True
        self._back(ch)
        return False

    def _accept_run(self, valid: str) -> None:
        while self._accept(valid):
            pass

    def _emit(self, kind: str) -> Token:
        token = Token(kind, self._start, self._src[self._start : self._pos])
        self._start = self._pos
        return token

    def _error(self, message: str) -> LexError:
        return LexError(self._start, message)

    def _skip_spaces(self) -> None:
        while self._peek() and self._peek() in _SPACES:
            self._pos += 1
        self._start = self._pos

    # --- states ------------------------------------------------------------------------------

    def _scan(self) -> Token:
        if self._duration_next:
            self._duration_next = False
            return self._duration()
        while True:
            if self._brace_open:
                return self._inside_braces()
            if self._src.startswith("#", self._pos):
                return self._comment()
            ch = self._read()
            if not ch:
                if self._paren_depth != 0:
                    raise self._error("unclosed left parenthesis")
                if self._bracket_open:
                    raise self._error("unclosed left bracket")
                return self._emit("EOF")
            if ch in _SPACES:
                self._skip_spaces()
                continue
            return self._statement(ch)

    def _statement(self, ch: str) -> Token:
        if ch in _SINGLE:
            return self._emit(_SINGLE[ch])
        if ch == "=":
            after = self._peek()
            if after == "=":
                self._pos += 1
                return self._emit("EQLC")
            if after == "~":
                raise self._error(f"unexpected character after '=': {go_quote_rune(after)}")
            return self._emit("EQL")
        if ch == "!":
            after = self._read()
            if after == "=":
                return self._emit("NEQ")
            raise self._error(f"unexpected character after '!': {go_quote_rune(after)}")
        if ch in "<>":
            if self._peek() == "=":
                self._pos += 1
                return self._emit("LTE" if ch == "<" else "GTE")
            return self._emit("LSS" if ch == "<" else "GTR")
        if _is_digit(ch) or (ch == "." and _is_digit(self._peek())):
            self._back(ch)
            return self._number_or_duration()
        if ch in "\"'":
            return self._string(ch)
        if ch == "`":
            return self._raw_string()
        if _is_alpha(ch) or ch == ":":
            if not self._bracket_open:
                self._back(ch)
                return self._keyword_or_identifier()
            if self._got_colon:
                raise self._error(f"unexpected colon {go_quote_rune(ch)}")
            self._got_colon = True
            return self._emit("COLON")
        return self._bracket_or_paren(ch)

    def _bracket_or_paren(self, ch: str) -> Token:
        if ch == "(":
            self._paren_depth += 1
            return self._emit("LEFT_PAREN")
        if ch == ")":
            token = self._emit("RIGHT_PAREN")
            self._paren_depth -= 1
            if self._paren_depth < 0:
                raise self._error(f"unexpected right parenthesis {go_quote_rune(ch)}")
            return token
        if ch == "{":
            self._brace_open = True
            return self._emit("LEFT_BRACE")
        if ch == "[":
            if self._bracket_open:
                raise self._error(f"unexpected left bracket {go_quote_rune(ch)}")
            self._got_colon = False
            token = self._emit("LEFT_BRACKET")
            self._skip_spaces()
            self._bracket_open = True
            self._duration_next = True
            return token
        if ch == "]":
            if not self._bracket_open:
                raise self._error(f"unexpected right bracket {go_quote_rune(ch)}")
            self._bracket_open = False
            return self._emit("RIGHT_BRACKET")
        raise self._error(f"unexpected character: {go_quote_rune(ch)}")

    def _inside_braces(self) -> Token:
        while True:
            if self._src.startswith("#", self._pos):
                return self._comment()
            ch = self._read()
            if not ch:
                raise self._error("unexpected end of input inside braces")
            if ch in _SPACES:
                self._skip_spaces()
                continue
            if _is_alpha(ch):
                while _is_alphanumeric(self._peek()):
                    self._pos += 1
                return self._emit("IDENTIFIER")
            if ch == ",":
                return self._emit("COMMA")
            if ch in "\"'":
                return self._string(ch)
            if ch == "`":
                return self._raw_string()
            if ch == "=":
                return self._emit("EQL_REGEX" if self._accept("~") else "EQL")
            if ch == "!":
                after = self._read()
                if after in ("~", "="):
                    return self._emit("NEQ_REGEX" if after == "~" else "NEQ")
                raise self._error(
                    f"unexpected character after '!' inside braces: {go_quote_rune(after)}"
                )
            if ch == "{":
                raise self._error(f"unexpected left brace {go_quote_rune(ch)}")
            if ch == "}":
                self._brace_open = False
                return self._emit("RIGHT_BRACE")
            raise self._error(f"unexpected character inside braces: {go_quote_rune(ch)}")

    def _comment(self) -> Token:
        while self._peek() and self._peek() not in "\r\n":
            self._pos += 1
        return self._emit("COMMENT")

    def _string(self, quote: str) -> Token:
        while True:
            ch = self._read()
            if ch == "\\":
                self._escape(quote)
            elif ch in ("", "\n"):
                raise self._error("unterminated quoted string")
            elif ch == quote:
                return self._emit("STRING")

    def _escape(self, quote: str) -> None:
        ch = self._read()
        if ch and ch in "abfnrtv\\" + quote:
            return
        if not ch:
            raise self._error("escape sequence not terminated")
        if ch in "01234567":
            n, base, top = 3, 8, 255
        elif ch in "xuU":
            n, base, top = {"x": (2, 16, 255), "u": (4, 16, 0x10FFFF), "U": (8, 16, 0x10FFFF)}[ch]
            ch = self._read()
        else:
            raise self._error(f"unknown escape sequence {_go_rune_name(ch)}")
        value = 0
        while n > 0:
            digit = int(ch, 16) if ch and ch in _HEX_DIGITS else 16
            if digit >= base:
                if not ch:
                    raise self._error("escape sequence not terminated")
                raise self._error(f"illegal character {_go_rune_name(ch)} in escape sequence")
            value = value * base + digit
            n -= 1
            if n > 0:
                ch = self._read()
        if value > top or 0xD800 <= value < 0xE000:
            raise self._error("escape sequence is an invalid Unicode code point")

    def _raw_string(self) -> Token:
        end = self._src.find("`", self._pos)
        if end < 0:
            raise self._error("unterminated raw string")
        self._pos = end + 1
        return self._emit("STRING")

    def _duration(self) -> Token:
        if self._scan_number():
            raise self._error("missing unit character in duration")
        if not self._accept_remaining_duration():
            raise self._error(
                f"bad duration syntax: {go_quote(self._src[self._start : self._pos])}"
            )
        return self._emit("DURATION")

    def _number_or_duration(self) -> Token:
        if self._scan_number():
            return self._emit("NUMBER")
        if self._accept_remaining_duration():
            return self._emit("DURATION")
        text = self._src[self._start : self._pos]
        raise self._error(f"bad number or duration syntax: {go_quote(text)}")

    def _accept_remaining_duration(self) -> bool:
        """Units after a number; on failure the position stays past the character that
        failed, which Prometheus's message quotes."""
        if not self._accept("smhdwy"):
            return False
        self._accept("s")
        while self._accept(_DIGITS):
            self._accept_run(_DIGITS)
            if not self._accept("smhdw"):
                return False
            self._accept("s")
        after = self._read()
        if _is_alphanumeric(after):
            return False
        self._back(after)
        return True

    def _scan_number(self) -> bool:
        digits = _DIGITS
        if self._accept("0") and self._accept("xX"):
            digits = _HEX_DIGITS
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if self._accept("eE"):
            self._accept("+-")
            self._accept_run(_DIGITS)
        return not _is_alphanumeric(self._peek())

    def _keyword_or_identifier(self) -> Token:
        while _is_alphanumeric(self._peek()) or self._peek() == ":":
            self._pos += 1
        word = self._src[self._start : self._pos]
        kind = KEYWORDS.get(word.lower())
        if kind is None:
            kind = "METRIC_IDENTIFIER" if ":" in word else "IDENTIFIER"
        return self._emit(kind)


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9" and ch != ""


def _is_alpha(ch: str) -> bool:
    return ch == "_" or ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _is_alphanumeric(ch: str) -> bool:
    return ch != "" and (_is_alpha(ch) or _is_digit(ch))


def is_label(text: str) -> bool:
    return bool(text) and _is_alpha(text[0]) and all(_is_alphanumeric(c) for c in text[1:])


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_GO_ESCAPES |= {"\v": "\\v", "\\": "\\\\"}


def _go_escape(ch: str, quote: str) -> str:
    if ch == quote:
        return "\\" + ch
    if ch in _GO_ESCAPES:
        return _GO_ESCAPES[ch]
    if ch.isprintable():
        return ch
    code = ord(ch)
    if code < 0x80:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def go_quote(text: str) -> str:
    """Go's `%q` of a string."""
    return '"' + "".join(_go_escape(ch, '"') for ch in text) + '"'


def go_quote_rune(ch: str) -> str:
    """Go's `%q` of a rune; the end of input is Go's eof rune (-1), printed as U+FFFD."""
    return "'" + _go_escape(ch or "\ufffd", "'") + "'"


def _go_rune_name(ch: str) -> str:
    """Go's `%#U`: U+0071 'q'."""
    code = ord(ch)
    return f"U+{code:04X} '{ch}'" if ch.isprintable() else f"U+{code:04X}"


def _short_quote(text: str) -> str:
    """Go's `Item.String()` for other tokens: `%.10q...` past ten characters."""
    return go_quote(text[:10]) + "..." if len(text) > 10 else go_quote(text)
