"""TraceQL's parser: the trees it builds (precedence, typed literals, scopes) and its errors."""

from __future__ import annotations

import pytest

from vigil.traces import KIND_SERVER, STATUS_ERROR
from vigil.traces.traceql import ParseError, ast, parse
from vigil.traces.traceql.ast import Intrinsic, Type

_DURATION = ast.IntrinsicField(Intrinsic.DURATION)
_NAME = ast.IntrinsicField(Intrinsic.NAME)
_SERVICE = ast.Attribute("resource", "service.name")


def _eq(lhs: ast.Field, rhs: ast.Field, op: str = "=") -> ast.Binary:
    return ast.Binary(op, lhs, rhs, Type.BOOL)


def _str(value: str) -> ast.Static:
    return ast.Static(Type.STRING, value)


TREES = [
    (
        '{resource.service.name="x" && duration>500ms}',
        ast.SpansetFilter(
            ast.Binary(
                "&&",
                _eq(_SERVICE, _str("x")),
                _eq(_DURATION, ast.Static(Type.DURATION, 500_000_000), ">"),
                Type.BOOL,
            )
        ),
    ),
    (
        "{ span:name = `a` || status = error && kind = server }",
        ast.SpansetFilter(
            ast.Binary(
                "||",
                _eq(_NAME, _str("a")),
                ast.Binary(
                    "&&",
                    _eq(
                        ast.IntrinsicField(Intrinsic.STATUS), ast.Static(Type.STATUS, STATUS_ERROR)
                    ),
                    _eq(ast.IntrinsicField(Intrinsic.KIND), ast.Static(Type.KIND, KIND_SERVER)),
                    Type.BOOL,
                ),
                Type.BOOL,
            )
        ),
    ),
    (
        '{ ."a b".c > 1 + 2 * 3 }',
        ast.SpansetFilter(
            _eq(
                ast.Attribute("", "a b.c"),
                ast.Binary(
                    "+",
                    ast.Static(Type.INT, 1),
                    ast.Binary("*", ast.Static(Type.INT, 2), ast.Static(Type.INT, 3), Type.INT),
                    Type.INT,
                ),
                ">",
            )
        ),
    ),
    (
        "{ trace:duration > 1.5s && rootServiceName != nil && .x = -2.5 }",
        ast.SpansetFilter(
            ast.Binary(
                "&&",
                ast.Binary(
                    "&&",
                    _eq(
                        ast.IntrinsicField(Intrinsic.TRACE_DURATION),
                        ast.Static(Type.DURATION, 1_500_000_000),
                        ">",
                    ),
                    _eq(
                        ast.IntrinsicField(Intrinsic.ROOT_SERVICE), ast.Static(Type.NIL, None), "!="
                    ),
                    Type.BOOL,
                ),
                _eq(ast.Attribute("", "x"), ast.Static(Type.FLOAT, -2.5)),
                Type.BOOL,
            )
        ),
    ),
    (
        "{ .a } && { !span.b } | count() > 2",
        ast.Pipe(
            ast.SpansetOp(
                "&&",
                ast.SpansetFilter(ast.Attribute("", "a")),
                ast.SpansetFilter(ast.Unary("!", ast.Attribute("span", "b"), Type.BOOL)),
            ),
            ast.ScalarFilter(">", ast.Aggregate("count"), ast.ScalarStatic(2.0)),
        ),
    ),
    (
        "avg(duration) > 20ms",
        ast.ScalarFilter(
            ">", ast.Aggregate("avg", _DURATION), ast.ScalarStatic(20e6, duration=True)
        ),
    ),
    (
        "{ } | by(resource.service.name) | select(span.a, instrumentation:name) | coalesce()",
        ast.Pipe(
            ast.Pipe(
                ast.Pipe(ast.SpansetFilter(), ast.GroupBy((_SERVICE,))),
                ast.Select(
                    (ast.Attribute("span", "a"), ast.IntrinsicField(Intrinsic.INSTRUMENTATION_NAME))
                ),
            ),
            ast.Coalesce(),
        ),
    ),
    (
        "({ .a = 1 } | (count() + 1) * 2 > 4) || { .b = 2 }",
        ast.SpansetOp(
            "||",
            ast.Pipe(
                ast.SpansetFilter(_eq(ast.Attribute("", "a"), ast.Static(Type.INT, 1))),
                ast.ScalarFilter(
                    ">",
                    ast.ScalarBinary(
                        "*",
                        ast.ScalarBinary("+", ast.Aggregate("count"), ast.ScalarStatic(1.0)),
                        ast.ScalarStatic(2.0),
                    ),
                    ast.ScalarStatic(4.0),
                ),
            ),
            ast.SpansetFilter(_eq(ast.Attribute("", "b"), ast.Static(Type.INT, 2))),
        ),
    ),
]


@pytest.mark.parametrize(("query", "want"), TREES, ids=[q for q, _ in TREES])
def test_parse_builds_the_tree(query: str, want: ast.Spanset) -> None:
    assert parse(query) == ast.Query(want)


def test_the_most_recent_hint_is_kept() -> None:
    assert parse("{ } with (most_recent=true)") == ast.Query(ast.SpansetFilter(), most_recent=True)


ERRORS = [
    ("{ } | rate() by (name)", "line 1, col 7: metrics queries ('rate') not supported yet"),
    ('{ event:name = "x" }', "line 1, col 3: event fields ('event:name') not supported yet"),
    (
        "{ .a = 1\n  && name = }",
        "line 2, col 13: syntax error: unexpected '}', expecting a field "
        "(.attribute, an intrinsic such as name) or a value",
    ),
    (
        "{ .a = 1 } { }",
        "line 1, col 12: syntax error: unexpected '{', expecting '|', '&&', '||' or end of input",
    ),
    ("{ name = 1 }", "line 1, col 8: operator = does not apply to string and int"),
    ('{ .a =~ "(" }', "line 1, col 9: error parsing regexp: missing closing ): `(`"),
    ("{ .a = 'x' }", 'line 1, col 8: unexpected character "\'"'),
    (
        '{ .a = "\\n" }',
        'line 1, col 9: invalid escape sequence \\n in string (only \\" and \\\\ are)',
    ),
    (
        "{ } | count () > 1",
        "line 1, col 13: syntax error: unexpected '()', expecting '()' right after 'count'",
    ),
    ("{ .a = 1 } // done\n/* open", "line 2, col 1: unterminated comment"),
]


@pytest.mark.parametrize(("query", "want"), ERRORS, ids=[q for q, _ in ERRORS])
def test_errors_name_the_position_and_what_was_expected(query: str, want: str) -> None:
    with pytest.raises(ParseError) as error:
        parse(query)
    assert str(error.value) == f"parse error at {want}"
