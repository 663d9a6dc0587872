"""`/api/v1/parse_query`'s tree JSON, held to Prometheus 3's `web/api/v1/translate_ast.go`.

Expected trees follow upstream's translateAST and its parser's rules: the metric name becomes a
trailing `__name__` matcher, `-` before a number literal folds into the literal, `matching` is
null unless both operands are instant vectors, set operators match many-to-many, and function
signatures come from `promql/parser/functions.go`.
"""

from __future__ import annotations

from typing import Any

import pytest

from vigil.promql.ast_json import parse_query_ast
from vigil.promql.errors import ParseError, UnsupportedFeatureError

JSON = dict[str, Any]


def _m(name: str, value: str, op: str = "=") -> JSON:
    return {"type": op, "name": name, "value": value}


def _vs(
    name: str = "",
    *matchers: JSON,
    offset: int = 0,
    timestamp: int | None = None,
    start_or_end: str | None = None,
) -> JSON:
    tail = [_m("__name__", name)] if name else []
    return {
        "type": "vectorSelector",
        "name": name,
        "offset": offset,
        "matchers": [*matchers, *tail],
        "timestamp": timestamp,
        "startOrEnd": start_or_end,
    }


def _ms(range_ms: int, selector: JSON) -> JSON:
    return {**selector, "type": "matrixSelector", "range": range_ms}


def _num(val: str) -> JSON:
    return {"type": "numberLiteral", "val": val}


def _func(name: str, arg_types: list[str], variadic: int, returns: str, *args: JSON) -> JSON:
    return {
        "type": "call",
        "func": {
            "name": name,
            "argTypes": arg_types,
            "variadic": variadic,
            "returnType": returns,
        },
        "args": list(args),
    }


def _match(card: str, labels: list[str], on: bool, include: list[str]) -> JSON:
    return {"card": card, "labels": labels, "on": on, "include": include}


def _bin(op: str, lhs: JSON, rhs: JSON, matching: JSON | None, bool_: bool = False) -> JSON:
    return {
        "type": "binaryExpr",
        "op": op,
        "lhs": lhs,
        "rhs": rhs,
        "matching": matching,
        "bool": bool_,
    }


def _agg(op: str, expr: JSON, param: JSON | None = None, by: list[str] | None = None) -> JSON:
    return {
        "type": "aggregation",
        "op": op,
        "expr": expr,
        "param": param,
        "grouping": by or [],
        "without": False,
    }


ONE_TO_ONE = _match("one-to-one", [], False, [])
RATE = ("rate", ["matrix"], 0, "vector")

