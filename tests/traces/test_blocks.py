"""Span blocks: cut from the head per 2 h window, compacted per day, deleted by retention;
what they hold answers as the head did, and a corrupt file fails only what reads it."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import SetAfter
from tests.traces.corpus import HOUR_NS, corpus, span_id, trace, trace_id
from vigil.traces import Span, Spans
from vigil.traces.block import (
    INDEX_FILE,
    META_FILE,
    SPANS_FILE,
    TRACES_FILE,
    SpanBlock,
    write_block,
)
from vigil.traces.block_page import encode_page
from vigil.traces.page_table import PageTable
from vigil.traces.store import DAY_NS, TraceStore, TraceStoreOptions
from vigil.tsdb import CorruptDataError

DAY0 = 1_699_920_000 * 10**9  # a day's start (UTC)
OPTIONS = TraceStoreOptions(retention_ns=0)


class Clock:
    def __init__(self, t_ns: int) -> None:
        self.t_ns = t_ns

    def __call__(self) -> float:
        return self.t_ns / 1e9


def _open(path: Path, clock: Clock, options: TraceStoreOptions = OPTIONS) -> TraceStore:
    return TraceStore.open(path, options, clock=clock)


def _everything(store: TraceStore) -> list[Span]:
    spans = [s for b in store.querier(0, 2**62).select() for s in b.rows()]
    return sorted(spans, key=lambda s: (s.trace_id, s.start_ns, s.span_id))


SPLIT = trace_id(0)[:8] + bytes(8)  # the lookup keeps 8 bytes: shared with trace 0's


def _split_trace() -> list[Span]:
    """A trace whose spans fall into three 2 h windows."""
    tid = SPLIT
    starts = [DAY0 + 2 * HOUR_NS - 1, DAY0 + 2 * HOUR_NS, DAY0 + 5 * HOUR_NS]
    return [
        Span(
            tid,
            span_id(77, k),
            f"part {k}",
            t,
            t + 10,
            parent_span_id=span_id(77, 0) if k else bytes(8),
        )
        for k, t in enumerate(starts)
    ]


def _flip(path: Path) -> None:
    """One byte of the file changed in place."""
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _fill(store: TraceStore) -> list[Span]:
    spans = [*corpus(12, DAY0, HOUR_NS // 2), *_split_trace()]
    for i in range(0, len(spans), 10):
        store.append(Spans.of(spans[i : i + 10]))
    return sorted(spans, key=lambda s: (s.trace_id, s.start_ns, s.span_id))


def test_the_head_is_cut_into_blocks_per_window_and_answers_the_same(tmp_path: Path) -> None:
    clock = Clock(DAY0 + 7 * HOUR_NS)
    with _open(tmp_path, clock) as store:
        spans = _fill(store)
        report = store.tick()
        assert len(report.written) == 3  # windows 0-2h, 2-4h and 4-6h
        assert [(b.meta.mint // (2 * HOUR_NS)) % 12 for b in store.blocks.blocks] == [0, 1, 2]
        assert _everything(store) == spans
        assert list(store.querier(0, 2**62).trace(SPLIT).rows()) == _split_trace()
        assert list(store.querier(0, 2**62).trace(trace_id(3)).rows()) == trace(
            3, DAY0 + 3 * HOUR_NS // 2
        )
        assert store.querier(DAY0, DAY0 + HOUR_NS).span_names("db") == [("SELECT t0", 3)]
    with _open(tmp_path, clock) as store:
        assert len(store.blocks.blocks) == 3
        assert _everything(store) == spans
        in_range = store.querier(DAY0 + 2 * HOUR_NS, DAY0 + 3 * HOUR_NS).trace(SPLIT)
        assert [s.name for s in in_range.rows()] == ["part 1"]


def test_a_day_of_blocks_is_compacted_into_one(tmp_path: Path) -> None:
    clock = Clock(DAY0 + 7 * HOUR_NS)
    with _open(tmp_path, clock) as store:
        spans = _fill(store)
        store.tick()
        sources = sorted(b.meta.ulid for b in store.blocks.blocks)
        clock.t_ns = DAY0 + DAY_NS + 2 * HOUR_NS
        report = store.tick()
        assert len(report.compacted) == 1
        (merged,) = store.blocks.blocks
        assert (merged.meta.level, list(merged.meta.sources)) == (2, sources)
        assert merged.meta.spans == len(spans)
        assert _everything(store) == spans
        assert list(store.querier(0, 2**62).trace(SPLIT).rows()) == _split_trace()
    with _open(tmp_path, clock) as store:
        assert _everything(store) == spans


def test_a_store_closing_stops_its_compaction_and_leaves_the_blocks_as_they_were(
    tmp_path: Path,
) -> None:
    clock = Clock(DAY0 + 7 * HOUR_NS)
    with _open(tmp_path, clock) as store:
        spans = _fill(store)
        store.tick()
        before = sorted(p.name for p in tmp_path.iterdir())
        closing = store.blocks.closing = SetAfter(2)  # after the first page is copied
        clock.t_ns = DAY0 + DAY_NS + 2 * HOUR_NS
        assert (store.tick().compacted, closing.asked) == ([], 2)
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no half-written block
    with _open(tmp_path, clock) as store:
        assert len(store.tick().compacted) == 1
        assert _everything(store) == spans


@pytest.mark.parametrize(
    ("mint", "maxt"),
    [(0, 2**62), (DAY0 + 2 * HOUR_NS, DAY0 + 2 * HOUR_NS), (DAY0 + HOUR_NS, DAY0 + 5 * HOUR_NS)],
)
def test_traces_by_id_together_answer_as_each_alone(tmp_path: Path, mint: int, maxt: int) -> None:
    with _open(tmp_path, Clock(DAY0 + 7 * HOUR_NS)) as store:
        spans = _fill(store)
        store.tick()
        store.append(Spans.of(trace(99, DAY0 + 6 * HOUR_NS)))
        querier = store.querier(mint, maxt)
        ids = [*sorted({s.trace_id for s in spans}), trace_id(99), SPLIT, bytes(16), b"short"]
        got = [list(t.rows()) for t in querier.traces(ids)]
        assert got == [list(querier.trace(t).rows()) for t in ids]
        assert sum(map(len, got)) > 0


def _zipkin_id(i: int) -> bytes:
    """A 64-bit trace id as 16 bytes: its high half zero."""
    return bytes(8) + (0x5A17 + i).to_bytes(8, "big")


@pytest.mark.parametrize(
    "ids", [(trace_id(0), SPLIT), (_zipkin_id(1), _zipkin_id(2))], ids=["prefix", "zipkin"]
)
def test_trace_ids_alike_in_one_half_read_only_their_own_pages(
    tmp_path: Path, ids: tuple[bytes, bytes]
) -> None:
    pages = [
        PageTable.read(
            encode_page(Spans.of([dataclasses.replace(s, trace_id=t) for s in trace(i, DAY0)]))
        )
        for i, t in enumerate(ids)
    ]
    block = SpanBlock.open(write_block(tmp_path, pages))
    assert [[block.pages.index(p) for p in block.trace_pages(t)] for t in ids] == [[0], [1]]


@pytest.mark.parametrize(
    ("options", "kept"),
    [
        (dataclasses.replace(OPTIONS, retention_ns=3 * HOUR_NS), [2]),
        (dataclasses.replace(OPTIONS, retention_bytes=1), []),
    ],
    ids=["time", "size"],
)
def test_retention_deletes_whole_blocks(
    tmp_path: Path, options: TraceStoreOptions, kept: list[int]
) -> None:
    clock = Clock(DAY0 + 7 * HOUR_NS)
    with _open(tmp_path, clock, options) as store:
        _fill(store)
        store.tick()
        assert [(b.meta.mint // (2 * HOUR_NS)) % 12 for b in store.blocks.blocks] == kept


@pytest.mark.parametrize(
    ("name", "damage", "logged"),
    [
        (TRACES_FILE, _flip, f"{TRACES_FILE} fails its CRC"),
        (INDEX_FILE, lambda path: path.write_bytes(b"{"), "cannot be opened"),
        (META_FILE, lambda path: path.unlink(), "meta.json cannot be read"),
    ],
)
def test_a_corrupt_page_fails_the_reads_that_need_it_and_no_others(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    name: str,
    damage: Callable[[Path], object],
    logged: str,
) -> None:
    clock = Clock(DAY0 + 7 * HOUR_NS)
    with _open(tmp_path, clock) as store:
        _fill(store)
        store.tick()
        first, second, third = store.blocks.blocks
    _flip(first.path / SPANS_FILE)
    damage(third.path / name)
    with caplog.at_level(logging.ERROR), _open(tmp_path, clock) as store:
        assert [b.path for b in store.blocks.blocks] == [first.path, second.path]
        assert third.path.name in caplog.text and logged in caplog.text
        querier = store.querier(0, 2**62)
        with pytest.raises(CorruptDataError, match=f"{first.path.name}.*{SPANS_FILE}"):
            querier.trace(trace_id(0))
        assert list(querier.trace(trace_id(5)).rows()) == trace(5, DAY0 + 5 * HOUR_NS // 2)


def test_a_day_with_a_corrupt_page_is_left_uncompacted_and_readable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(DAY0 + 7 * HOUR_NS)
    with _open(tmp_path, clock) as store:
        _fill(store)
        store.tick()
        first = store.blocks.blocks[0]
    _flip(first.path / SPANS_FILE)
    clock.t_ns = DAY0 + DAY_NS + 2 * HOUR_NS
    with caplog.at_level(logging.ERROR), _open(tmp_path, clock) as store:
        assert store.tick().compacted == []
        assert "not compacted" in caplog.text and first.path.name in caplog.text
        assert [b.meta.level for b in store.blocks.blocks] == [1, 1, 1]
        assert list(store.querier(0, 2**62).trace(trace_id(5)).rows()) == trace(
            5, DAY0 + 5 * HOUR_NS // 2
        )


def test_the_store_counts_what_it_holds(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    clock = Clock(DAY0 + 7 * HOUR_NS)
    with TraceStore.open(tmp_path, OPTIONS, clock=clock, registry=registry) as store:
        spans = _fill(store)
        store.tick()
        store.append(Spans.of(trace(99, DAY0 + 6 * HOUR_NS)))
        sample = registry.get_sample_value
        in_blocks = sum(b.meta.spans for b in store.blocks.blocks)
        assert sample("vigil_traces_appended_spans_total") == len(spans) + 4
        assert sample("vigil_traces_blocks_loaded") == 3
        assert sample("vigil_traces_blocks_spans") == in_blocks
        assert (in_blocks, sample("vigil_traces_head_spans")) == (len(spans), 4)
        assert sample("vigil_traces_blocks_bytes") == store.blocks.size_bytes() > 0
