"""TraceQL's parser: recursive descent over `_lex`'s tokens into `ast` values.

What parses is what Grafana's `@grafana/lezer-traceql` grammar parses, minus what Tempo refuses
while parsing (operand types, invalid regexes; listed in tests/traces/traceql/test_corpus.py)
and minus what vigil does not evaluate yet — metrics queries, `parent` and event/link
fields — which fail with an error saying so. Operators bind as in Tempo: `^`, then
`* / %`, `+ -`, comparisons, `&&`, `||`; between spansets the structural operators (`>>`,
`!<`, `&~`, ...; left to right), then `&&`, `||`, then `|`.
A pipeline stage standing first (`count() > 2`) reads as `{ } | count() > 2`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

from vigil.logs.query_source import ParseError, Source
from vigil.model.regex import Anchor, Regex, RegexError
from vigil.traces._api import KIND_NAMES, STATUS_NAMES
from vigil.traces.traceql import ast
from vigil.traces.traceql._lex import Kind, Token, tokenize
from vigil.traces.traceql.ast import Type
from vigil.traces.traceql.structure import OPERATORS as STRUCTURAL

_T = TypeVar("_T")

_NS = {
    "ns": 1,
    "us": 10**3,
    "µs": 10**3,
    "ms": 10**6,
    "s": 10**9,
    "m": 60 * 10**9,
    "h": 3600 * 10**9,
}
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">=", "=~", "!~"})
_ORDERINGS = frozenset({"<", "<=", ">", ">="})
_AGGREGATES = frozenset({"avg", "min", "max", "sum"})
_METRICS = frozenset(
    {
        "rate", "count_over_time", "min_over_time", "max_over_time", "avg_over_time",
        "sum_over_time", "quantile_over_time", "histogram_over_time", "compare", "topk", "bottomk",
    }
)  # fmt: skip
_STATICS: dict[str, ast.Static] = {
    "true": ast.Static(Type.BOOL, True),
    "false": ast.Static(Type.BOOL, False),
    "nil": ast.Static(Type.NIL, None),
    **{name: ast.Static(Type.STATUS, code) for code, name in enumerate(STATUS_NAMES)},
    **{name: ast.Static(Type.KIND, code) for code, name in enumerate(KIND_NAMES)},
}
_NOT_YET = {
    "event:name": "event fields",
    "event:timeSinceStart": "event fields",
    "link:spanID": "link fields",
    "link:traceID": "link fields",
    "parent": "the parent scope",
}


@functools.lru_cache(maxsize=256)
def parse(text: str) -> ast.Query:
    """The syntax tree of a TraceQL query; raises ParseError naming line, column and what
    was expected there."""
    parser = _Parser(text)
    root = parser.chain()
    most_recent = parser.hint()
    if parser.tok.kind is not Kind.EOF:
        raise parser.unexpected(parser.tok, "'|', '&&', '||' or end of input")
    return ast.Query(root, most_recent)


def duration_ns(text: str) -> int:
    """`500ms`, `1.5s` as nanoseconds (one unit, as the grammar has it)."""
    unit = text.lstrip("0123456789.")
    return round(float(text[: len(text) - len(unit)]) * _NS[unit])


class _Parser:
    def __init__(self, text: str) -> None:
        self.source = Source(text)
        self.tokens = tokenize(self.source)
        self.i = 0

    # --- tokens ----------------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind is Kind.OP and self.tok.text in ops

    def is_word(self, *words: str) -> bool:
        return self.tok.kind is Kind.WORD and self.tok.text in words

    def unexpected(self, token: Token, expected: str = "") -> ParseError:
        return self.source.unexpected(token, expected)

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.unexpected(self.tok, repr(op))
        return self.advance()

    def not_supported(self, what: str, token: Token) -> ParseError:
        return self.source.error(f"{what} ({token.text!r}) not supported yet", token.pos)

    def attempt(self, *parsers: Callable[[], _T]) -> _T:
        """The first parser that succeeds from here; else the error that got furthest."""
        start, errors = self.i, []
        for parse_one in parsers:
            try:
                return parse_one()
            except ParseError as error:
                errors.append(error)
                self.i = start
        raise max(errors, key=lambda e: e.pos)

    # --- spanset expressions ---------------------------------------------------------------

    def chain(self) -> ast.Spanset:
        lhs = self.spanset_or()
        while self.is_op("|"):
            self.advance()
            lhs = ast.Pipe(lhs, self.spanset_or())
        return lhs

    def spanset_or(self) -> ast.Spanset:
        lhs = self.spanset_and()
        while self.is_op("||"):
            self.advance()
            lhs = ast.SpansetOp("||", lhs, self.spanset_and())
        return lhs

    def spanset_and(self) -> ast.Spanset:
        lhs = self.spanset_unit()
        while self.is_op("&&"):
            self.advance()
            lhs = ast.SpansetOp("&&", lhs, self.spanset_unit())
        return lhs

    def spanset_unit(self) -> ast.Spanset:
        lhs = self.spanset_atom()
        while self.tok.kind is Kind.OP and self.tok.text in STRUCTURAL:
            op = self.advance().text
            lhs = ast.SpansetOp(op, lhs, self.spanset_atom())
        return lhs

    def spanset_atom(self) -> ast.Spanset:
        token = self.tok
        if token.kind is Kind.OP and token.text == "{":
            return self.spanset_filter()
        if token.kind is Kind.OP and token.text == "(":
            return self.attempt(self.wrapped_chain, self.scalar_filter)
        if token.kind is Kind.WORD:
            if token.text in ("select", "by"):
                self.advance()
                fields = self.field_list()
                return ast.Select(fields) if token.text == "select" else ast.GroupBy(fields)
            if token.text == "coalesce":
                self.advance()
                self.expect_adjacent_parens(token)
                return ast.Coalesce()
            if token.text in _METRICS:
                raise self.not_supported("metrics queries", token)
        return self.scalar_filter()

    def wrapped_chain(self) -> ast.Spanset:
        self.expect_op("(")
        inner = self.chain()
        self.expect_op(")")
        return inner

    def spanset_filter(self) -> ast.SpansetFilter:
        self.expect_op("{")
        if self.is_op("}"):
            self.advance()
            return ast.SpansetFilter()
        start = self.tok
        field = self.field_or()
        if field.type not in (Type.BOOL, Type.ATTRIBUTE):
            raise self.source.error(
                f"a spanset filter needs a boolean expression, not {field.type.value}", start.pos
            )
        if not self.is_op("}"):
            raise self.unexpected(self.tok, "'}', '&&', '||' or an operator")
        self.advance()
        return ast.SpansetFilter(field)

    def field_list(self) -> tuple[ast.Field, ...]:
        self.expect_op("(")
        fields = [self.field_or()]
        while self.is_op(","):
            self.advance()
            fields.append(self.field_or())
        if not self.is_op(")"):
            raise self.unexpected(self.tok, "',' or ')'")
        self.advance()
        return tuple(fields)

    def expect_adjacent_parens(self, word: Token) -> None:
        token = self.tok
        if not (self.is_op("()") and token.pos == word.pos + len(word.text)):
            raise self.unexpected(token, f"'()' right after {word.text!r}")
        self.advance()

    def hint(self) -> bool:
        if not self.is_word("with"):
            return False
        self.advance()
        self.expect_op("(")
        if not self.is_word("most_recent"):
            raise self.unexpected(self.tok, "most_recent")
        self.advance()
        self.expect_op("=")
        if not self.is_word("true", "false"):
            raise self.unexpected(self.tok, "true or false")
        value = self.advance().text == "true"
        self.expect_op(")")
        return value

    # --- scalar filters --------------------------------------------------------------------

    def scalar_filter(self) -> ast.ScalarFilter:
        lhs = self.scalar_sum()
        token = self.tok
        if not (token.kind is Kind.OP and token.text in _COMPARISONS):
            raise self.unexpected(token, "a comparison ('>', '=', ...)")
        if token.text in ("=~", "!~"):
            raise self.source.error(f"{token.text} compares strings, not numbers", token.pos)
        self.advance()
        return ast.ScalarFilter(token.text, lhs, self.scalar_sum())

    def scalar_sum(self) -> ast.Scalar:
        lhs = self.scalar_product()
        while self.is_op("+", "-"):
            op = self.advance().text
            lhs = ast.ScalarBinary(op, lhs, self.scalar_product())
        return lhs

    def scalar_product(self) -> ast.Scalar:
        lhs = self.scalar_power()
        while self.is_op("*", "/", "%"):
            op = self.advance().text
            lhs = ast.ScalarBinary(op, lhs, self.scalar_power())
        return lhs

    def scalar_power(self) -> ast.Scalar:
        lhs = self.scalar_primary()
        if self.is_op("^"):
            self.advance()
            return ast.ScalarBinary("^", lhs, self.scalar_power())
        return lhs

    def scalar_primary(self) -> ast.Scalar:
        token = self.tok
        if token.kind is Kind.OP and token.text == "(":
            self.advance()
            inner = self.scalar_sum()
            self.expect_op(")")
            return inner
        sign = 1
        if token.kind is Kind.OP and token.text == "-":
            self.advance()
            sign, token = -1, self.tok
            if token.kind not in (Kind.INTEGER, Kind.FLOAT, Kind.DURATION):
                raise self.unexpected(token, "a number or duration after '-'")
        if token.kind in (Kind.INTEGER, Kind.FLOAT):
            self.advance()
            return ast.ScalarStatic(sign * float(token.text))
        if token.kind is Kind.DURATION:
            self.advance()
            return ast.ScalarStatic(sign * float(duration_ns(token.text)), duration=True)
        if token.kind is Kind.WORD and token.text == "count":
            self.advance()
            self.expect_adjacent_parens(token)
            return ast.Aggregate("count")
        if token.kind is Kind.WORD and token.text in _AGGREGATES:
            self.advance()
            self.expect_op("(")
            start = self.tok
            field = self.field_or()
            if field.type not in (Type.INT, Type.FLOAT, Type.DURATION, Type.ATTRIBUTE):
                raise self.source.error(
                    f"{token.text}() takes a number or duration, not {field.type.value}", start.pos
                )
            self.expect_op(")")
            return ast.Aggregate(token.text, field)
        if token.kind is Kind.WORD and token.text in _METRICS:
            raise self.not_supported("metrics queries", token)
        raise self.unexpected(
            token, "a spanset filter '{', count(), avg/min/max/sum(...), select(...) or by(...)"
        )

    # --- field expressions -----------------------------------------------------------------

    def field_or(self) -> ast.Field:
        lhs = self.field_and()
        while self.is_op("||"):
            op = self.advance()
            lhs = self.binary(op, lhs, self.field_and())
        return lhs

    def field_and(self) -> ast.Field:
        lhs = self.field_comparison()
        while self.is_op("&&"):
            op = self.advance()
            lhs = self.binary(op, lhs, self.field_comparison())
        return lhs

    def field_comparison(self) -> ast.Field:
        lhs = self.field_sum()
        if self.tok.kind is Kind.OP and self.tok.text in _COMPARISONS:
            op = self.advance()
            rhs_token = self.tok
            rhs = self.field_sum()
            if op.text in ("=~", "!~") and isinstance(rhs, ast.Static):
                self.check_regex(rhs, rhs_token)
            return self.binary(op, lhs, rhs)
        return lhs

    def field_sum(self) -> ast.Field:
        lhs = self.field_product()
        while self.is_op("+", "-"):
            op = self.advance()
            lhs = self.binary(op, lhs, self.field_product())
        return lhs

    def field_product(self) -> ast.Field:
        lhs = self.field_power()
        while self.is_op("*", "/", "%"):
            op = self.advance()
            lhs = self.binary(op, lhs, self.field_power())
        return lhs

    def field_power(self) -> ast.Field:
        lhs = self.field_unary()
        if self.is_op("^"):
            op = self.advance()
            return self.binary(op, lhs, self.field_power())
        return lhs

    def field_unary(self) -> ast.Field:
        token = self.tok
        if token.kind is Kind.OP and token.text in ("!", "-"):
            self.advance()
            operand = self.field_unary()
            allowed = (
                (Type.BOOL, Type.ATTRIBUTE)
                if token.text == "!"
                else (Type.INT, Type.FLOAT, Type.DURATION, Type.ATTRIBUTE)
            )
            if operand.type not in allowed:
                raise self.source.error(
                    f"{token.text!r} does not apply to {operand.type.value}", token.pos
                )
            if token.text == "-" and isinstance(operand, ast.Static):
                assert isinstance(operand.value, int | float)
                return ast.Static(operand.type, -operand.value)
            return ast.Unary(token.text, operand, Type.BOOL if token.text == "!" else operand.type)
        return self.field_primary()

    def field_primary(self) -> ast.Field:
        token = self.tok
        if token.kind is Kind.OP and token.text == "(":
            self.advance()
            inner = self.field_or()
            self.expect_op(")")
            return inner
        self.advance()
        if token.kind is Kind.STRING:
            return ast.Static(Type.STRING, token.value)
        if token.kind is Kind.INTEGER:
            return ast.Static(Type.INT, int(token.text))
        if token.kind is Kind.FLOAT:
            return ast.Static(Type.FLOAT, float(token.text))
        if token.kind is Kind.DURATION:
            return ast.Static(Type.DURATION, duration_ns(token.text))
        if token.kind is Kind.ATTRIBUTE:
            if token.scope == "parent":
                raise self.not_supported("the parent scope", token)
            if token.scope in ("event", "link"):
                raise self.not_supported(f"{token.scope} attributes", token)
            return ast.Attribute(token.scope, token.value)
        if token.kind is Kind.WORD:
            if token.text in _STATICS:
                return _STATICS[token.text]
            if token.text in _NOT_YET:
                raise self.not_supported(_NOT_YET[token.text], token)
            if token.text in ast.INTRINSIC_WORDS:
                return ast.IntrinsicField(ast.INTRINSIC_WORDS[token.text])
        raise self.unexpected(token, "a field (.attribute, an intrinsic such as name) or a value")

    def check_regex(self, pattern: ast.Static, token: Token) -> None:
        if pattern.type is not Type.STRING:
            return
        assert isinstance(pattern.value, str)
        try:
            Regex(pattern.value, Anchor.PROMETHEUS)
        except RegexError as error:
            raise self.source.error(str(error), token.pos) from None

    def binary(self, op: Token, lhs: ast.Field, rhs: ast.Field) -> ast.Binary:
        result = _binary_type(op.text, lhs.type, rhs.type)
        if result is None:
            raise self.source.error(
                f"operator {op.text} does not apply to {lhs.type.value} and {rhs.type.value}",
                op.pos,
            )
        return ast.Binary(op.text, lhs, rhs, result)


def _binary_type(op: str, lhs: Type, rhs: Type) -> Type | None:
    """The type of `lhs op rhs`, or None when Tempo refuses the operands' types."""
    any_type = Type.ATTRIBUTE
    if op in ("&&", "||"):
        ok = lhs in (Type.BOOL, any_type) and rhs in (Type.BOOL, any_type)
        return Type.BOOL if ok else None
    if op in ("=~", "!~"):
        ok = lhs in (Type.STRING, any_type) and rhs in (Type.STRING, any_type)
        return Type.BOOL if ok else None
    if op in _COMPARISONS:
        unordered = (Type.NIL, Type.BOOL, Type.STATUS, Type.KIND)
        if op in _ORDERINGS and (lhs in unordered or rhs in unordered):
            return None
        if any_type in (lhs, rhs) or lhs == rhs or (lhs.numeric and rhs.numeric):
            return Type.BOOL
        if Type.NIL in (lhs, rhs) and op in ("=", "!="):
            return Type.BOOL
        return None
    numbers = (Type.INT, Type.FLOAT, Type.DURATION, any_type)
    if lhs not in numbers or rhs not in numbers:
        return None
    if any_type in (lhs, rhs):
        return any_type
    if Type.DURATION in (lhs, rhs):
        return Type.DURATION
    return Type.INT if lhs == rhs == Type.INT and op != "/" else Type.FLOAT
