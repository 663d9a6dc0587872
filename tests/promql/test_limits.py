"""Query text bounds: what would overflow the parser's stack, hold the GIL for seconds or
recurse past Python's limit is refused as a parse error; trees up to the bounds evaluate."""

from __future__ import annotations

import pytest

from vigil.promql import Engine, ParseError, Scalar, Vector
from vigil.promql.ast_json import parse_query_ast
from vigil.promql.limits import MAX_DEPTH, MAX_OPERATORS, MAX_QUERY_LENGTH, check_query_size
from vigil.promql.parser import prettify
from vigil.promql.testing import MemoryStorage


def _nested(opening: str, inner: str, closing: str, times: int) -> str:
    return opening * times + inner + closing * times


def _groups(groups: int, terms: int) -> str:
    """`(1+…+1) * (1+…+1) * …`: shallow, but `groups * terms` operators."""
    return " * ".join(["(" + "+".join(["1"] * terms) + ")"] * groups)


REFUSED = [
    ("10,000 nested parentheses", _nested("(", "1", ")", 10_000), "nested more than"),
    ("4,000-term sum", "+".join(["1"] * 4_000), "nested more than"),
    ("nested functions", _nested("abs(", "vector(1)", ")", MAX_DEPTH + 1), "nested more than"),
    ("chained negations", "-" * (MAX_DEPTH + 1) + "1", "nested more than"),
    (
        "deep duration expression",
        "vector(1)[" + _nested("(", "5m", ")", MAX_DEPTH + 1) + ":]",
        "nested more than",
    ),
    ("many shallow operators", _groups(25, 100), "operators"),
    (
        "too long",
        'vector(1) + label_replace(vector(1), "a", "' + "x" * MAX_QUERY_LENGTH + '", "", "")',
        "characters long",
    ),
]


@pytest.mark.parametrize(("name", "query", "message"), REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_before_parsing(name: str, query: str, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        check_query_size(query)
    engine = Engine(MemoryStorage().queryable)
    for run in (
        lambda: engine.instant_query(query, 0),
        lambda: engine.range_query(query, 0, 60_000, 15_000),
        lambda: prettify(query),
        lambda: parse_query_ast(query),
    ):
        with pytest.raises(ParseError, match=message):
            run()


ALLOWED = [
    ("parentheses at the bound", _nested("(", "1", ")", MAX_DEPTH), 1.0),
    ("sum at the bound", "+".join(["vector(1)"] * MAX_DEPTH), float(MAX_DEPTH)),
    ("functions at the bound", _nested("abs(", "vector(1)", ")", MAX_DEPTH - 1), 1.0),
    ("negations at the bound", _nested("-(", "vector(1)", ")", MAX_DEPTH // 2 - 1), -1.0),
    ("operators at the bound", _groups(MAX_OPERATORS // 101, 100), 100.0**19),
    ("brackets inside strings", 'count(absent(x{a="' + "(" * 10_000 + '"}))', 1.0),
    ("brackets inside a comment", "vector(1) # " + "(" * 10_000, 1.0),
    ("or-matchers", "vector(1) unless up{" + " or ".join(["a='b'"] * 1_000) + "}", 1.0),
]


@pytest.mark.parametrize(("name", "query", "want"), ALLOWED, ids=[c[0] for c in ALLOWED])
def test_trees_up_to_the_bounds_evaluate(name: str, query: str, want: float) -> None:
    """Evaluation walks the tree with its own stack: no RecursionError at the bounds."""
    check_query_size(query)
    result = Engine(MemoryStorage().queryable).instant_query(query, 0).value
    if isinstance(result, Scalar):
        assert result.value == want
    else:
        assert isinstance(result, Vector)
        assert [s.value for s in result.samples] == [want]
    prettify(query)


def test_unclosed_strings_are_masked_in_one_pass() -> None:
    """Each escaped quote once restarted a scan to the end: 8 KB took 9 s, 20 KB a minute."""
    with pytest.raises(ParseError, match="unterminated quoted string"):
        Engine(MemoryStorage().queryable).instant_query('"' + '\\"' * 10_000, 0)
