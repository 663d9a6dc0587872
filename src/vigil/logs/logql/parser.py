"""LogQL's parser: recursive descent over `_lex`'s tokens into `ast` values.

What parses is what Grafana's `@grafana/lezer-logql` grammar parses, plus the few forms Loki's
own parser takes beyond it and minus what Loki rejects while parsing (listed in
tests/logs/logql/test_corpus.py); binary operators bind as in PromQL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from vigil.logs.logql import ast
from vigil.logs.logql._lex import Kind, Token, tokenize
from vigil.logs.logql._linefilter import ip_matcher
from vigil.logs.logql.parsers import json_path
from vigil.logs.logql.pattern import Pattern
from vigil.logs.logql.templates import LineTemplate, TemplateError
from vigil.logs.query_source import ParseError, Source
from vigil.model import Matcher
from vigil.model.regex import Anchor, Regex, RegexError

# Grafana's grammar reserves these words (any case): they never name a label.
_RESERVED = frozenset(
    {
        "json", "logfmt", "unpack", "pattern", "regexp", "unwrap", "label_format",
        "line_format", "label_replace", "vector", "offset", "bool", "on", "ignoring",
        "group_left", "group_right", "decolorize", "drop", "keep",
    }
)  # fmt: skip
_LINE_FILTER_OPS = frozenset({"|=", "!=", "|~", "!~", "|>", "!>"})
_MATCH_OPS = frozenset({"=", "!=", "=~", "!~"})
_COMPARE_OPS = frozenset({"==", "!=", ">", ">=", "<", "<=", "="})
_BINARY_PRECEDENCE = {
    "or": 1, "and": 2, "unless": 2,
    "==": 3, "!=": 3, ">": 3, ">=": 3, "<": 3, "<=": 3,
    "+": 4, "-": 4, "*": 5, "/": 5, "%": 5, "^": 6,
}  # fmt: skip
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(y|w|d|h|ms|m|s|µs|us|ns)")
_NS = {
    "y": 365 * 86400 * 10**9, "w": 7 * 86400 * 10**9, "d": 86400 * 10**9, "h": 3600 * 10**9,
    "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "µs": 10**3, "us": 10**3, "ns": 1,
}  # fmt: skip
_BYTES_PART = re.compile(r"(\d+(?:\.\d+)?)([A-Za-z]+)")
_BYTE_UNITS = {
    "B": 1, "kB": 1000, "KB": 1000, "MB": 1000**2, "GB": 1000**3, "TB": 1000**4, "PB": 1000**5,
    "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3, "TiB": 1024**4, "PiB": 1024**5,
}  # fmt: skip


@functools.lru_cache(maxsize=256)
def parse(text: str) -> ast.Expr:
    """The syntax tree of a LogQL query; raises ParseError naming line and column."""
    parser = _Parser(text)
    expr = parser.expr(0)
    parser.expect_end()
    return expr


def parse_duration_ns(text: str) -> int:
    """`1h30m`, `250ms`, `1.5s` as nanoseconds (Loki's duration syntax)."""
    return sum(round(float(n) * _NS[unit]) for n, unit in _DURATION_PART.findall(text))


def parse_bytes(text: str) -> float:
    number, unit = _BYTES_PART.fullmatch(text).groups()  # type: ignore[union-attr]
    return float(number) * _BYTE_UNITS[unit]


class _Parser:
    def __init__(self, text: str) -> None:
        self.source = Source(text)
        self.tokens = tokenize(self.source)
        self.i = 0

    # --- token helpers ---------------------------------------------------------------------

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def error(self, token: Token, expected: str = "") -> ParseError:
        return self.source.unexpected(token, expected)

    def is_op(self, *ops: str) -> bool:
        return self.tok.kind is Kind.OP and self.tok.text in ops

    def is_word(self, *words: str, exact: bool = False) -> bool:
        if self.tok.kind is not Kind.IDENT:
            return False
        return (self.tok.text if exact else self.tok.text.lower()) in words

    def expect_op(self, op: str) -> Token:
        if not self.is_op(op):
            raise self.error(self.tok, repr(op))
        return self.advance()

    def expect_end(self) -> None:
        if self.tok.kind is not Kind.EOF:
            raise self.error(self.tok)

    def string(self) -> str:
        if self.tok.kind is not Kind.STRING:
            raise self.error(self.tok, "string")
        return self.advance().value

    def identifier(self) -> str:
        token = self.tok
        if token.kind is not Kind.IDENT or token.text.lower() in _RESERVED:
            raise self.error(token, "identifier")
        self.i += 1
        return token.text

    def number(self) -> float:
        if self.tok.kind is not Kind.NUMBER:
            raise self.error(self.tok, "number")
        return _number(self.advance().text)

    def duration(self) -> int:
        sign = -1 if self.is_op("-") and self.peek().kind is Kind.DURATION else 1
        if sign < 0:
            self.i += 1
        if self.tok.kind is not Kind.DURATION:
            raise self.error(self.tok, "duration")
        return sign * parse_duration_ns(self.advance().text)

    # --- expressions -----------------------------------------------------------------------

    def expr(self, min_prec: int) -> ast.Expr:
        lhs = self.operand()
        while True:
            op = self.binary_op()
            if op is None or _BINARY_PRECEDENCE[op] < min_prec:
                return lhs
            op_token = self.advance()
            return_bool, matching = self.binary_modifiers(op)
            rhs_start = self.tok
            rhs = self.expr(_BINARY_PRECEDENCE[op] + (op != "^"))
            if isinstance(lhs, ast.LogQuery):
                raise self.error(op_token)
            if isinstance(rhs, ast.LogQuery):
                raise self.error(rhs_start)
            lhs = ast.BinaryOp(op, lhs, rhs, return_bool, matching)

    def binary_op(self) -> str | None:
        token = self.tok
        if token.kind is Kind.OP and token.text in _BINARY_PRECEDENCE:
            return token.text
        if token.kind is Kind.IDENT and token.text.lower() in ("and", "or", "unless"):
            return token.text.lower()
        return None

    def binary_modifiers(self, op: str) -> tuple[bool, ast.VectorMatching]:
        return_bool = self.is_word("bool")
        if return_bool:
            self.i += 1
        if not self.is_word("on", "ignoring"):
            return return_bool, ast.VectorMatching()
        on = self.advance().text.lower() == "on"
        labels = self.grouping_labels()
        card = ast.Cardinality.ONE_TO_ONE
        include: tuple[str, ...] = ()
        if self.is_word("group_left", "group_right"):
            left = self.advance().text.lower() == "group_left"
            card = ast.Cardinality.MANY_TO_ONE if left else ast.Cardinality.ONE_TO_MANY
            if self.is_op("("):
                include = self.grouping_labels()
        return return_bool, ast.VectorMatching(on, not on, labels, card, include)

    def grouping_labels(self) -> tuple[str, ...]:
        """`(a, b)`, `(a, b,)` or `()` after on/ignoring/group_x."""
        self.expect_op("(")
        labels: list[str] = []
        while not self.is_op(")"):
            token = self.tok
            if token.kind is not Kind.IDENT or ":" in token.text:
                raise self.error(token, "label name")
            labels.append(self.identifier())
            if not self.is_op(","):
                break
            self.i += 1
        self.expect_op(")")
        return tuple(labels)

    def operand(self) -> ast.Expr:
        token = self.tok
        if token.kind is Kind.OP:
            if token.text == "{":
                return self.log_query()
            if token.text == "(":
                self.i += 1
                inner = self.expr(0)
                self.expect_op(")")
                return inner
            if token.text in ("+", "-") and self.peek().kind is Kind.NUMBER:
                self.i += 1
                value = self.number()
                return ast.NumberLiteral(-value if token.text == "-" else value)
        if token.kind is Kind.NUMBER:
            return ast.NumberLiteral(self.number())
        if token.kind is Kind.IDENT and self.peek().text.lower() in ("(", "by", "without"):
            name = token.text
            if name in ast.RANGE_OPS and self.peek().text == "(":
                return self.range_aggregation()
            if name.lower() in ast.VECTOR_OPS:
                return self.vector_aggregation()
            if name.lower() == "vector" and self.peek().text == "(":
                self.i += 2
                value = self.number()
                self.expect_op(")")
                return ast.VectorLiteral(value)
            if name.lower() == "label_replace" and self.peek().text == "(":
                return self.label_replace()
        raise self.error(token)

    def metric(self) -> ast.MetricExpr:
        token = self.tok
        expr = self.expr(0)
        if isinstance(expr, ast.LogQuery):
            raise self.source.error(
                "syntax error: a log query is not a metric expression", token.pos
            )
        return expr

    def grouping(self) -> ast.Grouping | None:
        if not self.is_word("by", "without"):
            return None
        without = self.advance().text.lower() == "without"
        self.expect_op("(")
        labels: list[str] = []
        if not self.is_op(")"):
            labels.append(self.identifier())
            while self.is_op(","):
                self.i += 1
                labels.append(self.identifier())
        self.expect_op(")")
        return ast.Grouping(tuple(labels), without)

    def vector_aggregation(self) -> ast.MetricExpr:
        op_token = self.advance()
        op = op_token.text.lower()
        grouping = self.grouping()
        self.expect_op("(")
        param = None
        if self.tok.kind is Kind.NUMBER and self.peek().text == ",":
            param = self.number()
            self.i += 1
        inner = self.metric()
        self.expect_op(")")
        if grouping is None:
            grouping = self.grouping()
        if (param is not None) != (op in ("topk", "bottomk")):
            need = "needs a" if param is None else "takes no"
            raise self.source.error(f"syntax error: {op} {need} parameter", op_token.pos)
        if grouping is not None and op in ("sort", "sort_desc"):
            raise self.source.error(f"syntax error: grouping not allowed for {op}", op_token.pos)
        return ast.VectorAggregation(op, inner, param, grouping)

    def label_replace(self) -> ast.MetricExpr:
        start = self.advance()
        self.expect_op("(")
        inner = self.metric()
        args: list[str] = []
        for _ in range(4):
            self.expect_op(",")
            args.append(self.string())
        self.expect_op(")")
        try:
            Regex(args[3])
        except RegexError as err:
            raise self.source.error(f"invalid regex in label_replace: {err}", start.pos) from None
        return ast.LabelReplace(inner, *args)

    def range_aggregation(self) -> ast.MetricExpr:
        op_token = self.advance()
        op = op_token.text
        self.expect_op("(")
        param = None
        if self.tok.kind is Kind.NUMBER:
            param = self.number()
            self.expect_op(",")
        log_range = self.log_range()
        self.expect_op(")")
        grouping = self.grouping()
        _check_range_aggregation(self.source, op_token, param, log_range, grouping)
        return ast.RangeAggregation(op, log_range, param, grouping)

    # --- log queries -----------------------------------------------------------------------

    def log_query(self) -> ast.LogQuery:
        matchers = self.selector()
        stages, unwrap = self.pipeline(allow_unwrap=False)
        assert unwrap is None
        return ast.LogQuery(matchers, stages)

    def selector(self) -> tuple[Matcher, ...]:
        start = self.expect_op("{")
        matchers = [self.matcher()]
        while self.is_op(","):
            self.i += 1
            matchers.append(self.matcher())
        self.expect_op("}")
        if all(m.matches_empty() for m in matchers):
            raise self.source.error(
                "queries require at least one regexp or equality matcher that does not have "
                'an empty-compatible value. For instance, app=~".*" does not meet this '
                'requirement, but app=~".+" will',
                start.pos,
            )
        return tuple(matchers)

    def matcher(self) -> Matcher:
        name = self.identifier()
        if not self.is_op(*_MATCH_OPS):
            raise self.error(self.tok, "=, !=, =~ or !~")
        op = self.advance().text
        value_token = self.tok
        value = self.string()
        try:
            return Matcher.of(name, op, value, Anchor.PROMETHEUS)
        except ValueError as err:
            raise self.source.error(str(err), value_token.pos) from None

    def log_range(self) -> ast.LogRange:
        """Every arrangement of selector, stages, range and offset Loki's grammar takes."""
        if not self.is_op("("):
            return self.log_range_body()
        self.i += 1
        if self.is_op("("):
            inner = self.log_range()
            self.expect_op(")")
            return inner
        matchers = self.selector()
        stages, unwrap = self.pipeline(allow_unwrap=True)
        if self.is_op("["):
            inner = self.log_range_rest(matchers, stages, unwrap)
            self.expect_op(")")
            return inner
        self.expect_op(")")
        range_ns = self.range()
        offset_ns = self.offset()
        if not stages and unwrap is None and self.is_op("|"):
            unwrap = self.unwrap_only()
        return ast.LogRange(ast.LogQuery(matchers, stages), range_ns, offset_ns, unwrap)

    def log_range_body(self) -> ast.LogRange:
        matchers = self.selector()
        stages, unwrap = self.pipeline(allow_unwrap=True)
        return self.log_range_rest(matchers, stages, unwrap)

    def log_range_rest(
        self,
        matchers: tuple[Matcher, ...],
        stages: tuple[ast.Stage, ...],
        unwrap: ast.Unwrap | None,
    ) -> ast.LogRange:
        range_ns = self.range()
        offset_ns = self.offset()
        if not stages and unwrap is None:
            stages, unwrap = self.pipeline(allow_unwrap=True)
        return ast.LogRange(ast.LogQuery(matchers, stages), range_ns, offset_ns, unwrap)

    def range(self) -> int:
        start = self.expect_op("[")
        value = self.duration()
        self.expect_op("]")
        if value <= 0:
            raise self.source.error("syntax error: the range must be positive", start.pos)
        return value

    def offset(self) -> int:
        if not self.is_word("offset"):
            return 0
        self.i += 1
        return self.duration()

    def unwrap_only(self) -> ast.Unwrap:
        self.expect_op("|")
        if not self.is_word("unwrap"):
            raise self.error(self.tok, "unwrap")
        return self.unwrap()

    def pipeline(self, *, allow_unwrap: bool) -> tuple[tuple[ast.Stage, ...], ast.Unwrap | None]:
        stages: list[ast.Stage] = []
        while True:
            if self.tok.kind is Kind.OP and self.tok.text in _LINE_FILTER_OPS:
                stages.append(self.line_filter())
            elif self.is_op("|"):
                if self.peek().kind is Kind.IDENT and self.peek().text.lower() == "unwrap":
                    if not allow_unwrap:
                        raise self.error(self.peek())
                    self.i += 1
                    return tuple(stages), self.unwrap()
                self.i += 1
                stages.append(self.stage())
            else:
                return tuple(stages), None

    def line_filter(self) -> ast.LineFilter:
        op = self.advance().text
        terms = [self.filter_term(op)]
        while self.is_word("or") and self.peek().kind in (Kind.STRING, Kind.IDENT):
            if self.peek().kind is Kind.IDENT and self.peek().text != "ip":
                break
            self.i += 1
            terms.append(self.filter_term(op))
        return ast.LineFilter(op, tuple(terms))

    def filter_term(self, op: str) -> ast.FilterTerm:
        if self.is_word("ip", exact=True) and self.peek().text == "(":
            start = self.advance()
            self.expect_op("(")
            cidr = self.ip_range()
            self.expect_op(")")
            if op not in ("|=", "!="):
                raise self.source.error(f"syntax error: ip() cannot follow {op}", start.pos)
            return ast.FilterTerm(cidr, ip=True)
        token = self.tok
        value = self.string()
        if op in ("|~", "!~"):
            try:
                Regex(value, Anchor.SEARCH)
            except RegexError as err:
                raise self.source.error(str(err), token.pos) from None
        return ast.FilterTerm(value)

    def ip_range(self) -> str:
        token = self.tok
        cidr = self.string()
        try:
            ip_matcher(cidr)
        except ValueError as err:
            raise self.source.error(str(err), token.pos) from None
        return cidr

    def stage(self) -> ast.Stage:
        token = self.tok
        word = token.text.lower() if token.kind is Kind.IDENT else ""
        if word in _STAGE_WORDS:
            self.i += 1
            return _STAGE_WORDS[word](self)
        return ast.LabelFilterStage(self.label_filter())

    def extractions(self) -> tuple[ast.Extraction, ...]:
        if self.tok.kind is not Kind.IDENT or self.tok.text.lower() in _RESERVED:
            return ()
        found = [self.extraction()]
        while self.is_op(","):
            self.i += 1
            found.append(self.extraction())
        return tuple(found)

    def extraction(self) -> ast.Extraction:
        name = self.identifier()
        if not self.is_op("="):
            return ast.Extraction(name)
        self.i += 1
        token = self.tok
        expression = self.string()
        try:
            json_path(expression)
        except ValueError as err:
            raise self.source.error(str(err), token.pos) from None
        return ast.Extraction(name, expression)

    def json_stage(self) -> ast.Stage:
        return ast.JsonParser(self.extractions())

    def logfmt_stage(self) -> ast.Stage:
        flags: set[str] = set()
        while self.tok.kind is Kind.FLAG:
            flags.add(self.advance().text)
        return ast.LogfmtParser("--strict" in flags, "--keep-empty" in flags, self.extractions())

    def regexp_stage(self) -> ast.Stage:
        token = self.tok
        pattern = self.string()
        try:
            Regex(pattern, Anchor.SEARCH)
        except RegexError as err:
            raise self.source.error(str(err), token.pos) from None
        if "(?P<" not in pattern and "(?<" not in pattern:
            raise self.source.error("at least one named capture must be supplied", token.pos)
        return ast.RegexpParser(pattern)

    def pattern_stage(self) -> ast.Stage:
        token = self.tok
        pattern = self.string()
        try:
            captures = Pattern(pattern).names
        except ValueError as err:
            raise self.source.error(str(err), token.pos) from None
        if not captures:
            raise self.source.error("at least one capture is required in a pattern", token.pos)
        return ast.PatternParser(pattern)

    def unpack_stage(self) -> ast.Stage:
        return ast.UnpackParser()

    def decolorize_stage(self) -> ast.Stage:
        return ast.Decolorize()

    def drop_stage(self) -> ast.Stage:
        return ast.Drop(self.selections())

    def keep_stage(self) -> ast.Stage:
        return ast.Keep(self.selections())

    def line_format_stage(self) -> ast.Stage:
        return ast.LineFormat(self.template())

    def template(self) -> str:
        token = self.tok
        text = self.string()
        try:
            LineTemplate(text)
        except TemplateError as err:
            raise self.source.error(f"invalid template: {err}", token.pos) from None
        return text

    def label_format_stage(self) -> ast.Stage:
        renames = [self.rename()]
        while self.is_op(","):
            self.i += 1
            renames.append(self.rename())
        return ast.LabelFormat(tuple(renames))

    def rename(self) -> ast.LabelRename:
        dst = self.identifier()
        self.expect_op("=")
        if self.tok.kind is Kind.STRING:
            return ast.LabelRename(dst, self.template(), template=True)
        return ast.LabelRename(dst, self.identifier(), template=False)

    def selections(self) -> tuple[ast.LabelSelection, ...]:
        found = [self.selection()]
        while self.is_op(","):
            self.i += 1
            found.append(self.selection())
        return tuple(found)

    def selection(self) -> ast.LabelSelection:
        if self.peek().kind is Kind.OP and self.peek().text in _MATCH_OPS:
            matcher = self.matcher()
            return ast.LabelSelection(matcher.name, matcher)
        return ast.LabelSelection(self.identifier())

    def unwrap(self) -> ast.Unwrap:
        self.i += 1
        conversion = ""
        if self.tok.text in ast.CONVERSIONS and self.peek().text == "(":
            conversion = self.advance().text
            self.i += 1
            label = self.identifier()
            self.expect_op(")")
        else:
            label = self.identifier()
        filters: list[ast.LabelFilter] = []
        while self.is_op("|") and self.peek().text.lower() not in _STAGE_WORDS:
            self.i += 1
            filters.append(self.label_filter())
        return ast.Unwrap(label, conversion, tuple(filters))

    # --- label filters ---------------------------------------------------------------------

    def label_filter(self) -> ast.LabelFilter:
        left = self.label_filter_and()
        while self.is_word("or"):
            self.i += 1
            left = ast.OrFilter(left, self.label_filter_and())
        return left

    def label_filter_and(self) -> ast.LabelFilter:
        left = self.label_filter_primary()
        while True:
            if self.is_word("and") or self.is_op(","):
                self.i += 1
            elif not self.starts_label_predicate():
                return left
            left = ast.AndFilter(left, self.label_filter_primary())

    def starts_label_predicate(self) -> bool:
        """A predicate right after another (Loki reads `a="1" b="2"` as `and`)."""
        following = self.peek()
        return (
            self.tok.kind is Kind.IDENT
            and self.tok.text.lower() not in ("and", "or", "unless", *_RESERVED)
            and following.kind is Kind.OP
            and following.text in (_MATCH_OPS | _COMPARE_OPS)
        )

    def label_filter_primary(self) -> ast.LabelFilter:
        if self.is_op("("):
            self.i += 1
            inner = self.label_filter()
            self.expect_op(")")
            return inner
        name = self.identifier()
        op_token = self.tok
        if op_token.kind is not Kind.OP or op_token.text not in (_MATCH_OPS | _COMPARE_OPS):
            raise self.error(op_token, "comparison operator")
        op = self.advance().text
        token = self.tok
        if op in ("=", "!=") and token.kind is Kind.IDENT and token.text == "ip":
            self.i += 1
            self.expect_op("(")
            cidr = self.ip_range()
            self.expect_op(")")
            return ast.IpFilter(name, op == "!=", cidr)
        if token.kind is Kind.STRING and op in _MATCH_OPS:
            self.i -= 2
            return ast.MatcherFilter(self.matcher())
        if op not in _COMPARE_OPS:
            raise self.error(token, "string")
        return self.comparison(name, "==" if op == "=" else op)

    def comparison(self, name: str, op: str) -> ast.LabelFilter:
        sign = ""
        if self.is_op("+", "-") and self.peek().kind in (Kind.NUMBER, Kind.DURATION):
            sign = self.advance().text
            if sign == "+" and self.tok.kind is Kind.DURATION:
                raise self.error(self.tok)
        token = self.advance()
        text = sign + token.text
        factor = -1.0 if sign == "-" else 1.0
        if token.kind is Kind.NUMBER:
            return ast.ComparisonFilter(
                name, op, ast.UnitKind.NUMBER, factor * _number(token.text), text
            )
        if token.kind is Kind.DURATION:
            seconds = factor * parse_duration_ns(token.text) / 1e9
            return ast.ComparisonFilter(name, op, ast.UnitKind.DURATION, seconds, text)
        if token.kind is Kind.BYTES and not sign:
            return ast.ComparisonFilter(name, op, ast.UnitKind.BYTES, parse_bytes(token.text), text)
        raise self.error(token, "number, duration or bytes")


_STAGE_WORDS: dict[str, Callable[[_Parser], ast.Stage]] = {
    "json": _Parser.json_stage,
    "logfmt": _Parser.logfmt_stage,
    "regexp": _Parser.regexp_stage,
    "pattern": _Parser.pattern_stage,
    "unpack": _Parser.unpack_stage,
    "line_format": _Parser.line_format_stage,
    "label_format": _Parser.label_format_stage,
    "decolorize": _Parser.decolorize_stage,
    "drop": _Parser.drop_stage,
    "keep": _Parser.keep_stage,
}


_GROUPING_RANGE_OPS = frozenset(
    {
        "avg_over_time", "stddev_over_time", "stdvar_over_time", "quantile_over_time",
        "max_over_time", "min_over_time", "first_over_time", "last_over_time",
    }
)  # fmt: skip
_UNWRAP_RANGE_OPS = (ast.RANGE_OPS - ast.LINE_RANGE_OPS) | {"rate", "absent_over_time"}


def _number(text: str) -> float:
    return float(int(text, 16)) if text.lower().startswith("0x") else float(text)


def _check_range_aggregation(
    source: Source,
    op_token: Token,
    param: float | None,
    log_range: ast.LogRange,
    grouping: ast.Grouping | None,
) -> None:
    """What Loki's parser rejects in a well-formed range aggregation."""
    op = op_token.text
    problem = ""
    if (param is not None) != (op == "quantile_over_time"):
        problem = f"{op} {'needs a' if param is None else 'takes no'} parameter"
    elif grouping is not None and op not in _GROUPING_RANGE_OPS:
        problem = f"grouping not allowed for {op} aggregation"
    elif log_range.unwrap is not None and op not in _UNWRAP_RANGE_OPS:
        problem = f"invalid aggregation {op} with unwrap"
    elif log_range.unwrap is None and op not in ast.LINE_RANGE_OPS:
        problem = f"invalid aggregation {op} without unwrap"
    if problem:
        raise source.error(f"syntax error: {problem}", op_token.pos)
