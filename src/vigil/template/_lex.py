"""Lexer for Go's text/template: splits a template into text and action tokens as Go's parse package does."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import Enum, auto

from vigil.template._fmt import go_quote


class Tok(Enum):
    ERROR = auto()
    EOF = auto()
    TEXT = auto()
    COMMENT = auto()
    LEFT_DELIM = auto()
    RIGHT_DELIM = auto()
    SPACE = auto()
    IDENTIFIER = auto()
    FIELD = auto()
    VARIABLE = auto()
    DOT = auto()
    STRING = auto()
    RAW_STRING = auto()
    CHAR_CONSTANT = auto()
    NUMBER = auto()
    BOOL = auto()
    NIL = auto()
    PIPE = auto()
    LEFT_PAREN = auto()
    RIGHT_PAREN = auto()
    DECLARE = auto()
    ASSIGN = auto()
    CHAR = auto()
    # Keywords.
    BLOCK = auto()
    BREAK = auto()
    CONTINUE = auto()
    DEFINE = auto()
    ELSE = auto()
    END = auto()
    IF = auto()
    RANGE = auto()
    TEMPLATE = auto()
    WITH = auto()


KEYWORDS = {
    "block": Tok.BLOCK,
    "break": Tok.BREAK,
    "continue": Tok.CONTINUE,
    "define": Tok.DEFINE,
    "else": Tok.ELSE,
    "end": Tok.END,
    "if": Tok.IF,
    "range": Tok.RANGE,
    "nil": Tok.NIL,
    "template": Tok.TEMPLATE,
    "with": Tok.WITH,
}
_KEYWORD_TOKS = frozenset(KEYWORDS.values()) | {Tok.DOT}

LEFT = "{{"
RIGHT = "}}"
_SPACE = " \t\r\n"
_TERMINATORS = frozenset(" \t\r\n.,|:()")


@dataclass(frozen=True, slots=True)
class Token:
    typ: Tok
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        if self.typ is Tok.EOF:
            return "EOF"
        if self.typ is Tok.ERROR:
            return self.val
        if self.typ in _KEYWORD_TOKS:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return go_quote(self.val[:10]) + "..."
        return go_quote(self.val)


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or unicodedata.category(c) == "Nd"


def _go_rune(c: str) -> str:
    """Go's %#U rendering of a character, as lexer errors print it."""
    return f"U+{ord(c):04X} '{c}'" if c.isprintable() else f"U+{ord(c):04X}"


class _Error(Exception):
    pass


