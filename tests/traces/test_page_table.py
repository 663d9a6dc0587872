"""Pages merged, split and cut into blocks as columns (`PageTable`) hold, span for span, what
decoding them into `Spans` and encoding those again held: every attribute type, events,
links, status messages, trace states, resources and scopes; pages of stores written by
earlier versions read the same way."""

from __future__ import annotations

import dataclasses
import itertools
import random

import numpy as np
import pytest

from tests.traces.corpus import corpus, trace_id
from tests.traces.test_format_fixture import FIXTURE
from vigil.traces import Event, Link, Resource, Scope, Span, Spans
from vigil.traces.block import SpanBlock
from vigil.traces.block_columns import summarize
from vigil.traces.block_page import decode_page, encode_page
from vigil.traces.page_table import PageTable

T0 = 1_700_000_000 * 10**9
ODD = Span(
    trace_id(0),
    b"\x00" * 7 + b"\x01",
    "odd values",
    T0 - 7,
    T0 + 3,
    status_message="ünï",
    attributes=(("surrogate", "a\udc80b"), ("zero", -0.0), ("huge", 2**63 - 1), ("e", ())),
    events=(Event(T0 + 1, "", (("x", b""),)), Event(T0 + 2, "ev", ())),
    links=(Link(trace_id(3), bytes(8), (), ""), Link(bytes(16), b"\xff" * 8)),
    resource=Resource((("service.name", "odd"), ("arr", (1, "x")))),
    scope=Scope("other", "", (("s", 1.5),)),
    trace_state="k=v",
)


def _spans() -> list[Span]:
    found = [*corpus(9, T0, 10**6, spans=5), ODD]
    random.Random(4).shuffle(found)
    return found


def _pages(cuts: list[int]) -> list[bytes]:
    """The corpus as pages, each page's spans (and so its string table) in its own order."""
    spans = _spans()
    bounds = [0, *cuts, len(spans)]
    return [
        encode_page(Spans.of(spans[a:b][:: 1 if k % 2 else -1]))
        for k, (a, b) in enumerate(itertools.pairwise(bounds))
    ]


def _rows(page: bytes) -> list[Span]:
    return list(decode_page(page).rows())


@pytest.mark.parametrize("cuts", [[], [1], [7, 8, 30], [3, 11, 19, 27, 40]])
def test_pages_merged_as_columns_hold_what_decoding_and_encoding_them_held(
    cuts: list[int],
) -> None:
    pages = _pages(cuts)
    old = encode_page(Spans.concat([decode_page(p) for p in pages]))
    new = PageTable.concat([PageTable.read(p) for p in pages]).encode()
    assert _rows(new) == _rows(old)
    assert len(_rows(new)) == len(_spans())


@pytest.mark.parametrize(
    "rows", [[0], [45, 3, 3, 0], list(range(46))[::-1], list(range(0, 46, 4)), []]
)
def test_spans_taken_as_columns_are_those_spans(rows: list[int]) -> None:
    (page,) = _pages([])
    at = np.array(rows, dtype=np.intp)
    got = PageTable.read(page).take(at)
    want = decode_page(page).take(at)
    assert len(got) == len(rows)
    assert _rows(got.encode()) == sorted(want.rows(), key=lambda s: (s.trace_id, s.start_ns))


def test_a_table_summarizes_as_its_spans_do() -> None:
    pages = _pages([5, 20])
    table = PageTable.concat([PageTable.read(p) for p in pages])
    spans = Spans.concat([decode_page(p) for p in pages])
    got, want = table.summary(), summarize(spans)
    assert dataclasses.replace(got, trace_ids=got.trace_ids.tolist()) == dataclasses.replace(
        want, trace_ids=want.trace_ids.tolist()
    )


def test_pages_of_the_first_block_format_read_as_columns_the_same() -> None:
    pages = [
        page.load()
        for path in sorted(p for p in FIXTURE.iterdir() if p.is_dir() and p.name != "wal")
        for page in SpanBlock.open(path).pages
    ]
    assert pages
    for page in pages:
        assert _rows(PageTable.read(page).encode()) == _rows(page)
    merged = PageTable.concat([PageTable.read(p) for p in pages]).encode()
    assert _rows(merged) == _rows(encode_page(Spans.concat([decode_page(p) for p in pages])))
