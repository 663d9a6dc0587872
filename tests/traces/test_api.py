"""The span seam's column type and its fake: what receivers build and queriers return."""

from __future__ import annotations

import numpy as np
import pytest

from vigil.traces import (
    KIND_CLIENT,
    KIND_SERVER,
    NO_PARENT,
    STATUS_ERROR,
    Event,
    KeyValues,
    Link,
    MemorySpanStore,
    Resource,
    Scope,
    Span,
    Spans,
    attribute,
)

SHOP = Resource((("service.name", "shop"), ("host.name", "vm-1")))
DB = Resource((("service.name", "db"),))
TRACE_A = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
TRACE_B = bytes.fromhex("000000000000000000000000000000ff")


def _spans() -> list[Span]:
    return [
        Span(
            trace_id=TRACE_A,
            span_id=bytes.fromhex("b7ad6b7169203331"),
            name="GET /appointments/{id}",
            start_ns=1_000,
            end_ns=5_000,
            kind=KIND_SERVER,
            attributes=(
                ("http.route", "/appointments/{id}"),
                ("http.status_code", 200),
                ("ratio", 0.5),
                ("cached", False),
                ("tags", ("a", "b")),
                ("nested", KeyValues((("k", b"\x00\x01"),))),
            ),
            events=(Event(2_000, "exception", (("exception.type", "OOM"),)),),
            resource=SHOP,
            scope=Scope("io.opentelemetry.spring", "2.10"),
        ),
        Span(
            trace_id=TRACE_A,
            span_id=bytes.fromhex("00000000000000f0"),
            parent_span_id=bytes.fromhex("b7ad6b7169203331"),
            name="SELECT appointments",
            start_ns=1_500,
            end_ns=4_000,
            kind=KIND_CLIENT,
            status_code=STATUS_ERROR,
            status_message="deadlock",
            links=(Link(TRACE_B, bytes(7) + b"\x01"),),
            resource=SHOP,
        ),
        Span(TRACE_B, bytes(7) + b"\x01", "query", 3_000, 3_100, resource=DB),
    ]


def test_rows_round_trip_through_the_columns() -> None:
    spans = _spans()
    column = Spans.of(spans)
    assert list(column.rows()) == spans
    assert column.service_names() == ["shop", "shop", "db"]
    assert column.duration_ns.tolist() == [4_000, 2_500, 100]
    assert column.parent_id(0) == NO_PARENT


def test_ids_view_as_big_endian_words_in_byte_order() -> None:
    column = Spans.of(_spans())
    words = column.trace_id_words()
    assert words.shape == (3, 2)
    assert words[2].tolist() == [0, 0xFF]
    assert f"{int(words[0, 0]):016x}{int(words[0, 1]):016x}" == TRACE_A.hex()
    assert column.parent_id_words().tolist() == [0, 0xB7AD6B7169203331, 0]


def test_take_and_concat_keep_every_column() -> None:
    spans = _spans()
    column = Spans.of(spans)
    assert list(column.take(np.array([2, 0])).rows()) == [spans[2], spans[0]]
    halves = [Spans.of(spans[:1]), Spans.of(spans[1:])]
    assert list(Spans.concat(halves).rows()) == spans
    assert len(Spans.empty()) == 0


def test_ids_of_the_wrong_size_are_refused() -> None:
    with pytest.raises(ValueError, match="15 bytes, want 16"):
        Spans.of([Span(bytes(15), bytes(8), "x", 0, 1)])


def test_attribute_lookup_and_default_service() -> None:
    assert attribute(_spans()[0].attributes, "http.status_code") == 200
    assert attribute((), "missing") is None
    assert Resource().service_name == "unknown_service"


def test_memory_store_answers_by_range_trace_and_names() -> None:
    store = MemorySpanStore()
    store.append(Spans.of(_spans()))
    querier = store.querier(1_000, 2_000)
    assert [s.name for s in querier.trace(TRACE_A).rows()] == [
        "GET /appointments/{id}",
        "SELECT appointments",
    ]
    assert len(querier.trace(TRACE_B)) == 0
    assert store.querier(0, 10_000).services() == ["db", "shop"]
    assert store.querier(0, 10_000).span_names("shop") == [
        ("GET /appointments/{id}", KIND_SERVER),
        ("SELECT appointments", KIND_CLIENT),
    ]
    assert sum(len(b) for b in querier.select()) == 2


def test_memory_store_readers_get_its_batches_joined_into_bigger_columns() -> None:
    store = MemorySpanStore()
    store.JOINED_SPANS = 4
    spans = _spans()
    for _ in range(3):
        store.append(Spans.of(spans))
    querier = store.querier(0, 10_000)
    assert [len(b) for b in querier.select()] == [6, 3]
    store.append(Spans.of(spans[:2]))
    batches = list(querier.select())
    assert ([len(b) for b in batches], [s for b in batches for s in b.rows()]) == (
        [6, 5],
        [*spans * 3, *spans[:2]],
    )
