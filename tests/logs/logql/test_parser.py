"""The LogQL parser's trees, canonical text and error positions, as tables."""

from __future__ import annotations

import pytest

from vigil.logs.logql import ParseError, ast, format_expr, parse
from vigil.model import Matcher

APP = (Matcher.of("job", "=", "app"),)
LOGFMT = ast.LogfmtParser()


def _rate(query: ast.LogQuery, range_ns: int = 300 * 10**9) -> ast.RangeAggregation:
    return ast.RangeAggregation("rate", ast.LogRange(query, range_ns))


TREES = [
    (
        '{job="app"} |= "a" or "b" != ip("10.0.0.0/8")',
        ast.LogQuery(
            APP,
            (
                ast.LineFilter("|=", (ast.FilterTerm("a"), ast.FilterTerm("b"))),
                ast.LineFilter("!=", (ast.FilterTerm("10.0.0.0/8", ip=True),)),
            ),
        ),
    ),
    (
        '{job="app"} | logfmt --strict host, ua="req.ua" | drop __error__, level="x"',
        ast.LogQuery(
            APP,
            (
                ast.LogfmtParser(
                    True, False, (ast.Extraction("host"), ast.Extraction("ua", "req.ua"))
                ),
                ast.Drop(
                    (
                        ast.LabelSelection("__error__"),
                        ast.LabelSelection("level", Matcher.of("level", "=", "x")),
                    )
                ),
            ),
        ),
    ),
    (
        '{job="app"} | logfmt | latency >= 250ms or size < 1KiB and status = 500',
        ast.LogQuery(
            APP,
            (
                LOGFMT,
                ast.LabelFilterStage(
                    ast.OrFilter(
                        ast.ComparisonFilter("latency", ">=", ast.UnitKind.DURATION, 0.25, "250ms"),
                        ast.AndFilter(
                            ast.ComparisonFilter("size", "<", ast.UnitKind.BYTES, 1024.0, "1KiB"),
                            ast.ComparisonFilter("status", "==", ast.UnitKind.NUMBER, 500.0, "500"),
                        ),
                    )
                ),
            ),
        ),
    ),
    (
        '{job="app"} | label_format a=b, c="{{.d}}" | line_format `{{.a}}`',
        ast.LogQuery(
            APP,
            (
                ast.LabelFormat(
                    (ast.LabelRename("a", "b", False), ast.LabelRename("c", "{{.d}}", True))
                ),
                ast.LineFormat("{{.a}}"),
            ),
        ),
    ),
    (
        'quantile_over_time(0.99, {job="app"} | unwrap duration(t) | __error__="" [1m] offset 1h) by (h)',
        ast.RangeAggregation(
            "quantile_over_time",
            ast.LogRange(
                ast.LogQuery(APP),
                60 * 10**9,
                3600 * 10**9,
                ast.Unwrap("t", "duration", (ast.MatcherFilter(Matcher.of("__error__", "=", "")),)),
            ),
            0.99,
            ast.Grouping(("h",)),
        ),
    ),
    (
        'sum by (level) (rate({job="app"}[5m])) / on (level) group_left (x) vector(1) > bool 2',
        ast.BinaryOp(
            ">",
            ast.BinaryOp(
                "/",
                ast.VectorAggregation(
                    "sum", _rate(ast.LogQuery(APP)), None, ast.Grouping(("level",))
                ),
                ast.VectorLiteral(1.0),
                matching=ast.VectorMatching(
                    on=True, labels=("level",), card=ast.Cardinality.MANY_TO_ONE, include=("x",)
                ),
            ),
            ast.NumberLiteral(2.0),
            return_bool=True,
        ),
    ),
    (
        "2 ^ 3 ^ 2",
        ast.BinaryOp(
            "^", ast.NumberLiteral(2), ast.BinaryOp("^", ast.NumberLiteral(3), ast.NumberLiteral(2))
        ),
    ),
    (
        "1 - 2 - 3",
        ast.BinaryOp(
            "-", ast.BinaryOp("-", ast.NumberLiteral(1), ast.NumberLiteral(2)), ast.NumberLiteral(3)
        ),
    ),
    (
        'count_over_time({job="app"}[5m] |= "x")',
        ast.RangeAggregation(
            "count_over_time",
            ast.LogRange(
                ast.LogQuery(APP, (ast.LineFilter("|=", (ast.FilterTerm("x"),)),)), 300 * 10**9
            ),
        ),
    ),
]


@pytest.mark.parametrize(("query", "tree"), TREES)
def test_parse_builds_the_tree(query: str, tree: ast.Expr) -> None:
    assert parse(query) == tree


CANONICAL = [
    ('{job="app"}|="a"or"b"|json|x>5', '{job="app"} |= "a" or "b" | json | x>5'),
    ('sum(rate({job=`a"b`}[90s])) by (x)', 'sum by (x) (rate({job="a\\"b"} [1m30s]))'),
    ("(1 + 2) * 3", "(1 + 2) * 3"),
    ("1 + 2 * 3", "1 + 2 * 3"),
    (
        '{job="app"} | json | a="1" and (b="2" or c="3")',
        '{job="app"} | json | a="1" and (b="2" or c="3")',
    ),
    ("vector(1)+vector(1)", "vector(1) + vector(1)"),
    (
        'topk(5, count_over_time({job="app"}[1h] offset 2d))',
        'topk(5,count_over_time({job="app"} [1h] offset 2d))',
    ),
]


@pytest.mark.parametrize(("query", "text"), CANONICAL)
def test_format_expr_prints_the_canonical_text(query: str, text: str) -> None:
    assert format_expr(parse(query)) == text


ERRORS = [
    (
        '{job="a"} | line_format "{{.a"',
        "parse error at line 1, col 25: invalid template: template: line:1: unclosed action",
    ),
    (
        '{job="a"} | label_format x="{{ nope }}"',
        'parse error at line 1, col 28: invalid template: template: line:1: function "nope" not defined',
    ),
    (
        '{job="a"} |= ip("300.1.1.1")',
        "parse error at line 1, col 17: invalid ip range '300.1.1.1': '300.1.1.1' does not appear "
        "to be an IPv4 or IPv6 network",
    ),
    ('{job="a"} | json x="a["', "parse error at line 1, col 20: invalid json expression 'a['"),
    (
        '{job="a"} | pattern "<a><b>"',
        "parse error at line 1, col 21: pattern '<a><b>' has two captures side by side",
    ),
    (
        '{job="app"} |= error',
        "parse error at line 1, col 16: syntax error: unexpected identifier 'error', expecting string",
    ),
    ("{}", "parse error at line 1, col 2: syntax error: unexpected '}', expecting identifier"),
    (
        '{job="app"}\n | json |',
        "parse error at line 2, col 10: syntax error: unexpected end of input, expecting identifier",
    ),
    (
        'sum(rate({job="app"}[5m])',
        "parse error at line 1, col 26: syntax error: unexpected end of input, expecting ')'",
    ),
    ('{job="app"} |= "x', "parse error at line 1, col 16: unterminated string"),
    (
        '{job=~"("}',
        "parse error at line 1, col 7: invalid regular expression '(' for label 'job': error parsing regexp: missing closing ): `(`",
    ),
]


@pytest.mark.parametrize(("query", "message"), ERRORS)
def test_errors_name_line_and_column(query: str, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse(query)
    assert str(caught.value) == message
