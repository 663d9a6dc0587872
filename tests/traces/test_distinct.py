"""An export the exporter sent again (its first answer lost) is stored twice; search,
trace by id and Jaeger's dependencies show each span once, in the disk store (head, blocks,
both) and in the memory store. A span id shared by two traces is two spans."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.traces.corpus import HOUR_NS, trace, trace_id
from vigil.traces import MemorySpanStore, SpanQueryable, Spans
from vigil.traces.distinct import distinct
from vigil.traces.store import TraceStore, TraceStoreOptions
from vigil.traces.traceql import search
from vigil.web.jaeger_dependencies import dependencies

T0 = 1_700_000_000 * 10**9


def _ids(batches: list[Spans]) -> list[tuple[bytes, bytes]]:
    return [(s.trace_id, s.span_id) for b in batches for s in b.rows()]


def test_distinct_keeps_the_first_copy_of_each_trace_and_span_id() -> None:
    first = Spans.of(trace(1, T0))
    other = Spans.of(trace(2, T0))
    same_span_id = Spans.of([replace(trace(1, T0)[0], trace_id=trace_id(3))])
    again = Spans.of([*trace(1, T0)[:2], *trace(2, T0)[:1]])
    got = distinct([first, other, same_span_id, again, Spans.empty()])
    assert _ids(got) == _ids([first, other, same_span_id])
    assert got[0] is first and got[1] is other  # batches without copies are kept as they are
    assert distinct([first, other]) == [first, other]


@pytest.fixture(params=["memory", "head", "blocks", "head+blocks"])
def twice(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SpanQueryable]:
    """Two traces, each appended twice; stored where the parameter says."""
    exports = [Spans.of(trace(1, T0)), Spans.of(trace(2, T0 + 10**9))]
    if request.param == "memory":
        memory = MemorySpanStore()
        for spans in exports + exports:
            memory.append(spans)
        yield memory
        return
    now = [T0 / 1e9]
    with TraceStore.open(
        tmp_path, TraceStoreOptions(retention_ns=0), clock=lambda: now[0]
    ) as store:
        for spans in exports:
            store.append(spans)
        if request.param != "head":
            now[0] += 4 * HOUR_NS / 1e9
            store.tick()  # cut into a block
        for spans in exports:
            store.append(spans)
        if request.param == "blocks":
            store.tick()
        yield store


def test_trace_by_id_holds_each_span_once(twice: SpanQueryable) -> None:
    got = twice.querier(0, 2**62).trace(trace_id(1))
    assert [s.span_id for s in got.rows()] == [s.span_id for s in trace(1, T0)]


@pytest.mark.parametrize(
    "query, matched",
    [
        ("{ }", [4, 4]),
        ('{ name = "GET /appointments/{id}" }', [1, 1]),
        ("{ } | count() = 4", [4, 4]),
        ("{ } | count() > 4", []),
    ],
)
def test_search_shows_each_span_once(twice: SpanQueryable, query: str, matched: list[int]) -> None:
    found = search(twice.querier(0, 2**62), query)
    assert [sum(s.matched for s in t.span_sets) for t in found] == matched
    for result in found:
        for span_set in result.span_sets:
            ids = [s.span_id for s in span_set.spans]
            assert len(ids) == len(set(ids))


def test_dependencies_count_a_call_once(twice: SpanQueryable) -> None:
    once = MemorySpanStore()
    once.append(Spans.of(trace(1, T0)))
    once.append(Spans.of(trace(2, T0 + 10**9)))
    assert dependencies(twice.querier(0, 2**62)) == dependencies(once.querier(0, 2**62))
    assert dependencies(twice.querier(0, 2**62))
