"""PromQL text → vigil's evaluation tree, via the `promql_parser` package (Prometheus's grammar).

`promql_parser` 0.12 implements Prometheus 2.45's grammar. What Prometheus 3 added on top and
the package lacks is handled here before parsing: duration expressions (`[5m+30s]`,
`offset (2*step())`, `step()`, `range()`, `min_of`/`max_of`) are folded into literal durations,
and negative `@` timestamps (which the package cannot represent) are swapped for placeholders.
Experimental syntax the package rejects (`anchored`, `smoothed`, `fill(...)`, `@st`, `info()`)
raises `UnsupportedFeatureError` naming the feature.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import promql_parser as pp

from vigil.model import METRIC_NAME, Matcher
from vigil.promql.ast import (
    Aggregation,
    AtKind,
    AtModifier,
    Binary,
    Call,
    Cardinality,
    Expr,
    MatrixSelector,
    Negation,
    NumberLiteral,
    StringLiteral,
    Subquery,
    VectorMatching,
    VectorSelector,
)
from vigil.promql.errors import ParseError, UnsupportedFeatureError
from vigil.promql.limits import STRING_ENDS, check_query_size
from vigil.promql.positions import parse_error

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_AT_PLACEHOLDER_BASE_S = 100_000_000_000  # year ~5138: `@` values from here on are swapped
_FAR_TIME_MS = 2**62  # farther `@` times evaluate as this one: no data either way
_EXPERIMENTAL = (
    (re.compile(r"\banchored\b"), "the 'anchored' range modifier"),
    (re.compile(r"\bsmoothed\b"), "the 'smoothed' range modifier"),
    (re.compile(r"\bfill(_left|_right)?\s*\("), "fill modifiers of binary operators"),
    (re.compile(r"@\s*st\b"), "'@st'"),
    (re.compile(r"\b__type__|\b__unit__"), "__type__/__unit__ labels"),
)
_NATIVE_HISTOGRAM_ONLY = frozenset({"info"})
_MATCH_OPS = (
    (pp.MatchOp.Equal, "="),
    (pp.MatchOp.NotEqual, "!="),
    (pp.MatchOp.Re, "=~"),
    (pp.MatchOp.NotRe, "!~"),
)


def match_op(op: pp.MatchOp) -> str:
    return next(text for known, text in _MATCH_OPS if known == op)


def parse(query: str, *, step_ms: int = 0, range_ms: int = 0) -> Expr:
    """Parse a query; `step_ms`/`range_ms` give `step()`/`range()` their values."""
    check_query_size(query)
    try:
        code, at_values = rewrite_prometheus3_syntax(query, step_ms, range_ms)
    except ParseError as err:
        raise parse_error(query, err.message) from None
    try:
        raw = pp.parse(code)
    except (ValueError, OverflowError) as err:  # OverflowError: a number it cannot hold
        for pattern, feature in _EXPERIMENTAL:
            if pattern.search(_code_only(query)):
                raise UnsupportedFeatureError(
                    f"{feature} is experimental and not supported yet"
                ) from None
        raise parse_error(query, str(err), code) from None
    except BaseException as err:
        if type(err).__name__ != "PanicException":  # the package's Rust code gave up
            raise
        raise parse_error(query, str(err), code) from None
    try:
        return _Converter(at_values).convert(raw)
    except ParseError as err:  # a regex RE2 refuses, say
        raise parse_error(query, err.message, code) from None
    except (ValueError, OverflowError) as err:  # a duration or time Python cannot represent
        raise parse_error(query, str(err), code) from None


def prettify(query: str) -> str:
    """The query as Prometheus's `/api/v1/format_query` prints it."""
    check_query_size(query)
    try:
        return str(pp.parse(query).prettify())
    except ValueError as err:
        raise parse_error(query, str(err)) from None


def duration_ms(delta: dt.timedelta | None) -> int:
    if delta is None:
        return 0
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


