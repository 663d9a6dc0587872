"""Where a PromQL query goes wrong, said as Prometheus says it: `1:14: parse error: ...`.

`promql_parser` rejects a query without a position. `locate` reads the query again the way
Prometheus's parser does: its lexer (`lexer.py`), its grammar — a syntax error is reported at
the first token no valid query could continue with, in the words of the innermost grammar rule
that catches errors there (`in grouping opts, expected "," or ")"`) — the checks its grammar
actions make (unknown functions, trailing commas, offsets, ranges), and then, for a query that
parses, its type checks (`checkAST`). Only the first error is reported, as Prometheus prints.
"""

from __future__ import annotations

import functools
import itertools
import math
import re
from dataclasses import dataclass, field

import promql_parser as pp

from vigil.model import Matcher
from vigil.model.regex import Anchor, Regex, RegexError
from vigil.promql.errors import ParseError
from vigil.promql.lexer import AGGREGATORS, Lexer, LexError, Token, go_quote, is_label

_METRIC_NAME_KINDS = frozenset(
    [
        "AVG",
        "BOTTOMK",
        "BY",
        "COUNT",
        "COUNT_VALUES",
        "GROUP",
        "IDENTIFIER",
        "LAND",
        "LOR",
        "LUNLESS",
        "MAX",
        "METRIC_IDENTIFIER",
        "MIN",
        "OFFSET",
        "QUANTILE",
        "STDDEV",
        "STDVAR",
        "SUM",
        "TOPK",
        "WITHOUT",
        "START",
        "END",
        "LIMITK",
        "LIMIT_RATIO",
    ]
)
_LABEL_KINDS = _METRIC_NAME_KINDS | frozenset(
    ["BOOL", "GROUP_LEFT", "GROUP_RIGHT", "IGNORING", "ON", "ATAN2", "STRING"]
)
_PRECEDENCE = {
    "LOR": 1,
    "LAND": 2,
    "LUNLESS": 2,
    "EQLC": 3,
    "GTE": 3,
    "GTR": 3,
    "LSS": 3,
    "LTE": 3,
    "NEQ": 3,
    "ADD": 4,
    "SUB": 4,
    "MUL": 5,
    "DIV": 5,
    "MOD": 5,
    "ATAN2": 5,
    "POW": 6,
}
_EXPRESSION_STARTS = _METRIC_NAME_KINDS | frozenset(
    ["NUMBER", "STRING", "LEFT_PAREN", "LEFT_BRACE", "ADD", "SUB"]
)
_COMPARISONS = frozenset({"EQLC", "GTE", "GTR", "LSS", "LTE", "NEQ"})
_SET_OPERATORS = frozenset({"LAND", "LOR", "LUNLESS"})
_MATCH_OPS = frozenset({"EQL", "NEQ", "EQL_REGEX", "NEQ_REGEX"})
_MATCH_OP_TEXT = {"EQL": "=", "NEQ": "!=", "EQL_REGEX": "=~", "NEQ_REGEX": "!~"}
_WITH_SCALAR_PARAM = frozenset({"TOPK", "BOTTOMK", "QUANTILE", "LIMITK", "LIMIT_RATIO"})
_DOCUMENTED = {
    "vector": "instant vector",
    "matrix": "range vector",
    "scalar": "scalar",
    "string": "string",
}
_DURATION = re.compile(
    r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?\Z"
)
_DURATION_MS = (31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1000, 1)


@dataclass(frozen=True, slots=True)
class Located:
    """The first error Prometheus would report: its offset in the query and its message."""

    offset: int
    message: str

    def line_col(self, query: str) -> tuple[int, int]:
        """Prometheus's `line:col` (1-based; the column counts bytes, as Go indexes strings)."""
        before = query[: self.offset]
        line_start = before.rfind("\n") + 1
        return before.count("\n") + 1, len(before[line_start:].encode()) + 1


def parse_error(query: str, fallback: str, parsed: str | None = None) -> ParseError:
    """The error for a query `promql_parser` refused with `fallback`: Prometheus's position and
    wording when `locate` finds the error, else the package's message without a position.

    `parsed` is the text the package was given when it differs from `query` (Prometheus 3
    syntax rewritten): an error found before the first rewritten character is the same in both.
    """
    located = locate(query)
    if located is None or located.offset >= _common_prefix(query, parsed or query):
        return ParseError(fallback, query)
    return ParseError(located.message, query, located.line_col(query))


