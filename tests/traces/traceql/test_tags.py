"""Tag names per scope and typed tag values, over all spans or those a query matches."""

from __future__ import annotations

import pytest

from vigil.traces import (
    KIND_CLIENT,
    KIND_SERVER,
    STATUS_ERROR,
    MemorySpanStore,
    Resource,
    Scope,
    Span,
    SpanQuerier,
    Spans,
)
from vigil.traces.traceql import INTRINSICS, ParseError, TagValue, tag_names, tag_values

SHOP = Resource((("service.name", "shop"), ("host.name", "vm-1")))
DB = Resource((("service.name", "db"), ("db.system", "postgresql")))
JAVA = Scope("spring", "2.1", (("language", "java"),))


def _querier() -> SpanQuerier:
    spans = [
        Span(
            bytes(15) + b"\x01",
            bytes(7) + b"\x01",
            "GET /orders",
            0,
            10,
            kind=KIND_SERVER,
            resource=SHOP,
            scope=JAVA,
            attributes=(("http.status_code", 200), ("tags", ("a", "b")), ("cached", True)),
        ),
        Span(
            bytes(15) + b"\x01",
            bytes(7) + b"\x02",
            "SELECT",
            1,
            5,
            kind=KIND_CLIENT,
            parent_span_id=bytes(7) + b"\x01",
            status_code=STATUS_ERROR,
            resource=DB,
            attributes=(("http.status_code", 500), ("ratio", 0.5)),
        ),
        Span(
            bytes(15) + b"\x02",
            bytes(7) + b"\x03",
            "GET /users",
            20,
            30,
            kind=KIND_SERVER,
            resource=SHOP,
            attributes=(("http.status_code", "OK"),),
        ),
    ]
    store = MemorySpanStore()
    store.append(Spans.of(spans[:1]))
    store.append(Spans.of(spans[1:]))
    return store.querier(0, 100)


def test_tag_names_per_scope() -> None:
    assert tag_names(_querier()) == {
        "resource": ["db.system", "host.name", "service.name"],
        "span": ["cached", "http.status_code", "ratio", "tags"],
        "intrinsic": list(INTRINSICS),
        "instrumentation": ["language"],
    }


def test_tag_names_of_the_spans_a_query_matches() -> None:
    got = tag_names(_querier(), "span", '{ resource.service.name = "db" }')
    assert got == {"span": ["http.status_code", "ratio"]}


@pytest.mark.parametrize(
    ("tag", "query", "want"),
    [
        ("resource.service.name", None, [("string", "db"), ("string", "shop")]),
        (".service.name", None, [("string", "db"), ("string", "shop")]),
        ("span.http.status_code", None, [("int", "200"), ("int", "500"), ("string", "OK")]),
        ("span.http.status_code", "{ kind = server }", [("int", "200"), ("string", "OK")]),
        ("span.tags", None, [("string", "a"), ("string", "b")]),
        ("span.cached", None, [("bool", "true")]),
        ("span.ratio", None, [("float", "0.5")]),
        (
            "name",
            '{ resource.service.name = "shop" }',
            [("string", "GET /orders"), ("string", "GET /users")],
        ),
        ("span:name", "{ status = error }", [("string", "SELECT")]),
        ("status", None, [("keyword", "error"), ("keyword", "unset")]),
        (
            "kind",
            '{ rootServiceName = "shop" } | count() > 1',
            [("keyword", "client"), ("keyword", "server")],
        ),
        ("rootServiceName", None, [("string", "shop")]),
        ("instrumentation:name", None, [("string", "spring")]),
        ("instrumentation.language", None, [("string", "java")]),
        ("duration", None, []),
        ("span.missing", None, []),
    ],
)
def test_tag_values_are_typed_and_narrowed_by_the_query(
    tag: str, query: str | None, want: list[tuple[str, str]]
) -> None:
    assert tag_values(_querier(), tag, query) == [TagValue(t, v) for t, v in want]


@pytest.mark.parametrize("tag", ["foo", "span.", "1", "count()"])
def test_a_tag_that_is_no_field_is_refused(tag: str) -> None:
    with pytest.raises((ParseError, ValueError)):
        tag_values(_querier(), tag)