class Lexer:
    """Produces every token of a template up front; an error token ends the stream."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.start = 0
        self.paren_depth = 0
        self.tokens: list[Token] = []

    def line_at(self, pos: int) -> int:
        return 1 + self.text.count("\n", 0, pos)

    def tokenize(self) -> list[Token]:
        try:
            self._lex_text()
        except _Error as err:
            self.tokens.append(Token(Tok.ERROR, self.start, str(err), self.line_at(self.start)))
        return self.tokens

    def _emit(self, typ: Tok) -> None:
        self.tokens.append(
            Token(typ, self.start, self.text[self.start : self.pos], self.line_at(self.start))
        )
        self.start = self.pos

    def _peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _at_right_delim(self) -> tuple[bool, bool]:
        rest = self.text[self.pos :]
        if len(rest) >= 2 and rest[0] in _SPACE and rest[1] == "-" and rest[2:].startswith(RIGHT):
            return True, True
        return rest.startswith(RIGHT), False

    def _at_terminator(self) -> bool:
        c = self._peek()
        if c == "" or c in _TERMINATORS:
            return True
        return self._at_right_delim()[0]

    def _lex_text(self) -> None:
        text = self.text
        while True:
            x = text.find(LEFT, self.pos)
            if x < 0:
                self.pos = len(text)
                if self.pos > self.start:
                    self._emit(Tok.TEXT)
                self._emit(Tok.EOF)
                return
            self.pos = x
            after = text[x + len(LEFT) :]
            trim_left = len(after) >= 2 and after[0] == "-" and after[1] in _SPACE
            if x > self.start:
                end = x
                if trim_left:
                    end = len(text[self.start : x].rstrip(_SPACE)) + self.start
                if end > self.start:
                    self.pos = end
                    self._emit(Tok.TEXT)
            self.pos = x + len(LEFT)
            self.start = x
            self._lex_action(trim_left)

    def _skip_left_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1
        self.start = self.pos

    def _lex_action(self, trim_left: bool) -> None:
        marker = 2 if trim_left else 0
        if self.text.startswith("/*", self.pos + marker):
            self.pos += marker + 2
            x = self.text.find("*/", self.pos)
            if x < 0:
                raise _Error("unclosed comment")
            self.pos = x + 2
            delim, trim = self._at_right_delim()
            if not delim:
                raise _Error("comment ends before closing delimiter")
            self.pos += (2 if trim else 0) + len(RIGHT)
            self.start = self.pos
            if trim:
                self._skip_left_space()
            return
        self._emit(Tok.LEFT_DELIM)
        self.pos += marker
        self.start = self.pos
        self.paren_depth = 0
        while not self._lex_inside_action():
            pass

    def _lex_inside_action(self) -> bool:
        """Lexes one token inside an action; True once the right delimiter was consumed."""
        delim, trim = self._at_right_delim()
        if delim:
            if self.paren_depth != 0:
                raise _Error("unclosed left paren")
            if trim:
                self.pos += 2
                self.start = self.pos
            self.pos += len(RIGHT)
            self._emit(Tok.RIGHT_DELIM)
            if trim:
                self._skip_left_space()
            return True
        if self.pos >= len(self.text):
            raise _Error("unclosed action")
        c = self.text[self.pos]
        self.pos += 1
        if c in _SPACE:
            self._lex_space()
        elif c == "=":
            self._emit(Tok.ASSIGN)
        elif c == ":":
            if self._peek() != "=":
                raise _Error("expected :=")
            self.pos += 1
            self._emit(Tok.DECLARE)
        elif c == "|":
            self._emit(Tok.PIPE)
        elif c == '"':
            self._lex_quote('"', "unterminated quoted string", Tok.STRING)
        elif c == "'":
            self._lex_quote("'", "unterminated character constant", Tok.CHAR_CONSTANT)
        elif c == "`":
            x = self.text.find("`", self.pos)
            if x < 0:
                raise _Error("unterminated raw quoted string")
            self.pos = x + 1
            self._emit(Tok.RAW_STRING)
        elif c == "$":
            self._lex_field_or_variable(Tok.VARIABLE)
        elif c == "." and not ("0" <= self._peek() <= "9" and self._peek() != ""):
            self._lex_field_or_variable(Tok.FIELD)
        elif c in "+-." or "0" <= c <= "9":
            self.pos -= 1
            self._lex_number()
        elif _is_alnum(c):
            self.pos -= 1
            self._lex_identifier()
        elif c == "(":
            self._emit(Tok.LEFT_PAREN)
            self.paren_depth += 1
        elif c == ")":
            self._emit(Tok.RIGHT_PAREN)
            self.paren_depth -= 1
            if self.paren_depth < 0:
                raise _Error("unexpected right paren")
        elif ord(c) < 0x80 and c.isprintable():
            self._emit(Tok.CHAR)
        else:
            raise _Error(f"unrecognized character in action: {_go_rune(c)}")
        return False

    def _lex_space(self) -> None:
        spaces = 1
        while self._peek() != "" and self._peek() in _SPACE:
            self.pos += 1
            spaces += 1
        rest = self.text[self.pos - 1 :]
        if rest[:2] in (" -", "\t-", "\r-", "\n-") and rest[2:].startswith(RIGHT):
            self.pos -= 1
            if spaces == 1:
                return
        self._emit(Tok.SPACE)

    def _lex_quote(self, quote: str, unterminated: str, typ: Tok) -> None:
        text = self.text
        while True:
            c = text[self.pos] if self.pos < len(text) else ""
            self.pos += 1
            if c == "\\":
                nxt = text[self.pos] if self.pos < len(text) else ""
                self.pos += 1
                if nxt not in ("", "\n"):
                    continue
                raise _Error(unterminated)
            if c in ("", "\n"):
                raise _Error(unterminated)
            if c == quote:
                break
        self._emit(typ)

    def _lex_field_or_variable(self, typ: Tok) -> None:
        if self._at_terminator():
            self._emit(Tok.VARIABLE if typ is Tok.VARIABLE else Tok.DOT)
            return
        while self._peek() != "" and _is_alnum(self._peek()):
            self.pos += 1
        if not self._at_terminator():
            raise _Error(f"bad character {_go_rune(self._peek())}")
        self._emit(typ)

    def _lex_identifier(self) -> None:
        while self._peek() != "" and _is_alnum(self._peek()):
            self.pos += 1
        if not self._at_terminator():
            raise _Error(f"bad character {_go_rune(self._peek())}")
        word = self.text[self.start : self.pos]
        if word in KEYWORDS:
            self._emit(KEYWORDS[word])
        elif word in ("true", "false"):
            self._emit(Tok.BOOL)
        else:
            self._emit(Tok.IDENTIFIER)

    def _accept(self, chars: str) -> bool:
        if self._peek() != "" and self._peek() in chars:
            self.pos += 1
            return True
        return False

    def _accept_run(self, chars: str) -> None:
        while self._accept(chars):
            pass

    def _lex_number(self) -> None:
        self._accept("+-")
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        if self._accept("."):
            self._accept_run(digits)
        if len(digits) == 11 and self._accept("eE"):
            self._accept("+-")
            self._accept_run("0123456789_")
        if len(digits) == 23 and self._accept("pP"):
            self._accept("+-")
            self._accept_run("0123456789_")
        self._accept("i")
        if self._peek() != "" and _is_alnum(self._peek()):
            self.pos += 1
            raise _Error("bad number syntax: " + go_quote(self.text[self.start : self.pos]))
        if self._peek() != "" and self._peek() in "+-":
            self.pos += 1
            self._accept_run("0123456789_.eEi")
            raise _Error("bad number syntax: " + go_quote(self.text[self.start : self.pos]))
        self._emit(Tok.NUMBER)