def _common_prefix(a: str, b: str) -> int:
    """How many leading characters `a` and `b` share; past the end when they are equal."""
    if a == b:
        return len(a) + 1
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


def locate(query: str) -> Located | None:
    """The first error in `query` as Prometheus reports it, or None if none is found."""
    parser = _Parser(query)
    try:
        tree = parser.parse()
        _check(tree)
    except _Found as found:
        return found.located
    except RecursionError:
        return None  # deeper than Python recurses (the size limits normally refuse it before)
    return None


class _Found(Exception):
    def __init__(self, offset: int, message: str) -> None:
        self.located = Located(offset, message)


@dataclass(slots=True)
class _Node:
    kind: str  # number string vector matrix subquery paren call aggregation binary unary
    start: int
    end: int
    children: list[_Node] = field(default_factory=list)
    op: Token | None = None  # operator, aggregator or function name
    param: _Node | None = None
    name: str = ""  # a vector selector's metric name
    matchers: list[tuple[str, str, str]] = field(default_factory=list)
    offset: bool = False
    at: str = ""  # "time" for @ <number>, "preprocessor" for @ start() / end()
    return_bool: bool = False
    on: bool = False
    matching: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    card: str = ""  # "" one-to-one, GROUP_LEFT, GROUP_RIGHT