class _Converter:
    def __init__(self, at_values: dict[int, int]) -> None:
        self._at_values = at_values

    def convert(self, node: object) -> Expr:
        for kind, handler in self._handlers():
            if isinstance(node, kind):
                return handler(node)
        raise ParseError(f"unsupported expression {node}")

    def _handlers(self) -> tuple[tuple[type, Callable[[Any], Expr]], ...]:
        return (
            (pp.NumberLiteral, lambda n: NumberLiteral(float(n.val))),
            (pp.StringLiteral, lambda n: StringLiteral(str(n.val))),
            (pp.ParenExpr, lambda n: self.convert(n.expr)),
            (pp.UnaryExpr, lambda n: Negation(self.convert(n.expr))),
            (pp.VectorSelector, self._vector_selector),
            (pp.MatrixSelector, self._matrix_selector),
            (pp.SubqueryExpr, self._subquery),
            (pp.Call, self._call),
            (pp.AggregateExpr, self._aggregation),
            (pp.BinaryExpr, self._binary),
        )

    def _at(self, at: pp.AtModifier | None) -> AtModifier | None:
        if at is None:
            return None
        if at.type == pp.AtModifierType.Start:
            return AtModifier(AtKind.START)
        if at.type == pp.AtModifierType.End:
            return AtModifier(AtKind.END)
        assert at.at is not None
        t_ms = duration_ms(at.at - EPOCH)
        return AtModifier(AtKind.TIME, self._at_values.get(t_ms, t_ms))

    def _vector_selector(self, node: pp.VectorSelector) -> VectorSelector:
        groups_raw = node.matchers.or_matchers or [node.matchers.matchers]
        groups: list[tuple[Matcher, ...]] = []
        for raw_group in groups_raw:
            group = []
            for m in raw_group:
                group.append(_matcher(m.name, match_op(m.op), m.value))
            if node.name is not None and not any(m.name == METRIC_NAME for m in group):
                group.insert(0, Matcher.of(METRIC_NAME, "=", node.name))
            groups.append(tuple(group))
        return VectorSelector(node.name, tuple(groups), duration_ms(node.offset), self._at(node.at))

    def _matrix_selector(self, node: pp.MatrixSelector) -> MatrixSelector:
        return MatrixSelector(self._vector_selector(node.vector_selector), duration_ms(node.range))

    def _subquery(self, node: pp.SubqueryExpr) -> Subquery:
        return Subquery(
            self.convert(node.expr),
            duration_ms(node.range),
            duration_ms(node.step),
            duration_ms(node.offset),
            self._at(node.at),
        )

    def _call(self, node: pp.Call) -> Call:
        name = node.func.name
        if name in _NATIVE_HISTOGRAM_ONLY:
            raise UnsupportedFeatureError(
                f"function {name}() is experimental and not supported yet"
            )
        return Call(name, tuple(self.convert(arg) for arg in node.args))

    def _aggregation(self, node: pp.AggregateExpr) -> Aggregation:
        grouping: tuple[str, ...] = ()
        without = False
        if node.modifier is not None:
            grouping = tuple(node.modifier.labels)
            without = node.modifier.type == pp.AggModifierType.Without
        param = None if node.param is None else self.convert(node.param)
        return Aggregation(str(node.op), self.convert(node.expr), param, grouping, without)

    def _binary(self, node: pp.BinaryExpr) -> Binary:
        op = str(node.op)
        lhs, rhs = self.convert(node.lhs), self.convert(node.rhs)
        mod = node.modifier
        if mod is None:
            card = Cardinality.MANY_TO_MANY if op in ("and", "or", "unless") else None
            return Binary(op, lhs, rhs, False, VectorMatching(card or Cardinality.ONE_TO_ONE))
        card = next(
            ours
            for theirs, ours in (
                (pp.VectorMatchCardinality.OneToOne, Cardinality.ONE_TO_ONE),
                (pp.VectorMatchCardinality.ManyToOne, Cardinality.MANY_TO_ONE),
                (pp.VectorMatchCardinality.OneToMany, Cardinality.ONE_TO_MANY),
                (pp.VectorMatchCardinality.ManyToMany, Cardinality.MANY_TO_MANY),
            )
            if theirs == mod.card
        )
        fill = mod.fill_values
        if fill is not None and (fill.lhs is not None or fill.rhs is not None):
            raise UnsupportedFeatureError(
                "fill modifiers of binary operators are experimental and not supported yet"
            )
        on = False
        labels: tuple[str, ...] = ()
        if mod.matching is not None:
            on = mod.matching.type == pp.LabelModifierType.Include
            labels = tuple(mod.matching.labels)
        include = tuple(mod.group_labels or ())
        return Binary(
            op, lhs, rhs, bool(mod.return_bool), VectorMatching(card, on, labels, include)
        )


