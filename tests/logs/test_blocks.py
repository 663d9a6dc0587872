"""Blocks: the head's old chunks move into blocks (and days of blocks into one) without a
query noticing, a crash at any step of a flush keeps every entry exactly once, retention
deletes whole blocks, and a corrupt chunk fails only the reads that need it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import SetAfter
from tests.logs.pushes import (
    APP,
    DB,
    QUERIES,
    SCENARIOS,
    T0,
    Scenario,
    answers,
    assert_batches_well_formed,
    pushes,
    store_options,
)
from vigil.logs import Entries, Lines, MemoryLogStore, SelectHints
from vigil.logs import block_list as block_list_module
from vigil.logs.block import CHUNKS_FILE
from vigil.logs.block_index import BlockIndex
from vigil.logs.chunk_values import ChunkValues
from vigil.logs.compact import DAY_NS
from vigil.logs.head import HOUR_NS
from vigil.logs.logql import LogQLEngine
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels, Matcher
from vigil.promql import Matrix
from vigil.tsdb import CorruptDataError

ALL = T0 + 10**12  # after every entry


class Clock:
    def __init__(self, t_ns: int) -> None:
        self.t_ns = t_ns

    def __call__(self) -> float:
        return self.t_ns / 1e9


def _line(t: int, text: str) -> Entries:
    return Entries(APP, np.array([t], dtype=np.int64), Lines.of([text]))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
@pytest.mark.parametrize("flush_at", [T0 + 150_000, ALL], ids=["some", "all"])
def test_answers_stay_the_same_as_chunks_move_into_blocks(
    tmp_path: Path, scenario: Scenario, flush_at: int
) -> None:
    sc = scenario
    fake = MemoryLogStore()
    # A block range of 1 ns flushes exactly what is older than the window before the clock.
    options = dataclasses.replace(
        store_options(sc.target_bytes, sc.span_ns), block_range_ns=1, retention_ns=0
    )
    clock = Clock(T0)
    with LogStore.open(tmp_path, options, clock=clock) as store:
        for push in pushes(sc):
            store.push(push)
            fake.push(push)
        clock.t_ns = flush_at + HOUR_NS
        written = len(store.tick().written)
        assert written == 1 if flush_at == ALL else written <= 1
        live = [answers(store.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES]
        for lo, hi, m in QUERIES:
            assert_batches_well_formed(store.querier(lo, hi), m)
    want = [answers(fake.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES]
    assert live == want
    with LogStore.open(tmp_path, options, clock=clock) as reopened:
        assert len(reopened.blocks.blocks) == written
        assert [answers(reopened.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES] == want


def _all_lines(store: LogStore) -> list[bytes]:
    return [line for e in store.querier(0, 2**62).select([]) for line in e.lines]


def _a_day_of_blocks(store: LogStore, clock: Clock, day_start: int) -> None:
    """Two streams' lines every 3 h of the day, each 2 h window cut into its block."""
    for hour in range(0, 20, 3):
        t = day_start + hour * HOUR_NS
        store.push([_line(t, f"hour {hour}"), Entries(DB, np.array([t]), Lines.of(["db"]))])
        clock.t_ns = t + 4 * HOUR_NS
        store.tick()


def test_a_day_of_blocks_is_compacted_into_one(tmp_path: Path) -> None:
    clock = Clock(T0)
    options = LogStoreOptions(retention_ns=0)
    day_start = T0 // DAY_NS * DAY_NS
    with LogStore.open(tmp_path, options, clock=clock) as store:
        _a_day_of_blocks(store, clock, day_start)
        assert len(store.blocks.blocks) > 2
        clock.t_ns = day_start + DAY_NS + 4 * HOUR_NS
        report = store.tick()
        assert len(report.compacted) == 1
        assert [(b.meta.level, b.meta.lines) for b in store.blocks.blocks] == [(2, 14)]
        got = _all_lines(store)
    assert got == [f"hour {h}".encode() for h in range(0, 20, 3)] + [b"db"] * 7