class _Parser:
    """Recursive descent over Prometheus's grammar. `_contexts` holds the grammar's error rules
    that are open at this point (innermost last): a syntax error is reported in their words."""

    def __init__(self, query: str) -> None:
        self._lexer = Lexer(query)
        self._query = query
        self._token: Token | None = None
        self._last: Token = Token("EOF", 0, "")
        self._contexts: list[tuple[str, str]] = []

    # --- tokens --------------------------------------------------------------------------

    def _peek(self) -> Token:
        if self._token is None:
            try:
                self._token = self._lexer.next()
            except LexError as err:
                raise _Found(err.pos, err.message) from None
        return self._token

    def _take(self) -> Token:
        token = self._peek()
        self._token = None
        self._last = token
        return token

    def _at(self, *kinds: str) -> bool:
        return self._peek().kind in kinds

    def _unexpected(self, token: Token | None = None) -> _Found:
        token = token or self._peek()
        message = f"unexpected {token.describe()}"
        if self._contexts:
            context, expected = self._contexts[-1]
            message += f" in {context}"
            if expected:
                message += f", expected {expected}"
        return _Found(token.pos, message)

    def _expect(self, kind: str) -> Token:
        if not self._at(kind):
            raise self._unexpected()
        return self._take()

    # --- expressions -----------------------------------------------------------------------

    def parse(self) -> _Node:
        if self._at("EOF"):
            raise _Found(0, "no expression found in input")
        node = self._binary(0)
        if not self._at("EOF"):
            raise self._unexpected()
        return node

    def _binary(self, min_precedence: int) -> _Node:
        lhs = self._unary()
        while (precedence := _PRECEDENCE.get(self._peek().kind, 0)) > min_precedence:
            op = self._take()
            node = _Node("binary", lhs.start, 0, op=op)
            self._bin_modifiers(node)
            rhs = self._binary(precedence - 1 if op.kind == "POW" else precedence)
            node.children = [lhs, rhs]
            node.end = rhs.end
            lhs = node
        return lhs

    def _bin_modifiers(self, node: _Node) -> None:
        if self._at("BOOL"):
            self._take()
            node.return_bool = True
        if self._at("ON", "IGNORING"):
            node.on = self._take().kind == "ON"
            node.matching = self._grouping_labels()
            if self._at("GROUP_LEFT", "GROUP_RIGHT"):
                node.card = self._take().kind
                if self._at("LEFT_PAREN"):
                    node.include = self._grouping_labels()
                elif self._peek().kind not in _EXPRESSION_STARTS:
                    self._contexts.append(("grouping opts", '"("'))
                    raise self._unexpected()

    def _unary(self) -> _Node:
        if self._at("ADD", "SUB"):
            op = self._take()
            operand = self._binary(_PRECEDENCE["POW"] - 1)
            if operand.kind == "number":
                operand.start = op.pos
                return operand
            return _Node("unary", op.pos, operand.end, [operand], op=op)
        return self._postfix(self._primary())

    def _primary(self) -> _Node:
        token = self._peek()
        if token.kind == "NUMBER":
            self._take()
            _check_number(token)
            return _Node("number", token.pos, token.end)
        if token.kind == "STRING":
            self._take()
            return _Node("string", token.pos, token.end)
        if token.kind == "LEFT_PAREN":
            self._take()
            inner = self._binary(0)
            close = self._expect("RIGHT_PAREN")
            return _Node("paren", token.pos, close.end, [inner])
        if token.kind == "LEFT_BRACE":
            return self._selector(None)
        if token.kind in AGGREGATORS:
            self._take()
            if self._at("LEFT_PAREN", "BY", "WITHOUT"):
                return self._aggregation(token)
            return self._selector(token)
        if token.kind == "IDENTIFIER":
            self._take()
            if self._at("LEFT_PAREN"):
                return self._call(token)
            return self._selector(token)
        if token.kind in _METRIC_NAME_KINDS:
            self._take()
            return self._selector(token)
        raise self._unexpected()

    def _postfix(self, node: _Node) -> _Node:
        while True:
            if self._at("LEFT_BRACKET"):
                node = self._range_or_subquery(node)
            elif self._at("OFFSET"):
                self._offset(node)
            elif self._at("AT"):
                self._at_modifier(node)
            else:
                return node

    # --- selectors ---------------------------------------------------------------------------

    def _selector(self, name: Token | None) -> _Node:
        node = _Node("vector", name.pos if name else self._peek().pos, name.end if name else 0)
        node.name = name.text if name else ""
        if not self._at("LEFT_BRACE"):
            return node
        self._take()
        self._contexts.append(("label matching", 'identifier or "}"'))
        while not self._at("RIGHT_BRACE"):
            node.matchers.append(self._matcher())
            self._contexts[-1] = ("label matching", '"," or "}"')
            if not self._at("COMMA"):
                if not self._at("RIGHT_BRACE"):
                    raise self._unexpected()
                break
            self._take()
            self._contexts[-1] = ("label matching", 'identifier or "}"')
        node.end = self._take().end
        self._contexts.pop()
        return node

    def _matcher(self) -> tuple[str, str, str]:
        if not self._at("IDENTIFIER", "STRING"):
            raise self._unexpected()
        label = self._take()
        if label.kind == "STRING" and not self._at(*_MATCH_OPS):
            return ("__name__", "EQL", _unquote(label.text))
        self._contexts.append(("label matching", "label matching operator"))
        if not self._at(*_MATCH_OPS):
            raise self._unexpected()
        op = self._take()
        self._contexts[-1] = ("label matching", "string")
        value = self._expect("STRING")
        self._contexts.pop()
        name = _unquote(label.text) if label.kind == "STRING" else label.text
        if op.kind in ("EQL_REGEX", "NEQ_REGEX"):
            _check_regex(label.pos, _unquote(value.text))
        return (name, op.kind, _unquote(value.text))

    def _range_or_subquery(self, node: _Node) -> _Node:
        bracket = self._take()
        self._contexts.append(("subquery selector", "duration"))
        self._duration()
        self._contexts[-1] = ("subquery or range", '":" or "]"')
        if self._at("RIGHT_BRACKET"):
            close = self._take()
            self._contexts.pop()
            problem = ""
            if node.kind != "vector":
                problem = "ranges only allowed for vector selectors"
            elif node.offset:
                problem = "no offset modifiers allowed before range"
            elif node.at == "time":
                problem = "no @ modifiers allowed before range"
            if problem:
                raise _Found(bracket.pos, problem)
            return _Node("matrix", node.start, close.end, [node])
        if not self._at("COLON"):
            raise self._unexpected()
        self._take()
        self._contexts[-1] = ("subquery selector", 'duration or "]"')
        if self._at("DURATION"):
            self._duration()
            self._contexts[-1] = ("subquery selector", '"]"')
        close = self._expect("RIGHT_BRACKET")
        self._contexts.pop()
        return _Node("subquery", node.start, close.end, [node])

    def _duration(self) -> None:
        token = self._expect("DURATION")
        match = _DURATION.match(token.text)
        if match is None or not token.text:
            raise _Found(token.pos, f"not a valid duration string: {go_quote(token.text)}")
        total = sum(int(n or 0) * ms for n, ms in zip(match.groups(), _DURATION_MS, strict=True))
        if total * 1_000_000 > 2**63 - 1:
            raise _Found(token.pos, "duration out of range")
        if total == 0:
            raise _Found(token.pos, "duration must be greater than 0")

    def _offset(self, node: _Node) -> None:
        self._take()
        self._contexts.append(("offset", "duration"))
        if self._at("SUB"):
            self._take()
        self._duration()
        self._contexts.pop()
        target = node.children[0] if node.kind == "matrix" else node
        if node.kind not in ("vector", "matrix", "subquery"):
            raise _Found(
                node.start,
                "offset modifier must be preceded by an instant vector selector or range "
                "vector selector or a subquery",
            )
        if target.offset:
            raise _Found(node.start, "offset may not be set multiple times")
        target.offset = True
        node.end = self._last.end

    def _at_modifier(self, node: _Node) -> None:
        self._take()
        self._contexts.append(("@", "timestamp"))
        kind = "preprocessor"
        if self._at("START", "END"):
            self._take()
            self._expect("LEFT_PAREN")
            self._expect("RIGHT_PAREN")
        else:
            sign = self._take().text if self._at("ADD", "SUB") else ""
            seconds = _check_number(self._expect("NUMBER")) * (-1 if sign == "-" else 1)
            if not -(2.0**63) < seconds < 2.0**63:
                raise _Found(
                    node.start, f"timestamp out of bounds for @ modifier: {_go_float(seconds)}"
                )
            kind = "time"
        self._contexts.pop()
        target = node.children[0] if node.kind == "matrix" else node
        if node.kind not in ("vector", "matrix", "subquery"):
            raise _Found(
                node.start,
                "@ modifier must be preceded by an instant vector selector or range vector "
                "selector or a subquery",
            )
        if target.at:
            raise _Found(node.start, "@ <timestamp> may not be set multiple times")
        target.at = kind
        node.end = self._last.end

    # --- calls and aggregations --------------------------------------------------------------

    def _arguments(self) -> list[_Node]:
        self._expect("LEFT_PAREN")
        args: list[_Node] = []
        while not self._at("RIGHT_PAREN"):
            args.append(self._binary(0))
            if self._at("COMMA"):
                comma = self._take()
                if self._peek().kind not in _EXPRESSION_STARTS:
                    raise _Found(comma.pos, "trailing commas not allowed in function call args")
            elif not self._at("RIGHT_PAREN"):
                raise self._unexpected()
        self._take()
        return args

    def _call(self, name: Token) -> _Node:
        args = self._arguments()
        if _signature(name.text) is None:
            raise _Found(name.pos, f"unknown function with name {go_quote(name.text)}")
        return _Node("call", name.pos, self._last.end, args, op=name)

    def _aggregation(self, op: Token) -> _Node:
        node = _Node("aggregation", op.pos, 0, op=op)
        self._contexts.append(("aggregation", ""))
        if self._at("BY", "WITHOUT"):
            self._take()
            node.matching = self._grouping_labels()
            args = self._arguments()
            self._contexts.pop()
        else:
            args = self._arguments()
            self._contexts.pop()
            if self._at("BY", "WITHOUT"):
                self._take()
                node.matching = self._grouping_labels()
        node.end = self._last.end
        if not args:
            raise _Found(op.pos, "no arguments for aggregate expression provided")
        wanted = 2 if op.kind in _WITH_SCALAR_PARAM | {"COUNT_VALUES"} else 1
        if len(args) != wanted:
            raise _Found(
                op.pos,
                "wrong number of arguments for aggregate expression provided, "
                f"expected {wanted}, got {len(args)}",
            )
        node.param = args[0] if wanted == 2 else None
        node.children = [args[-1]]
        return node

    def _grouping_labels(self) -> tuple[str, ...]:
        self._contexts.append(("grouping opts", '"("'))
        self._expect("LEFT_PAREN")
        labels: list[str] = []
        self._contexts[-1] = ("grouping opts", "label")
        while not self._at("RIGHT_PAREN"):
            if not self._at(*_LABEL_KINDS):
                raise self._unexpected()
            label = self._take()
            text = _unquote(label.text) if label.kind == "STRING" else label.text
            if label.kind != "STRING" and not is_label(text):
                raise self._unexpected(label)
            labels.append(text)
            self._contexts[-1] = ("grouping opts", '"," or ")"')
            if not self._at("COMMA"):
                if not self._at("RIGHT_PAREN"):
                    raise self._unexpected()
                break
            self._take()
            self._contexts[-1] = ("grouping opts", "label")
        self._take()
        self._contexts.pop()
        return tuple(labels)