def _matcher(name: str, op: str, value: str) -> Matcher:
    try:
        return Matcher.of(name, op, value)
    except ValueError as err:
        raise ParseError(str(err)) from None


# --- Prometheus 3 syntax the package lacks -------------------------------------------------

_STRING_START = re.compile(r"[\"'`#]")
_PLAIN_DURATION = re.compile(r"\s*((\d+(ms|[smhdwy]))+|\d+)\s*\Z")
_OFFSET = re.compile(r"\boffset\b", re.IGNORECASE)
_AT_NUMBER = re.compile(
    r"@(\s*)([-+]?)\s*(0[xX][0-9a-fA-F]+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)(?![\w.])"
)


def _code_only(query: str) -> str:
    """`query` with its strings and comments blanked out, in one pass: an unclosed string
    blanks the rest (the parser refuses it anyway)."""
    pieces: list[str] = []
    done = 0
    while (start := _STRING_START.search(query, done)) is not None:
        closed = STRING_ENDS[start.group()].match(query, start.start())
        end = len(query) if closed is None else closed.end()
        pieces += (query[done : start.start()], " " * (end - start.start()))
        done = end
    pieces.append(query[done:])
    return "".join(pieces)


def rewrite_prometheus3_syntax(
    query: str, step_ms: int, range_ms: int
) -> tuple[str, dict[int, int]]:
    """Fold duration expressions and swap `@` values the package cannot represent (negative, or
    past year 9999) for placeholders, leaving strings untouched."""
    masked = _code_only(query)
    edits: list[tuple[int, int, str]] = []
    at_values: dict[int, int] = {}
    depth_braces = 0
    i = 0
    while i < len(masked):
        ch = masked[i]
        if ch == "{":
            depth_braces += 1
        elif ch == "}":
            depth_braces -= 1
        elif ch == "[" and depth_braces == 0:
            close = masked.find("]", i)
            if close < 0:
                break
            body = masked[i + 1 : close]
            folded = _fold_range_body(body, step_ms, range_ms)
            if folded is not None:
                edits.append((i + 1, close, folded))
            i = close
        i += 1
    for match in _OFFSET.finditer(masked):
        span = _DurationExpr(masked, match.end(), step_ms, range_ms).offset_operand()
        if span is not None:
            start, end, text = span
            if text == "0ms":
                start, text = match.start(), ""
            edits.append((start, end, text))
    for match in _AT_NUMBER.finditer(masked):
        number = match.group(3)
        seconds = int(number, 16) if number[:2] in ("0x", "0X") else float(number)
        at_ms = seconds * 1000 * (-1 if match.group(2) == "-" else 1)
        if abs(at_ms) >= 2.0**63:
            raise ParseError(f"timestamp out of bounds for @ modifier: {at_ms:f}", query)
        if at_ms >= 0 and at_ms < _AT_PLACEHOLDER_BASE_S * 1000:
            continue
        placeholder_s = _AT_PLACEHOLDER_BASE_S + len(at_values)
        at_values[placeholder_s * 1000] = max(-_FAR_TIME_MS, min(_FAR_TIME_MS, round(at_ms)))
        edits.append((match.start(), match.end(), f"@{match.group(1)}{placeholder_s}"))
    pieces: list[str] = []
    done = 0
    for start, end, text in sorted(edits):
        pieces += (query[done:start], text)
        done = end
    pieces.append(query[done:])
    return "".join(pieces), at_values


def _fold_range_body(body: str, step_ms: int, range_ms: int) -> str | None:
    parts = _split_top_level_colon(body)
    if all(p.strip() == "" or _PLAIN_DURATION.match(p) for p in parts):
        return None
    folded = []
    for part in parts:
        if part.strip() == "" or _PLAIN_DURATION.match(part):
            folded.append(part)
            continue
        parser = _DurationExpr(part, 0, step_ms, range_ms)
        value_s = parser.expression()
        parser.expect_end()
        folded.append(f"{round(value_s * 1000)}ms")
    return ":".join(folded)