CASES: list[tuple[str, JSON]] = [
    ("up", _vs("up")),
    (
        'http_requests_total{job="api", code!="200", path=~"/a.*", m!~"GET|PUT"}',
        _vs(
            "http_requests_total",
            _m("job", "api"),
            _m("code", "200", "!="),
            _m("path", "/a.*", "=~"),
            _m("m", "GET|PUT", "!~"),
        ),
    ),
    ('{job="api"}', _vs("", _m("job", "api"))),
    ('{__name__="up", job="x"}', _vs("", _m("__name__", "up"), _m("job", "x"))),
    ('{"up"}', _vs("", _m("__name__", "up"))),
    ("up offset 5m", _vs("up", offset=300_000)),
    ("up offset -2s @ end()", _vs("up", offset=-2000, start_or_end="end")),
    ("up @ start()", _vs("up", start_or_end="start")),
    ("up @ 1609746000", _vs("up", timestamp=1_609_746_000_000)),
    ("up @ 1.5", _vs("up", timestamp=1500)),
    ("up @ -5", _vs("up", timestamp=-5000)),
    ("up[5m]", _ms(300_000, _vs("up"))),
    ("up[1h30m] offset 1m @ 100", _ms(5_400_000, _vs("up", offset=60_000, timestamp=100_000))),
    ("rate(x[5m])", _func(*RATE, _ms(300_000, _vs("x")))),
    (
        "min_over_time(rate(x[5m])[30m:1m])",
        _func(
            "min_over_time",
            ["matrix"],
            0,
            "vector",
            {
                "type": "subquery",
                "expr": _func(*RATE, _ms(300_000, _vs("x"))),
                "range": 1_800_000,
                "offset": 0,
                "step": 60_000,
                "timestamp": None,
                "startOrEnd": None,
            },
        ),
    ),
    (
        "up[10m:] offset 1m @ start()",
        {
            "type": "subquery",
            "expr": _vs("up"),
            "range": 600_000,
            "offset": 60_000,
            "step": 0,
            "timestamp": None,
            "startOrEnd": "start",
        },
    ),
    ("time()", _func("time", [], 0, "scalar")),
    (
        'label_join(up, "dst", ",", "a", "b")',
        _func(
            "label_join",
            ["vector", "string", "string", "string"],
            -1,
            "vector",
            _vs("up"),
            *({"type": "stringLiteral", "val": v} for v in ("dst", ",", "a", "b")),
        ),
    ),
    ("round(up)", _func("round", ["vector", "scalar"], 1, "vector", _vs("up"))),
    (
        "histogram_quantile(0.9, up)",
        _func("histogram_quantile", ["scalar", "vector"], 0, "vector", _num("0.9"), _vs("up")),
    ),
    ("1", _num("1")),
    ("-1", _num("-1")),
    ("- -1", _num("1")),
    ("1e21", _num("1000000000000000000000")),
    ("1.5e-7", _num("0.00000015")),
    ("0x1F", _num("31")),
    ("Inf", _num("+Inf")),
    ("-Inf", _num("-Inf")),
    ("NaN", _num("NaN")),
    ('"yes"', {"type": "stringLiteral", "val": "yes"}),
    ("-up", {"type": "unaryExpr", "op": "-", "expr": _vs("up")}),
    (
        "-(1)",
        {"type": "unaryExpr", "op": "-", "expr": {"type": "parenExpr", "expr": _num("1")}},
    ),
    ("(up)", {"type": "parenExpr", "expr": _vs("up")}),
    ("1 + 1", _bin("+", _num("1"), _num("1"), None)),
    ("1 > bool 2", _bin(">", _num("1"), _num("2"), None, True)),
    ("up * 2", _bin("*", _vs("up"), _num("2"), None)),
    ("time() - up", _bin("-", _func("time", [], 0, "scalar"), _vs("up"), None)),
    ("a / b", _bin("/", _vs("a"), _vs("b"), ONE_TO_ONE)),
    ("a > bool b", _bin(">", _vs("a"), _vs("b"), ONE_TO_ONE, True)),
    ("a * on(branch) b", _bin("*", _vs("a"), _vs("b"), _match("one-to-one", ["branch"], True, []))),
    (
        "a * ignoring(branch) b",
        _bin("*", _vs("a"), _vs("b"), _match("one-to-one", ["branch"], False, [])),
    ),
    (
        "a / on(x) group_left(y, z) b",
        _bin("/", _vs("a"), _vs("b"), _match("many-to-one", ["x"], True, ["y", "z"])),
    ),
    (
        "a - ignoring() group_right b",
        _bin("-", _vs("a"), _vs("b"), _match("one-to-many", [], False, [])),
    ),
    ("a and b", _bin("and", _vs("a"), _vs("b"), _match("many-to-many", [], False, []))),
    ("a unless on() b", _bin("unless", _vs("a"), _vs("b"), _match("many-to-many", [], True, []))),
    ("a atan2 b", _bin("atan2", _vs("a"), _vs("b"), ONE_TO_ONE)),
    (
        "(a or b) / c",
        _bin(
            "/",
            {
                "type": "parenExpr",
                "expr": _bin("or", _vs("a"), _vs("b"), _match("many-to-many", [], False, [])),
            },
            _vs("c"),
            ONE_TO_ONE,
        ),
    ),
    ("sum(up)", _agg("sum", _vs("up"))),
    ("sum by (job, instance) (up)", _agg("sum", _vs("up"), by=["job", "instance"])),
    ("sum(up) by ()", _agg("sum", _vs("up"))),
    ("max without (job) (up)", {**_agg("max", _vs("up"), by=["job"]), "without": True}),
    ("topk(3, up)", _agg("topk", _vs("up"), _num("3"))),
    (
        'count_values("v", up)',
        _agg("count_values", _vs("up"), {"type": "stringLiteral", "val": "v"}),
    ),
    ("quantile(0.5, up)", _agg("quantile", _vs("up"), _num("0.5"))),
    # Prometheus 3 duration expressions arrive folded (upstream 3.5+ adds rangeExpr fields).
    ("up[5m+1m]", _ms(360_000, _vs("up"))),
]


@pytest.mark.parametrize(("query", "want"), CASES, ids=[q for q, _ in CASES])
def test_tree_matches_prometheus_translate_ast(query: str, want: JSON) -> None:
    assert parse_query_ast(query) == want


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("0", "0"),
        ("0.1", "0.1"),
        ("123456789.125", "123456789.125"),
        ("1e21", "1000000000000000000000"),
        ("1e-7", "0.0000001"),
        ("Inf", "+Inf"),
        ("NaN", "NaN"),
    ],
)
def test_number_literals_use_go_f_format(query: str, text: str) -> None:
    assert parse_query_ast(query) == {"type": "numberLiteral", "val": text}


@pytest.mark.parametrize(
    ("query", "error", "fragment"),
    [
        ("", ParseError, "no expression found in input"),
        ("sum(", ParseError, "unclosed left parenthesis"),
        ("up{", ParseError, "inside braces"),
        ("1 > 2", ParseError, "comparisons between scalars must use BOOL modifier"),
        ("rate(up)", ParseError, "1:6: parse error: expected type range vector"),
        ("no_such_fn(up)", ParseError, "unknown function"),
        ('up{a="b" or c="d"}', ParseError, "'or' between label matchers"),
        ("up[5m] anchored", UnsupportedFeatureError, "anchored"),
    ],
)
def test_invalid_queries_raise(query: str, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        parse_query_ast(query)
