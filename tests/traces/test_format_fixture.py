"""Stores written by earlier versions still read: `tests/fixtures/traces/v1` is a store dir
(three 2 h blocks, nothing left in the WAL) written by the first block format (a trace
lookup of 8-byte id prefixes) from `fixture_spans()`; it must answer as the seam's fake fed
the same spans. Regenerate nothing here: the files are the old code's output, kept as they
were."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from tests.traces.corpus import HOUR_NS, corpus, span_id, trace_id
from vigil.traces import MemorySpanStore, Span, SpanQuerier, Spans
from vigil.traces.block import INDEX_FILE
from vigil.traces.store import TraceStore, TraceStoreOptions
from vigil.traces.traceql import search

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "traces" / "v1"
DAY0 = 1_699_920_000 * 10**9
CLOCK_NS = DAY0 + 7 * HOUR_NS
OPTIONS = TraceStoreOptions(retention_ns=0)
SHARED_PREFIX = trace_id(0)[:8] + bytes(8)


def fixture_spans() -> list[Span]:
    """Twelve traces every half hour, and one sharing trace 0's first 8 bytes whose spans
    fall into three blocks."""
    split = [
        Span(
            SHARED_PREFIX,
            span_id(77, k),
            f"part {k}",
            t,
            t + 10,
            parent_span_id=span_id(77, 0) if k else bytes(8),
        )
        for k, t in enumerate([DAY0 + 2 * HOUR_NS - 1, DAY0 + 2 * HOUR_NS, DAY0 + 5 * HOUR_NS])
    ]
    return [*corpus(12, DAY0, HOUR_NS // 2), *split]


QUERIES = (
    "{}",
    '{ resource.service.name = "db" }',
    "{ duration > 1ms } | count() > 1",
    '{ rootServiceName = "shop" && status = error }',
)


def _answers(querier: SpanQuerier, ids: list[bytes]) -> list[object]:
    spans = sorted(
        (s for batch in querier.select() for s in batch.rows()),
        key=lambda s: (s.trace_id, s.start_ns, s.span_id),
    )
    return [
        spans,
        [list(querier.trace(t).rows()) for t in ids],
        [list(t.rows()) for t in querier.traces(ids)],
        [search(querier, q, limit=100) for q in QUERIES],
    ]


@pytest.mark.parametrize(
    ("mint", "maxt"),
    [(0, 2**62), (DAY0 + 2 * HOUR_NS, DAY0 + 3 * HOUR_NS), (DAY0 + HOUR_NS, DAY0 + 5 * HOUR_NS)],
)
def test_a_store_written_by_the_first_block_format_reads_the_same(
    tmp_path: Path, mint: int, maxt: int
) -> None:
    fake = MemorySpanStore()
    fake.append(Spans.of(fixture_spans()))
    ids = sorted({s.trace_id for s in fixture_spans()})
    shutil.copytree(FIXTURE, tmp_path / "store")
    with TraceStore.open(tmp_path / "store", OPTIONS, clock=lambda: CLOCK_NS / 1e9) as store:
        assert len(store.blocks.blocks) == 3
        got = _answers(store.querier(mint, maxt), ids)
    assert got == _answers(fake.querier(mint, maxt), ids)


def test_compaction_turns_first_format_blocks_into_the_current_one(tmp_path: Path) -> None:
    fake = MemorySpanStore()
    fake.append(Spans.of(fixture_spans()))
    ids = sorted({s.trace_id for s in fixture_spans()})
    shutil.copytree(FIXTURE, tmp_path / "store")
    next_day = DAY0 + 26 * HOUR_NS
    with TraceStore.open(tmp_path / "store", OPTIONS, clock=lambda: next_day / 1e9) as store:
        assert len(store.tick().compacted) == 1
        index = orjson.loads((store.blocks.blocks[0].path / INDEX_FILE).read_bytes())
        got = _answers(store.querier(0, 2**62), ids)
    assert (index["lookup_format"], got) == (2, _answers(fake.querier(0, 2**62), ids))