def test_a_store_closing_stops_its_compaction_half_way_and_leaves_the_blocks_as_they_were(
    tmp_path: Path,
) -> None:
    clock = Clock(T0)
    options = LogStoreOptions(retention_ns=0)
    day_start = T0 // DAY_NS * DAY_NS
    with LogStore.open(tmp_path, options, clock=clock) as store:
        _a_day_of_blocks(store, clock, day_start)
        before = sorted(p.name for p in tmp_path.iterdir())
        closing = store.blocks.closing = SetAfter(2)  # after the first stream's first chunk
        clock.t_ns = day_start + DAY_NS + 4 * HOUR_NS
        report = store.tick()
        assert (report.compacted, closing.asked) == ([], 2)
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # no half-written block
    with LogStore.open(tmp_path, options, clock=clock) as reopened:
        assert len(reopened.tick().compacted) == 1
        got = _all_lines(reopened)
    assert got == [f"hour {h}".encode() for h in range(0, 20, 3)] + [b"db"] * 7


def _spring_lines(n: int, seed: int) -> list[bytes]:
    rng = np.random.default_rng(seed)
    return [
        f"2026-12-07 10:00:{i % 60:02d}.{int(rng.integers(1000)):03d}  INFO 4711 --- "
        f"[nio-8080-exec-{int(rng.integers(1, 11))}] c.e.clinic.web.AppointmentController : "
        f"GET /api/appointments/{int(rng.integers(200_000))} -> 200 "
        f"({int(rng.exponential(40))} ms) user={int(rng.integers(5000))}".encode()
        for i in range(n)
    ]


def test_compaction_compresses_lines_harder_and_keeps_them_byte_exact(tmp_path: Path) -> None:
    clock = Clock(T0)
    day_start = T0 // DAY_NS * DAY_NS
    sent: list[bytes] = []
    with LogStore.open(tmp_path, LogStoreOptions(retention_ns=0), clock=clock) as store:
        for block in range(3):
            t = day_start + 2 * block * HOUR_NS
            lines = _spring_lines(2000, block)
            sent += lines
            store.push([Entries(APP, t + np.arange(len(lines), dtype=np.int64), Lines.of(lines))])
            clock.t_ns = t + 4 * HOUR_NS
            store.tick()
        before = sum((b.path / CHUNKS_FILE).stat().st_size for b in store.blocks.blocks)
        clock.t_ns = day_start + DAY_NS + 4 * HOUR_NS
        assert len(store.tick().compacted) == 1
        (block,) = store.blocks.blocks
        after = (block.path / CHUNKS_FILE).stat().st_size
        got = _all_lines(store)
    assert got == sent
    assert after < 0.97 * before


def test_compaction_joins_a_quiet_streams_small_chunks_and_reads_them_the_same(
    tmp_path: Path,
) -> None:
    clock = Clock(T0)
    day_start = T0 // DAY_NS * DAY_NS
    level = Labels.from_dict({"level": "warn"})
    sent: list[tuple[int, bytes, Labels]] = []
    with LogStore.open(tmp_path, LogStoreOptions(retention_ns=0), clock=clock) as store:
        for hour in range(0, 20, 3):
            t = day_start + hour * HOUR_NS + np.arange(3, dtype=np.int64)
            lines = [f"hour {hour} line {i}".encode() for i in range(3)]
            meta = (level, Labels(), level) if hour % 2 else None
            store.push([Entries(APP, t, Lines.of(lines), meta)])
            sent += [
                (int(ts), line, m)
                for ts, line, m in zip(t, lines, meta or [Labels()] * 3, strict=True)
            ]
            clock.t_ns = int(t[-1]) + 4 * HOUR_NS
            store.tick()
        before = sum(len(chunks) for b in store.blocks.blocks for _, chunks in b.select([]))
        clock.t_ns = day_start + DAY_NS + 4 * HOUR_NS
        assert len(store.tick().compacted) == 1
        (block,) = store.blocks.blocks
        after = sum(len(chunks) for _, chunks in block.select([]))
        got = [
            (int(t), line, m)
            for e in store.querier(0, 2**62).select([])
            for t, line, m in zip(
                e.timestamps, e.lines, e.metadata or [Labels()] * len(e), strict=True
            )
        ]
    assert (before, after, got) == (7, 1, sent)


