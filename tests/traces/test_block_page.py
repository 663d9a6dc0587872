"""The span page, the one encoding of head, WAL and blocks: any row range and any trace
decodes to exactly what was encoded; bytes that do not decode say so."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.traces.corpus import corpus, trace_id
from vigil.traces import Attributes, KeyValues, Span, Spans
from vigil.traces.block_page import (
    PageColumns,
    PageFormatError,
    decode_page,
    decode_trace,
    decode_trace_ids,
    decode_where,
    encode_page,
)

T0 = 1_700_000_000 * 10**9
SPANS = sorted(corpus(6, T0, 10**6), key=lambda s: (s.trace_id, s.start_ns))
PAGE = encode_page(Spans.of(SPANS[::-1]))


@pytest.mark.parametrize(("lo", "hi"), [(0, 24), (0, 1), (3, 9), (23, 24), (5, 5)])
def test_any_row_range_decodes_to_those_rows(lo: int, hi: int) -> None:
    assert list(decode_page(PAGE, np.arange(lo, hi)).rows()) == SPANS[lo:hi]


def test_any_rows_decode_to_those_rows() -> None:
    rows = np.array([0, 2, 3, 11, 23])
    assert list(decode_page(PAGE, rows).rows()) == [SPANS[i] for i in rows.tolist()]


@pytest.mark.parametrize(
    ("keys", "rows"),
    [
        (frozenset({"http.route", "k", "nested"}), None),
        (frozenset({"tags", "absent"}), np.array([0, 5, 23])),
        (frozenset({"absent"}), None),
        (frozenset(), np.array([1, 4])),
    ],
)
def test_only_the_attributes_asked_for_decode(
    keys: frozenset[str], rows: np.ndarray | None
) -> None:
    picked = SPANS if rows is None else [SPANS[i] for i in rows.tolist()]
    want = [
        dataclasses.replace(
            s, attributes=tuple((k, v) for k, v in s.attributes if k in keys), events=(), links=()
        )
        for s in picked
    ]
    assert list(decode_page(PAGE, rows, attributes=keys).rows()) == want


@pytest.mark.parametrize("attributes", [None, frozenset(), frozenset({"k"})])
def test_a_prefilter_reads_the_columns_and_the_spans_it_keeps_decode(
    attributes: frozenset[str] | None,
) -> None:
    seen: list[PageColumns] = []

    def keep(columns: PageColumns) -> np.ndarray:
        seen.append(columns)
        names = np.array([s.startswith("SELECT") for s in columns.strings])
        return names[columns.name] & (columns.duration_ns > 250_000)

    got = decode_where(PAGE, keep, attributes)
    whole = decode_page(PAGE)
    (columns,) = seen
    assert [
        columns.start_ns.tolist(),
        columns.duration_ns.tolist(),
        columns.status_code.tolist(),
        [columns.strings[i] for i in columns.service.tolist()],
        [columns.strings[i] for i in columns.name.tolist()],
    ] == [
        whole.start_ns.tolist(),
        whole.duration_ns.tolist(),
        whole.status_code.tolist(),
        whole.service_names(),
        whole.span_names(),
    ]
    rows = np.flatnonzero(keep(columns))
    assert 0 < len(rows) < len(SPANS)
    assert list(got.rows()) == list(decode_page(PAGE, rows, attributes=attributes).rows())
    assert len(decode_where(PAGE, lambda c: np.zeros(len(c.start_ns), bool))) == 0


def test_a_trace_decodes_alone_and_ids_come_sorted() -> None:
    for i in range(6):
        assert list(decode_trace(PAGE, trace_id(i)).rows()) == [
            s for s in SPANS if s.trace_id == trace_id(i)
        ]
    assert len(decode_trace(PAGE, bytes(16))) == 0
    ids, bounds = decode_trace_ids(PAGE)
    assert [bytes(i).ljust(16, b"\0") for i in ids] == sorted({s.trace_id for s in SPANS})
    assert bounds.tolist() == [0, 4, 8, 12, 16, 20, 24]


@pytest.mark.parametrize(
    "attributes",
    [
        (),
        (("only", KeyValues()),),
        (("a", ()), ("b", (KeyValues((("x", 1.5),)),))),
        (("n", 2**63 - 1), ("f", float("-inf")), ("b", b"")),
        (("lone surrogate", "\ud800"), ("", "")),
    ],
)
def test_attribute_shapes_round_trip(attributes: Attributes) -> None:
    spans = [Span(bytes(15) + b"\1", bytes(7) + b"\1", "x", T0, T0 + 1, attributes=attributes)]
    assert list(decode_page(encode_page(Spans.of(spans))).rows()) == spans


def test_an_int_attribute_past_64_bits_is_refused() -> None:
    spans = [Span(bytes(16), bytes(8), "x", 0, 1, attributes=(("big", 2**64),))]
    with pytest.raises(ValueError, match="64 bits"):
        encode_page(Spans.of(spans))


@pytest.mark.parametrize(
    "damage",
    [
        lambda b: b[: len(b) // 2],
        lambda b: b"\x09" + b[1:],
        lambda b: b[:-3] + b"abc",
        lambda b: b"",
    ],
    ids=["truncated", "version", "tail", "empty"],
)
def test_bytes_that_do_not_decode_raise_page_format_errors(
    damage: Callable[[bytes], bytes],
) -> None:
    with pytest.raises(PageFormatError):
        decode_page(damage(PAGE))


def test_pages_decode_from_several_threads_at_once() -> None:
    """Query threads and the store's tick thread decode pages together: a zstd context
    shared between them mixed up their outputs."""
    pages = [encode_page(Spans.of(corpus(150, T0 + k * 10**12, 10**6))) for k in range(6)]
    want = [decode_trace_ids(p)[0].tobytes() for p in pages]

    def mismatches(k: int) -> int:
        page = pages[k % len(pages)]
        wanted = want[k % len(pages)]
        return sum(decode_trace_ids(page)[0].tobytes() != wanted for _ in range(60))

    with ThreadPoolExecutor(6) as pool:
        assert sum(pool.map(mismatches, range(6))) == 0