def _split_top_level_colon(body: str) -> list[str]:
    depth = 0
    for i, ch in enumerate(body):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == ":" and depth == 0:
            return [body[:i], body[i + 1 :]]
    return [body]


_DURATION_UNITS_S = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "y": 31536000,
}
_DURATION_TOKEN = re.compile(r"(\d+(?:\.\d+)?)(ms|[smhdwy])?")
_DURATION_FUNCS = re.compile(r"(step|range|min_of|max_of)\s*\(", re.IGNORECASE)


class _DurationExpr:
    """Recursive-descent evaluator for Prometheus 3 duration expressions (values in seconds)."""

    def __init__(self, text: str, pos: int, step_ms: int, range_ms: int) -> None:
        self.text, self.pos = text, pos
        self.step_s, self.range_s = step_ms / 1000, range_ms / 1000

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _peek(self) -> str:
        self._skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _error(self, what: str) -> ParseError:
        return ParseError(f"{what} in duration expression at char {self.pos + 1}")

    def expect_end(self) -> None:
        if self._peek():
            raise self._error(f"unexpected {self._peek()!r}")

    def offset_operand(self) -> tuple[int, int, str] | None:
        """After `offset`: fold a signed atom unless it is already a plain duration."""
        self._skip()
        start = self.pos
        sign = 1.0
        while self._peek() in ("-", "+"):
            if self.text[self.pos] == "-":
                sign = -sign
            self.pos += 1
        self._skip()
        function = _DURATION_FUNCS.match(self.text, self.pos)
        if function is None and self._peek() != "(":
            return None  # a plain duration, or no duration at all (`by (offset, x)`)
        value = sign * self._atom()
        return (start, self.pos, f"{round(value * 1000)}ms")

    def expression(self) -> float:
        value = self._term()
        while self._peek() in ("+", "-"):
            op = self.text[self.pos]
            self.pos += 1
            rhs = self._term()
            value = value + rhs if op == "+" else value - rhs
        return value

    def _term(self) -> float:
        value = self._unary()
        while self._peek() in ("*", "/", "%"):
            op = self.text[self.pos]
            self.pos += 1
            rhs = self._unary()
            if op == "*":
                value *= rhs
            elif op == "/":
                value = value / rhs if rhs else float("inf")
            else:
                value = _go_fmod(value, rhs)
        return value

    def _unary(self) -> float:
        if self._peek() in ("-", "+"):
            negative = self.text[self.pos] == "-"
            self.pos += 1
            value = self._unary()
            return -value if negative else value
        return self._power()

    def _power(self) -> float:
        base = self._atom()
        if self._peek() == "^":
            self.pos += 1
            exponent = self._unary()
            return float(base**exponent)
        return base

    def _atom(self) -> float:
        ch = self._peek()
        if ch == "(":
            self.pos += 1
            value = self.expression()
            if self._peek() != ")":
                raise self._error("expected ')'")
            self.pos += 1
            return value
        func = _DURATION_FUNCS.match(self.text, self.pos)
        if func is not None:
            self.pos = func.end()
            name = func.group(1).lower()
            if name in ("step", "range"):
                if self._peek() != ")":
                    raise self._error("expected ')'")
                self.pos += 1
                return self.step_s if name == "step" else self.range_s
            first = self.expression()
            if self._peek() != ",":
                raise self._error("expected ','")
            self.pos += 1
            second = self.expression()
            if self._peek() != ")":
                raise self._error("expected ')'")
            self.pos += 1
            return min(first, second) if name == "min_of" else max(first, second)
        total = 0.0
        matched = False
        while True:
            token = _DURATION_TOKEN.match(self.text, self.pos)
            if token is None or (matched and token.group(2) is None):
                break
            total += float(token.group(1)) * _DURATION_UNITS_S[token.group(2) or "s"]
            self.pos = token.end()
            matched = True
            if token.group(2) is None:
                break
        if not matched:
            raise self._error("expected a duration")
        return total


def _go_fmod(a: float, b: float) -> float:
    import math

    return math.fmod(a, b) if b else float("nan")