# --- type checks (Prometheus's checkAST), run on a query that parses ---------------------------


def _type(node: _Node) -> str:
    if node.kind in ("number", "string", "vector", "matrix"):
        return {"number": "scalar"}.get(node.kind, node.kind)
    if node.kind == "subquery":
        return "matrix"
    if node.kind in ("paren", "unary"):
        return _type(node.children[0])
    if node.kind == "binary":
        both_scalar = all(_type(c) == "scalar" for c in node.children)
        return "scalar" if both_scalar else "vector"
    if node.kind == "call":
        assert node.op is not None
        signature = _signature(node.op.text)
        return signature[2] if signature else "vector"
    return "vector"


def _expect_type(node: _Node, want: str, context: str) -> None:
    _check(node)
    got = _type(node)
    if got != want:
        raise _Found(
            node.start,
            f"expected type {_DOCUMENTED[want]} in {context}, got {_DOCUMENTED[got]}",
        )


def _check(node: _Node) -> None:
    if node.kind == "aggregation":
        assert node.op is not None
        _expect_type(node.children[0], "vector", "aggregation expression")
        if node.param is not None:
            want = "string" if node.op.kind == "COUNT_VALUES" else "scalar"
            _expect_type(node.param, want, "aggregation parameter")
    elif node.kind == "binary":
        _check_binary(node)
    elif node.kind == "call":
        _check_call(node)
    elif node.kind in ("paren", "matrix"):
        _check(node.children[0])
    elif node.kind == "unary":
        _check(node.children[0])
        got = _type(node.children[0])
        if got not in ("scalar", "vector"):
            raise _Found(
                node.start,
                "unary expression only allowed on expressions of type scalar or instant "
                f'vector, got "{_DOCUMENTED[got]}"',
            )
    elif node.kind == "subquery":
        _check(node.children[0])
        got = _type(node.children[0])
        if got != "vector":
            raise _Found(
                node.start, f"subquery is only allowed on instant vector, got {got} instead"
            )
    elif node.kind == "vector":
        _check_selector(node)


