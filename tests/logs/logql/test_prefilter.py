"""The literal prefilter never changes a result: line filters scanning whole blobs (needles
first, RE2 on candidates, one joined scan) keep exactly the lines plain RE2 keeps one by one,
and every line a regex matches contains the needle handed to the store."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest
import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.logs import Entries, Lines, LogQuerier, MemoryLogStore, SelectHints
from vigil.logs.logql import LogQLEngine, Streams, ast, parse
from vigil.logs.logql._linefilter import LineFilterScan
from vigil.logs.logql.prefilter import query_needles, regex_needle
from vigil.model import Labels, Matcher

ALPHABET = "abcAB .:-/\n0é"
ATOMS = [
    "a",
    "b",
    "ab",
    "A",
    "é",
    ".",
    r"\d",
    "[ab]",
    "[^a]",
    r"\.",
    "(a|b)",
    "(?i)a",
    "^",
    "$",
    " ",
    ":",
    r"\w",
    "(ab)",
]
SUFFIXES = ["", "", "", "*", "+", "?", "{2}", "*?"]


@st.composite
def regexes(draw: st.DrawFn) -> str:
    parts = [
        draw(st.sampled_from(ATOMS)) + draw(st.sampled_from(SUFFIXES))
        for _ in range(draw(st.integers(1, 5)))
    ]
    pattern = "".join(parts)
    if draw(st.booleans()) and draw(st.booleans()):
        pattern += "|" + draw(st.sampled_from(ATOMS))
    return pattern


lines_strategy = st.one_of(
    st.lists(st.text(alphabet=ALPHABET.replace("\n", ""), max_size=12), max_size=30),
    st.lists(st.text(alphabet=ALPHABET, max_size=12), max_size=30),
)


def _plain(pattern: str, lines: list[str]) -> list[bool]:
    options = re2.Options()
    options.log_errors = False
    program = re2.compile(pattern, options)
    return [program.search(line) is not None for line in lines]


@settings(max_examples=200, deadline=None)
@given(regexes(), lines_strategy, st.booleans())
def test_regex_filter_keeps_what_plain_re2_keeps_line_by_line(
    pattern: str, lines: list[str], negated: bool
) -> None:
    op = "!~" if negated else "|~"
    scan = LineFilterScan(ast.LineFilter(op, (ast.FilterTerm(pattern),)))
    want = _plain(pattern, lines)
    assert scan.keep(Lines.of(lines)).tolist() == ([not w for w in want] if negated else want)


@settings(max_examples=200, deadline=None)
@given(regexes(), lines_strategy)
def test_every_matching_line_contains_the_needle(pattern: str, lines: list[str]) -> None:
    needle = regex_needle(pattern)
    matched = [line for line, hit in zip(lines, _plain(pattern, lines), strict=True) if hit]
    assert needle is None or all(needle in line.encode() for line in matched)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=3), lines_strategy)
def test_literal_filter_keeps_the_lines_containing_it(needle: str, lines: list[str]) -> None:
    scan = LineFilterScan(ast.LineFilter("|=", (ast.FilterTerm(needle),)))
    assert scan.keep(Lines.of(lines)).tolist() == [needle in line for line in lines]


class _NeedleSkippingQuerier:
    """A store that uses the hints as a disk store may: drops batches lacking a needle."""

    def __init__(self, inner: LogQuerier) -> None:
        self.inner = inner
        self.hints: list[SelectHints] = []

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[Entries]:
        assert hints is not None
        self.hints.append(hints)
        for entries in self.inner.select(matchers, hints):
            if all(needle in entries.lines.data for needle in hints.needles):
                yield entries

    def close(self) -> None:
        self.inner.close()


class _Store:
    def __init__(self, inner: MemoryLogStore) -> None:
        self.inner = inner
        self.queriers: list[_NeedleSkippingQuerier] = []

    def querier(self, mint_ns: int, maxt_ns: int) -> LogQuerier:
        querier = _NeedleSkippingQuerier(self.inner.querier(mint_ns, maxt_ns))
        self.queriers.append(querier)
        return querier  # type: ignore[return-value]


NEEDLES = [
    ('{job="a"} |= "abc" |~ "GET /x\\\\d+" != "zzz"', (b"abc", b"GET /x")),
    ('{job="a"} |= "a" or "b"', ()),
    ('{job="a"} |~ "(?i)abc"', ()),
    ('{job="a"} | json | line_format "x" |= "y"', ()),
    ('{job="a"} |= "k" | logfmt |= "v"', (b"k", b"v")),
]


@pytest.mark.parametrize(("query", "needles"), NEEDLES)
def test_needles_are_the_literals_every_kept_line_holds(
    query: str, needles: tuple[bytes, ...]
) -> None:
    expr = parse(query)
    assert isinstance(expr, ast.LogQuery)
    assert query_needles(expr) == needles


@settings(max_examples=60, deadline=None)
@given(regexes(), st.lists(lines_strategy, min_size=1, max_size=4))
def test_a_store_skipping_batches_by_needle_answers_the_same(
    pattern: str, batches: list[list[str]]
) -> None:
    memory = MemoryLogStore()
    for i, lines in enumerate(batches):
        labels = Labels.from_dict({"job": "a", "part": str(i)})
        if lines:
            memory.push([Entries(labels, np.arange(len(lines), dtype=np.int64), Lines.of(lines))])
    query = '{job="a"} |~ ' + "`" + pattern + "`"
    skipping = _Store(memory)
    got = LogQLEngine(skipping).query(query, 0, 100, limit=1000).value
    want = LogQLEngine(memory).query(query, 0, 100, limit=1000).value
    assert isinstance(got, Streams) and isinstance(want, Streams)
    assert _flat(got) == _flat(want)


def _flat(streams: Streams) -> list[tuple[Labels, list[int], tuple[str, ...]]]:
    return [(s.labels, s.timestamps.tolist(), s.lines) for s in streams.streams]


@settings(max_examples=30, deadline=None)
@given(
    st.text(alphabet="ab\n", min_size=1, max_size=3),
    st.lists(st.text(alphabet="abc\n", max_size=8), min_size=300, max_size=600),
)
def test_literal_filter_on_many_lines_with_dense_hits(needle: str, lines: list[str]) -> None:
    scan = LineFilterScan(ast.LineFilter("|=", (ast.FilterTerm(needle),)))
    assert scan.keep(Lines.of(lines)).tolist() == [needle in line for line in lines]


@settings(max_examples=30, deadline=None)
@given(regexes(), st.lists(st.text(alphabet="ab :.", max_size=8), min_size=300, max_size=600))
def test_regex_filter_on_many_lines_without_newlines(pattern: str, lines: list[str]) -> None:
    scan = LineFilterScan(ast.LineFilter("|~", (ast.FilterTerm(pattern),)))
    assert scan.keep(Lines.of(lines)).tolist() == _plain(pattern, lines)
