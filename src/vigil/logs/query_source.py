"""A query's text as a lexer reads it, and the parse errors that point into it by line and
column (as Loki and Tempo report them): LogQL's and TraceQL's lexers and parsers share
these, each with its own tokens."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Protocol, TypeVar


class ParseError(ValueError):
    """A query that is not of its language; str() is Loki's and Tempo's
    `parse error at line L, col C: ...`. `pos` is the offset in the query text."""

    def __init__(self, message: str, line: int, col: int, pos: int) -> None:
        super().__init__(message)
        self.message, self.line, self.col, self.pos = message, line, col, pos

    def __str__(self) -> str:
        return f"parse error at line {self.line}, col {self.col}: {self.message}"


class Lexeme(Protocol):
    """What the source needs of a token: its text, where it starts, and how an error
    names it."""

    @property
    def text(self) -> str: ...
    @property
    def pos(self) -> int: ...
    def describe(self) -> str: ...


L = TypeVar("L", bound=Lexeme)


class Source:
    """Positions in the query text (1-based line and column)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, message: str, pos: int) -> ParseError:
        line = self.text.count("\n", 0, pos) + 1
        col = pos - (self.text.rfind("\n", 0, pos) + 1) + 1
        return ParseError(message, line, col, pos)

    def unexpected(self, token: Lexeme, expected: str = "") -> ParseError:
        message = f"syntax error: unexpected {token.describe()}"
        return self.error(message + (f", expecting {expected}" if expected else ""), token.pos)

    def tokenize(
        self, space: re.Pattern[str], token_at: Callable[[int], L], end: Callable[[int], L]
    ) -> list[L]:
        """The tokens `token_at` reads, skipping what `space` matches between them, and
        `end` at the end of the text."""
        text, pos, tokens = self.text, 0, []
        while True:
            skipped = space.match(text, pos)
            if skipped:
                pos = skipped.end()
            if pos >= len(text):
                tokens.append(end(pos))
                return tokens
            token = token_at(pos)
            tokens.append(token)
            pos += len(token.text)