def _check_binary(node: _Node) -> None:
    lhs, rhs = node.children
    _check(lhs)
    _check(rhs)
    op = node.op
    assert op is not None
    left, right = _type(lhs), _type(rhs)
    if node.return_bool and op.kind not in _COMPARISONS:
        raise _Found(op.pos, "bool modifier can only be used on comparison operators")
    if op.kind in _COMPARISONS and not node.return_bool and left == right == "scalar":
        raise _Found(op.pos, "comparisons between scalars must use BOOL modifier")
    if node.on and node.card:
        for label in node.matching:
            if label in node.include:
                raise _Found(
                    op.pos, f"label {go_quote(label)} must not occur in ON and GROUP clause at once"
                )
    for side, kind in ((lhs, left), (rhs, right)):
        if kind not in ("scalar", "vector"):
            raise _Found(
                side.start, "binary expression must contain only scalar and instant vector types"
            )
    if left != "vector" or right != "vector":
        if node.matching:
            raise _Found(node.start, "vector matching only allowed between instant vectors")
    elif op.kind in _SET_OPERATORS and node.card:
        raise _Found(node.start, f"no grouping allowed for {go_quote(op.text)} operation")
    if "scalar" in (left, right) and op.kind in _SET_OPERATORS:
        raise _Found(
            node.start, f"set operator {go_quote(op.text)} not allowed in binary scalar expression"
        )


