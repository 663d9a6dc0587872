"""TraceQL's structural operators over a known span tree, as Tempo's documentation describes
them: `{A} op {B}` keeps B spans (and with `&`, the related A spans too) per trace; `!` keeps
the B spans the plain operator would not, when A matched something in the trace. They bind
tighter than `&&`/`||` and chain left to right; a span's ancestry runs through spans neither
side matched, and a span whose parent was never stored has no ancestors."""

from __future__ import annotations

import pytest

from vigil.traces import STATUS_ERROR, MemorySpanStore, Resource, Span, Spans
from vigil.traces.traceql import ast, parse, search

T0 = 1_700_000_000 * 10**9
ONE, TWO = b"\x01" * 16, b"\x02" * 16


def _span(trace: bytes, n: int, parent: int, name: str, service: str, error: bool = False) -> Span:
    return Span(
        trace,
        bytes([n]) * 8,
        name,
        T0 + n * 1000,
        T0 + n * 1000 + 500,
        parent_span_id=bytes([parent]) * 8 if parent else bytes(8),
        status_code=STATUS_ERROR if error else 0,
        resource=Resource((("service.name", service),)),
    )


# ONE: GET / ─┬─ auth ── SELECT users (error)
#             └─ pay ─┬─ SELECT cards
#                     └─ POST bank (error)
# TWO: GET /health ── SELECT health (error);  late (its parent never stored)
TREE = [
    _span(ONE, 1, 0, "GET /", "shop"),
    _span(ONE, 2, 1, "auth", "auth"),
    _span(ONE, 3, 2, "SELECT users", "db", error=True),
    _span(ONE, 4, 1, "pay", "pay"),
    _span(ONE, 5, 4, "SELECT cards", "db"),
    _span(ONE, 6, 4, "POST bank", "pay", error=True),
    _span(TWO, 7, 0, "GET /health", "shop"),
    _span(TWO, 8, 7, "SELECT health", "db", error=True),
    _span(TWO, 9, 99, "late", "pay"),
]

CASES = [
    ('{ name = "GET /" } > { name =~ "SELECT.*" }', {}),
    ('{ name = "GET /" } >> { name =~ "SELECT.*" }', {ONE: ["SELECT cards", "SELECT users"]}),
    ('{ name = "pay" } > { }', {ONE: ["POST bank", "SELECT cards"]}),
    (
        '{ name =~ "SELECT.*" } < { }',
        {ONE: ["auth", "pay"], TWO: ["GET /health"]},
    ),
    ("{ status = error } << { }", {ONE: ["GET /", "auth", "pay"], TWO: ["GET /health"]}),
    ('{ name = "SELECT cards" } ~ { }', {ONE: ["POST bank"]}),
    ("{ } ~ { }", {ONE: ["POST bank", "SELECT cards", "auth", "pay"]}),
    ('{ name = "auth" } !>> { name =~ "SELECT.*" }', {ONE: ["SELECT cards"]}),
    ('{ name = "GET /" } !> { }', {ONE: ["GET /", "POST bank", "SELECT cards", "SELECT users"]}),
    (
        '{ name = "SELECT users" } !<< { }',
        {ONE: ["POST bank", "SELECT cards", "SELECT users", "pay"]},
    ),
    (
        '{ name = "pay" } !< { }',
        {ONE: ["POST bank", "SELECT cards", "SELECT users", "auth", "pay"]},
    ),
    (
        '{ name = "SELECT cards" } !~ { }',
        {ONE: ["GET /", "SELECT cards", "SELECT users", "auth", "pay"]},
    ),
    ('{ name = "pay" } &> { status = error }', {ONE: ["POST bank", "pay"]}),
    ('{ name = "pay" } &>> { name =~ "SELECT.*" }', {ONE: ["SELECT cards", "pay"]}),
    ('{ name = "SELECT cards" } &< { }', {ONE: ["SELECT cards", "pay"]}),
    (
        '{ status = error } &<< { resource.service.name = "shop" }',
        {ONE: ["GET /", "POST bank", "SELECT users"], TWO: ["GET /health", "SELECT health"]},
    ),
    ('{ name = "SELECT cards" } &~ { }', {ONE: ["POST bank", "SELECT cards"]}),
    ('{ name = "GET /" } >> { name = "pay" } > { status = error }', {ONE: ["POST bank"]}),
    (
        '{ name = "GET /" } >> { status = error } && { name = "auth" }',
        {ONE: ["POST bank", "SELECT users", "auth"]},
    ),
    ('{ } >> { name =~ "SELECT.*" } | count() > 1', {ONE: ["SELECT cards", "SELECT users"]}),
    ('{ name = "late" } << { }', {}),
    ('{ } > { name = "late" }', {}),
    ('{ resource.service.name = "db" } | { } < { }', {}),
    (
        '{ name = "GET /health" } >> ({ name = "late" } || { status = error })',
        {TWO: ["SELECT health"]},
    ),
]


@pytest.mark.parametrize(("query", "want"), CASES, ids=[q for q, _ in CASES])
def test_structural_operators(query: str, want: dict[bytes, list[str]]) -> None:
    store = MemorySpanStore()
    store.append(Spans.of(TREE))
    found = search(store.querier(0, 2**62), query, limit=10, spss=100)
    got = {
        result.trace_id: sorted(span.name for s in result.span_sets for span in s.spans)
        for result in found
    }
    assert got == want


def test_structural_operators_bind_tighter_than_and_and_chain_left_to_right() -> None:
    a, b, c = (parse(f"{{ .{x} = 1 }}").root for x in "abc")
    assert parse("{ .a = 1 } >> { .b = 1 } && { .c = 1 }").root == ast.SpansetOp(
        "&&", ast.SpansetOp(">>", a, b), c
    )
    assert parse("{ .a = 1 } > { .b = 1 } !~ { .c = 1 }").root == ast.SpansetOp(
        "!~", ast.SpansetOp(">", a, b), c
    )
