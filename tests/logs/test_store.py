"""The disk store answers as the seam's fake does on the same pushes, before and after a
restart, and refuses what Loki 3 refuses for time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vigil.logs import Entries, Lines, LogQuerier, MemoryLogStore, PushResult, SelectHints
from vigil.logs.head import HOUR_NS, HeadOptions
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels, Matcher

APP = Labels.from_dict({"job": "app", "level": "info"})
APP_ERR = Labels.from_dict({"job": "app", "level": "error"})
DB = Labels.from_dict({"job": "db"})
STREAMS = (APP, APP_ERR, DB)
T0 = 1_700_000_000 * 10**9


def NOW() -> float:
    return (T0 + 3 * HOUR_NS) / 1e9


def _options(target_bytes: int = 1 << 20, span_ns: int = HOUR_NS) -> LogStoreOptions:
    return LogStoreOptions(
        head=HeadOptions(chunk_target_bytes=target_bytes, chunk_max_span_ns=span_ns),
        wal_segment_size=64 * 1024,
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    pushes: int
    jitter_ns: int  # how far back an entry may be from its push's newest (out of order)
    target_bytes: int
    span_ns: int
    with_metadata: bool


SCENARIOS = [
    Scenario("in order, one chunk per stream", 20, 0, 1 << 20, HOUR_NS, False),
    Scenario("in order, chunks cut by size", 60, 0, 300, HOUR_NS, False),
    Scenario("in order, chunks cut by time", 60, 0, 1 << 20, 40_000, True),
    Scenario("out of order, overlapping chunks", 80, 30_000, 250, 20_000, True),
]


def _pushes(scenario: Scenario, seed: int = 7) -> list[list[Entries]]:
    rng = np.random.default_rng(seed)
    pushes: list[list[Entries]] = []
    now = T0
    for k in range(scenario.pushes):
        batch = []
        for labels in STREAMS:
            if rng.random() < 0.3:
                continue
            n = int(rng.integers(1, 6))
            ts = (
                now
                + np.sort(rng.integers(0, 5_000, n))
                - rng.integers(0, scenario.jitter_ns + 1, n)
            )
            lines = [
                f"{labels.get('job')} push {k} line {i} " + "x" * int(rng.integers(0, 40))
                for i in range(n)
            ]
            meta = None
            if scenario.with_metadata:
                meta = tuple(
                    Labels.from_dict({"trace_id": f"t{k}-{i}"}) if rng.random() < 0.4 else Labels()
                    for i in range(n)
                )
            batch.append(Entries(labels, ts.astype(np.int64), Lines.of(lines), meta))
        pushes.append(batch)
        now += 5_000
    return pushes


def _flat(batches: Sequence[Entries]) -> dict[Labels, tuple[list[int], list[bytes], list[Labels]]]:
    """Each stream's entries, batches joined, metadata spelled out per line."""
    found: dict[Labels, tuple[list[int], list[bytes], list[Labels]]] = {}
    for batch in batches:
        ts, lines, meta = found.setdefault(batch.labels, ([], [], []))
        ts.extend(batch.timestamps.tolist())
        lines.extend(batch.lines)
        meta.extend(batch.metadata or (Labels(),) * len(batch))
    return found


QUERIES = [
    (T0 - HOUR_NS, T0 + HOUR_NS, [Matcher.of("job", "=~", ".+")]),
    (T0 + 20_000, T0 + 150_000, [Matcher.of("job", "=", "app")]),
    (T0 + 60_001, T0 + 60_001, [Matcher.of("level", "!=", "error")]),
    (T0 + 100_000, T0 + 220_000, [Matcher.of("job", "=", "db")]),
    (T0 + 10**12, T0 + 2 * 10**12, [Matcher.of("job", "=~", ".+")]),
]


def _answers(querier: LogQuerier, matchers: list[Matcher]) -> tuple[object, ...]:
    stats = querier.stats(matchers)
    return (
        _flat(list(querier.select(matchers))),
        querier.series(matchers),
        querier.label_names(matchers),
        querier.label_values("level", matchers),
        (stats.streams, stats.entries, stats.bytes),
    )


def _assert_batches_well_formed(querier: LogQuerier, matchers: list[Matcher]) -> None:
    forward = list(querier.select(matchers))
    backward = list(querier.select(matchers, SelectHints(backward=True)))
    for batch in forward:
        assert len(batch) and (np.diff(batch.timestamps) >= 0).all()
    by_stream: dict[Labels, list[Entries]] = {}
    for batch in backward:
        by_stream.setdefault(batch.labels, []).append(batch)
    assert [b.labels for b in forward] == sorted(b.labels for b in forward)
    assert _flat(forward) == _flat([b for bs in by_stream.values() for b in reversed(bs)])


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_store_answers_as_the_fake_does_before_and_after_restart(
    tmp_path: Path, scenario: Scenario
) -> None:
    fake = MemoryLogStore()
    options = _options(scenario.target_bytes, scenario.span_ns)
    with LogStore.open(tmp_path, options, clock=NOW) as store:
        for push in _pushes(scenario):
            assert store.push(push) == fake.push(push)
        live = [_answers(store.querier(lo, hi), m) for lo, hi, m in QUERIES]
        for lo, hi, m in QUERIES:
            _assert_batches_well_formed(store.querier(lo, hi), m)
    want = [_answers(fake.querier(lo, hi), m) for lo, hi, m in QUERIES]
    assert live == want
    with LogStore.open(tmp_path, options, clock=NOW) as reopened:
        assert [_answers(reopened.querier(lo, hi), m) for lo, hi, m in QUERIES] == want


def test_stats_count_chunks_in_range(tmp_path: Path) -> None:
    with LogStore.open(tmp_path, _options(target_bytes=2), clock=NOW) as store:
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
    with LogStore.open(tmp_path, _options(), clock=NOW) as store:
        store.push([Entries(APP, np.array([first], dtype=np.int64), Lines.of(["first"]))])
    with LogStore.open(tmp_path, _options(), clock=NOW) as store:
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
    with LogStore.open(tmp_path, _options(), clock=NOW) as store:
        for k in range(3):
            store.push([Entries(DB, np.array([T0 + k], dtype=np.int64), Lines.of([f"push {k}"]))])
    segment = max((tmp_path / "wal").iterdir())
    with segment.open("r+b") as handle:
        handle.truncate(segment.stat().st_size - 3)
    with LogStore.open(tmp_path, _options(), clock=NOW) as store:
        got = [list(e.lines) for e in store.querier(0, 2**62).select([])]
        assert got == [[b"push 0", b"push 1"]]
        assert store.push(
            [Entries(DB, np.array([T0 + 9], dtype=np.int64), Lines.of(["again"]))]
        ) == PushResult(1, 5)