def _check_call(node: _Node) -> None:
    assert node.op is not None
    name = node.op.text
    signature = _signature(name)
    assert signature is not None
    arg_types, variadic, _ = signature
    got = len(node.children)
    if variadic == 0:
        if got != len(arg_types):
            raise _Found(
                node.start,
                f"expected {len(arg_types)} argument(s) in call to {go_quote(name)}, got {got}",
            )
    elif got < len(arg_types) - 1:
        raise _Found(
            node.start,
            f"expected at least {len(arg_types) - 1} argument(s) in call to {go_quote(name)}, "
            f"got {got}",
        )
    elif variadic > 0 and got > len(arg_types) - 1 + variadic:
        raise _Found(
            node.start,
            f"expected at most {len(arg_types) - 1 + variadic} argument(s) in call to "
            f"{go_quote(name)}, got {got}",
        )
    for i, arg in enumerate(node.children):
        if i >= len(arg_types) and variadic == 0:
            break
        want = arg_types[min(i, len(arg_types) - 1)]
        _expect_type(arg, want, f"call to function {go_quote(name)}")


def _check_selector(node: _Node) -> None:
    if node.name:
        for name, _, value in node.matchers:
            if name == "__name__":
                raise _Found(
                    node.start,
                    f"metric name must not be set twice: {go_quote(node.name)} or {go_quote(value)}",
                )
        return
    if not any(not _matches_empty(op, value) for _, op, value in node.matchers):
        raise _Found(node.start, "vector selector must contain at least one non-empty matcher")


def _matches_empty(op: str, value: str) -> bool:
    try:
        return Matcher.of("label", _MATCH_OP_TEXT[op], value).matches_empty()
    except ValueError:
        return True  # a bad regex: reported where it was parsed


# --- values ------------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    try:
        return str(text[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape"))
    except UnicodeDecodeError:
        return text[1:-1]


def _check_number(token: Token) -> float:
    """The number's value, read as Go's ParseInt (base prefixes) then ParseFloat."""
    text = token.text
    try:
        value = int(text, 0)
        if -(2**63) <= value < 2**63:
            return float(value)
    except ValueError:
        pass
    problem = "invalid syntax"
    try:
        number = float(text)
        if not math.isinf(number) or text.lower().lstrip("+-") in ("inf", "infinity"):
            return number
        problem = "value out of range"
    except ValueError:
        pass
    raise _Found(
        token.pos,
        f"error parsing number: strconv.ParseFloat: parsing {go_quote(text)}: {problem}",
    )


def _go_float(value: float) -> str:
    """Go's `%f`."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:f}"


def _check_regex(pos: int, pattern: str) -> None:
    """A regex RE2 refuses is an error at its matcher, compiled as Prometheus compiles it (so
    the message quotes the anchored pattern as Go's regexp package does)."""
    try:
        Regex(f"^(?:{pattern})$", Anchor.SEARCH)
    except RegexError as err:
        raise _Found(pos, str(err)) from None


_SAMPLE_ARGS = {"vector": "x", "matrix": "x[1m]", "scalar": "1", "string": '"s"'}


@functools.cache
def _signature(name: str) -> tuple[tuple[str, ...], int, str] | None:
    """(argument types, variadic, return type) of a function `promql_parser` knows, found by
    parsing calls to it: the package keeps its function table to itself."""
    try:
        call = pp.parse(f"{name}()")
    except ValueError as err:
        if "unknown function" in str(err):
            return None
        wanted = re.search(r"expected (?:at least )?(\d+) argument", str(err))
        count = int(wanted.group(1)) if wanted else 0
        call = None
        for combination in itertools.product(_SAMPLE_ARGS.values(), repeat=count):
            try:
                call = pp.parse(f"{name}({', '.join(combination)})")
            except ValueError:
                continue
            break
    if not isinstance(call, pp.Call):
        return None
    func = call.func
    types = tuple(str(t).rsplit(".", 1)[-1].lower() for t in func.arg_types)
    return types, int(func.variadic), str(func.return_type).rsplit(".", 1)[-1].lower()