@pytest.mark.parametrize(
    ("retention", "kept"),
    [
        ({"retention_ns": 5 * HOUR_NS}, [b"recent"]),
        ({"retention_ns": 0, "retention_bytes": 1}, [b"recent"]),
        ({"retention_ns": 0, "retention_bytes": 0}, [b"old", b"recent"]),
    ],
)
def test_retention_deletes_whole_blocks(
    tmp_path: Path, retention: dict[str, int], kept: list[bytes]
) -> None:
    clock = Clock(T0)
    options = dataclasses.replace(LogStoreOptions(), **retention)
    with LogStore.open(tmp_path, options, clock=clock) as store:
        store.push([_line(T0, "old")])
        clock.t_ns = T0 + 4 * HOUR_NS
        store.tick()
        clock.t_ns = T0 + 7 * HOUR_NS
        store.push([_line(clock.t_ns, "recent")])  # stays in the head
        clock.t_ns = T0 + 8 * HOUR_NS
        store.tick()
        assert _all_lines(store) == kept


@pytest.mark.parametrize("fails", ["write_checkpoint", "publish_block"])
def test_a_flush_that_fails_half_way_keeps_every_entry_once(
    tmp_path: Path, fails: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock(T0)
    options = LogStoreOptions(retention_ns=0)
    with LogStore.open(tmp_path, options, clock=clock) as store:
        store.push([_line(T0, "flushed"), _line(T0 + 1, "too")])
        clock.t_ns = T0 + 4 * HOUR_NS
        store.push([_line(clock.t_ns, "head")])

        def broken(*args: object) -> None:
            raise OSError(28, "No space left on device")

        if fails == "write_checkpoint":
            monkeypatch.setattr(store.wal, "write_checkpoint", broken)
        else:
            monkeypatch.setattr(block_list_module, "publish_block", broken)
        with pytest.raises(OSError):
            store.tick()
        assert _all_lines(store) == [b"flushed", b"too", b"head"]
    with LogStore.open(tmp_path, options, clock=clock) as store:
        assert _all_lines(store) == [b"flushed", b"too", b"head"]
        monkeypatch.undo()
        store.tick()
        assert (len(store.blocks.blocks), _all_lines(store)) == (1, [b"flushed", b"too", b"head"])
    with LogStore.open(tmp_path, options, clock=clock) as store:
        assert _all_lines(store) == [b"flushed", b"too", b"head"]


def test_a_corrupt_chunk_fails_the_reads_that_need_it_and_names_it(tmp_path: Path) -> None:
    clock = Clock(T0)
    options = LogStoreOptions(retention_ns=0)
    with LogStore.open(tmp_path, options, clock=clock) as store:
        store.push([_line(T0, "app line"), Entries(DB, np.array([T0]), Lines.of(["db line"]))])
        clock.t_ns = T0 + 4 * HOUR_NS
        store.tick()
        (block,) = store.blocks.blocks
    chunks = block.path / CHUNKS_FILE
    data = bytearray(chunks.read_bytes())
    data[-3] ^= 0xFF  # inside the last stream's chunk: {job="db"} sorts after {job="app"}
    chunks.write_bytes(bytes(data))
    with LogStore.open(tmp_path, options, clock=clock) as store:
        querier = store.querier(0, 2**62)
        with pytest.raises(CorruptDataError) as failure:
            list(querier.select([Matcher.of("job", "=", "db")]))
        assert block.path.name in str(failure.value)
        assert str(chunks) in str(failure.value)
        app = [list(e.lines) for e in querier.select([Matcher.of("job", "=", "app")])]
        assert app == [[b"app line"]]
        assert querier.series([]) == [APP, DB]


@pytest.mark.parametrize(
    ("needles", "batches_read"),
    [((), "all"), ((b"push 7 ",), "some"), ((b"app", b"line 3"), "some"), ((b"nowhere",), "none")],
)
@pytest.mark.parametrize("flushed", [False, True], ids=["head", "blocks"])
def test_needles_leave_out_chunks_without_changing_what_a_filter_keeps(
    tmp_path: Path, needles: tuple[bytes, ...], batches_read: str, flushed: bool
) -> None:
    scenario = SCENARIOS[1]  # chunks cut by size: many per stream
    clock = Clock(T0)
    options = dataclasses.replace(store_options(scenario.target_bytes), retention_ns=0)
    with LogStore.open(tmp_path, options, clock=clock) as store:
        for push in pushes(scenario):
            store.push(push)
        if flushed:
            clock.t_ns = T0 + 4 * HOUR_NS
            store.tick()
        querier = store.querier(0, 2**62)
        every = list(querier.select([]))
        hinted = list(querier.select([], SelectHints(needles=needles)))

    def kept(batches: list[Entries]) -> list[bytes]:
        return [line for e in batches for line in e.lines if all(n in line for n in needles)]

    assert kept(hinted) == kept(every)
    read = sum(len(e) for e in hinted)
    total = sum(len(e) for e in every)
    assert {"all": read == total, "some": 0 < read < total, "none": read == 0}[batches_read]


def test_block_index_keeps_streams_chunks_values_and_postings() -> None:
    web = Labels.from_dict({"job": "app", "level": "info"})
    counted = ChunkValues(
        frozenset({"level", "trace_id"}),
        (Labels.from_dict({"level": "warn"}), Labels.from_dict({"level": ""}), Labels()),
        (3, 1, 2),
        (30, 12, 0),
    )
    values = [None, counted, ChunkValues(frozenset({"level"}), (Labels(),), (4,), (9,))]
    index = BlockIndex.build(
        [DB, web], [(k, k + 1, k + 2, 4, 5, 6, 7, 8, 0, -1) for k in (0, 1, 1)], values
    )
    decoded, postings = BlockIndex.decode(index.encode())
    assert decoded.streams == [DB, web]
    assert decoded.maxt.tolist() == [2, 3, 3]
    starts = decoded.value_starts().tolist()
    assert [decoded.chunk_values(i, starts[i]) for i in range(3)] == values
    assert [(n, v, refs.tolist()) for n, v, refs in postings] == [
        ("job", "app", [1]),
        ("job", "db", [0]),
        ("level", "info", [1]),
    ]
    broken = bytearray(index.encode())
    broken[-1] ^= 0xFF
    with pytest.raises(ValueError, match="checksum"):
        BlockIndex.decode(bytes(broken))


def test_head_and_block_gauges_follow_a_flush(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    clock = Clock(T0)
    with LogStore.open(tmp_path, LogStoreOptions(retention_ns=0), clock, registry) as store:
        store.push([_line(T0, "a"), Entries(DB, np.array([T0]), Lines.of(["b"]))])

        def gauges() -> list[float | None]:
            names = ["head_streams", "head_chunks", "blocks_loaded", "blocks_bytes"]
            return [registry.get_sample_value(f"vigil_logs_{name}") for name in names]

        before = gauges()
        clock.t_ns = T0 + 4 * HOUR_NS
        store.tick()
        after = gauges()
        size = store.blocks.size_bytes()
    assert (before, after) == ([2, 2, 0, 0], [0, 0, 1, size])
    assert size > 0


def _matrix(value: object) -> dict[Labels, list[tuple[int, float]]]:
    assert isinstance(value, Matrix)
    return {
        s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
        for s in value.series
    }


COUNTING = [
    'sum by (job) (count_over_time({job=~".+"}[20us]))',
    'count_over_time({job="app"}[50us])',
    'rate({job=~".+"}[1ms])',
]


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_count_queries_over_blocks_and_head_answer_as_the_fake_does(
    tmp_path: Path, scenario: Scenario
) -> None:
    sc = scenario
    fake = MemoryLogStore()
    options = dataclasses.replace(
        store_options(sc.target_bytes, sc.span_ns), block_range_ns=1, retention_ns=0
    )
    clock = Clock(T0)
    with LogStore.open(tmp_path, options, clock=clock) as store:
        for push in pushes(sc):
            store.push(push)
            fake.push(push)
        clock.t_ns = T0 + 150_000 + HOUR_NS
        store.tick()
        got = [
            _matrix(LogQLEngine(store).query(q, T0, T0 + 300_000, 10_000).value) for q in COUNTING
        ]
    want = [_matrix(LogQLEngine(fake).query(q, T0, T0 + 300_000, 10_000).value) for q in COUNTING]
    assert got == want
