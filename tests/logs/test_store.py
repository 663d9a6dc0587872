"""The disk store answers as the seam's fake does on the same pushes, before and after a
restart, and refuses what Loki 3 refuses for time."""

from __future__ import annotations

import dataclasses
import errno
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import PATIENCE_S
from tests.logs.pushes import (
    APP,
    DB,
    NOW,
    QUERIES,
    SCENARIOS,
    T0,
    Scenario,
    answers,
    assert_batches_well_formed,
    pushes,
    store_options,
)
from vigil.logs import Entries, Lines, MemoryLogStore, PushResult
from vigil.logs.head import HOUR_NS
from vigil.logs.logql import Direction, LogQLEngine, Streams
from vigil.logs.store import LogStore
from vigil.model import Matcher


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_store_answers_as_the_fake_does_before_and_after_restart(
    tmp_path: Path, scenario: Scenario
) -> None:
    fake = MemoryLogStore()
    options = store_options(scenario.target_bytes, scenario.span_ns)
    with LogStore.open(tmp_path, options, clock=NOW) as store:
        for push in pushes(scenario):
            assert store.push(push) == fake.push(push)
        live = [answers(store.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES]
        for lo, hi, m in QUERIES:
            assert_batches_well_formed(store.querier(lo, hi), m)
    want = [answers(fake.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES]
    assert live == want
    with LogStore.open(tmp_path, options, clock=NOW) as reopened:
        assert [answers(reopened.querier(lo, hi), m, lo, hi) for lo, hi, m in QUERIES] == want


def test_stats_count_chunks_in_range(tmp_path: Path) -> None:
    with LogStore.open(tmp_path, store_options(target_bytes=2), clock=NOW) as store:
        for k in range(4):
            store.push([Entries(APP, np.array([T0 + k], dtype=np.int64), Lines.of(["ab"]))])
        store.push([Entries(APP, np.array([T0 + 10], dtype=np.int64), Lines.of(["a"]))])
        querier = store.querier(T0 + 1, T0 + 10)
        assert querier.stats([]) == querier.stats([Matcher.of("job", "=", "app")])
        assert (querier.stats([]).chunks, querier.stats([]).entries) == (4, 4)


OUT_OF_ORDER = [
    ("newer, and at the window's edge", [T0, T0 + 5, T0 + 5 - HOUR_NS], [], 3),
    ("older than the window", [T0, T0 - HOUR_NS - 1], [T0 - HOUR_NS - 1], 1),
    ("the window follows the push itself", [T0, T0 + 2 * HOUR_NS, T0 + 1], [T0 + 1], 2),
]


@pytest.mark.parametrize(
    ("name", "times", "refused", "kept"), OUT_OF_ORDER, ids=[c[0] for c in OUT_OF_ORDER]
)
def test_entries_too_far_behind_are_refused_after_restart_too(
    tmp_path: Path, name: str, times: list[int], refused: list[int], kept: int
) -> None:
    first, rest = times[0], times[1:]
    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        store.push([Entries(APP, np.array([first], dtype=np.int64), Lines.of(["first"]))])
    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        result = store.push(
            [Entries(APP, np.array(rest, dtype=np.int64), Lines.of(["later"] * len(rest)))]
        )
        stored = store.querier(0, 2**62).stats([]).entries
    assert (result.accepted_lines, stored) == (kept - 1, kept)
    assert [d.reason for d in result.discarded] == ["too_far_behind"] * bool(refused)
    if refused:
        assert result.discarded[0].lines == len(refused)
        assert str(APP) in result.discarded[0].message


def test_torn_wal_tail_loses_only_the_torn_push(tmp_path: Path) -> None:
    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        for k in range(3):
            store.push([Entries(DB, np.array([T0 + k], dtype=np.int64), Lines.of([f"push {k}"]))])
    segment = max((tmp_path / "wal").iterdir())
    with segment.open("r+b") as handle:
        handle.truncate(segment.stat().st_size - 3)
    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        got = [list(e.lines) for e in store.querier(0, 2**62).select([])]
        assert got == [[b"push 0", b"push 1"]]
        assert store.push(
            [Entries(DB, np.array([T0 + 9], dtype=np.int64), Lines.of(["again"]))]
        ) == PushResult(1, 5)


REPEATS = [
    ("the same push again", [("a", 0), ("b", 0)], [("a", 0), ("b", 0)], [b"a", b"b"]),
    ("same time, another line", [("a", 0)], [("a", 0), ("c", 0)], [b"a", b"c"]),
    ("same line, another time", [("a", 0)], [("a", 1)], [b"a", b"a"]),
    ("a repeat of an older entry", [("a", 0), ("b", 1)], [("a", 0)], [b"a", b"a", b"b"]),
]


@pytest.mark.parametrize(("name", "first", "again", "stored"), REPEATS, ids=[c[0] for c in REPEATS])
def test_a_retried_push_is_stored_once_even_across_a_restart(
    tmp_path: Path,
    name: str,
    first: list[tuple[str, int]],
    again: list[tuple[str, int]],
    stored: list[bytes],
) -> None:
    def push(rows: list[tuple[str, int]]) -> Entries:
        ts = np.array([T0 + t for _, t in rows], dtype=np.int64)
        return Entries(APP, ts, Lines.of([line for line, _ in rows]))

    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        store.push([push(first)])
    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        result = store.push([push(again)])
        got = [line for e in store.querier(0, 2**62).select([]) for line in e.lines]
    assert (got, result.discarded) == (stored, ())


@pytest.mark.parametrize("partial", [0, 10], ids=["nothing-written", "partial-write"])
def test_a_full_disk_fails_one_push_whole_and_pushes_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partial: int
) -> None:
    real_write = os.write
    full = [False]

    def write(fd: int, data: bytes | memoryview) -> int:
        if full[0]:
            if partial:
                real_write(fd, bytes(data[:partial]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    new_stream = Entries(DB, np.array([T0], dtype=np.int64), Lines.of(["refused"]))
    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        store.push([Entries(APP, np.array([T0], dtype=np.int64), Lines.of(["first"]))])
        full[0] = True
        with pytest.raises(OSError) as failure:
            store.push([new_stream, Entries(APP, np.array([T0 + 1]), Lines.of(["refused"]))])
        assert failure.value.errno == errno.ENOSPC
        assert store.write_health.problem() is not None
        full[0] = False
        store.push([Entries(APP, np.array([T0 + 2], dtype=np.int64), Lines.of(["again"]))])
        live = [(e.labels, list(e.lines)) for e in store.querier(0, 2**62).select([])]
    with LogStore.open(tmp_path, store_options(), clock=NOW) as store:
        replayed = [(e.labels, list(e.lines)) for e in store.querier(0, 2**62).select([])]
    assert live == replayed == [(APP, [b"first", b"again"])]


def test_the_fsync_thread_sleeps_until_a_push_then_fsyncs_it(tmp_path: Path) -> None:
    options = dataclasses.replace(store_options(), wal_fsync_interval_s=0.01)
    with LogStore.open(tmp_path, options, clock=NOW) as store:
        synced = threading.Event()
        sync = store.wal.sync

        def observed_sync() -> None:
            sync()
            synced.set()

        store.wal.sync = observed_sync  # type: ignore[method-assign]
        store.push([Entries(APP, np.array([T0], dtype=np.int64), Lines.of(["a"]))])
        assert synced.wait(PATIENCE_S)
        assert store.wal.unsynced_bytes == 0


def _streams(value: object) -> list[tuple[dict[str, str], list[int], list[str]]]:
    assert isinstance(value, Streams)
    return [(dict(s.labels), s.timestamps.tolist(), list(s.lines)) for s in value.streams]


@pytest.mark.parametrize(
    ("query", "direction", "limit"),
    [
        ('{job=~".+"}', Direction.BACKWARD, 25),
        ('{job=~".+"}', Direction.FORWARD, 25),
        ('{job=~".+"} |= "7"', Direction.BACKWARD, 10),
        ('{job="app"}', Direction.BACKWARD, 1),
    ],
)
def test_a_limit_query_reads_only_the_chunks_it_needs_and_answers_as_the_fake(
    tmp_path: Path, query: str, direction: Direction, limit: int
) -> None:
    """Two streams of 40 chunks each (some entries at the same time in both): the store's
    answer is the fake's, read from the chunks at the wanted end of each stream only."""
    fake = MemoryLogStore()
    rows = 400
    with LogStore.open(tmp_path, store_options(target_bytes=64), clock=NOW) as store:
        for k in range(0, rows, 10):
            push = [
                Entries(
                    labels,
                    T0 + np.arange(k, k + 10, dtype=np.int64) * 10**6 // (1 + i),
                    Lines.of([f"{labels.get('job')} line {j}" for j in range(k, k + 10)]),
                )
                for i, labels in enumerate((APP, DB))
            ]
            store.push(push)
            fake.push(push)
        window = (T0, T0 + rows * 10**6)
        got = LogQLEngine(store).query(query, *window, direction=direction, limit=limit)
    want = LogQLEngine(fake).query(query, *window, direction=direction, limit=limit)
    assert _streams(got.value) == _streams(want.value)
    # The fake reads every matching line; the store the chunks that reach the limit.
    assert (want.stats.lines_processed, got.stats.lines_processed <= 2 * (limit + 20)) == (
        rows * (1 if "app" in query else 2),
        True,
    )
