"""Pushes of several streams (in order or not, with or without metadata) and the answers
a querier gives on them: what the disk store and the seam's fake must agree on."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from vigil.logs import BucketCounts, Entries, Lines, LogQuerier, SelectHints
from vigil.logs.head import HOUR_NS, HeadOptions
from vigil.logs.store import LogStoreOptions
from vigil.model import Labels, Matcher

APP = Labels.from_dict({"job": "app", "level": "info"})
APP_ERR = Labels.from_dict({"job": "app", "level": "error"})
DB = Labels.from_dict({"job": "db"})
STREAMS = (APP, APP_ERR, DB)
T0 = 1_700_000_000 * 10**9


def NOW() -> float:
    return (T0 + 3 * HOUR_NS) / 1e9


def store_options(target_bytes: int = 1 << 20, span_ns: int = HOUR_NS) -> LogStoreOptions:
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
    Scenario("many pushes into one open chunk, out of order", 200, 3_000, 1 << 20, HOUR_NS, True),
]


def pushes(scenario: Scenario, seed: int = 7) -> list[list[Entries]]:
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


def flat(batches: Sequence[Entries]) -> dict[Labels, tuple[list[int], list[bytes], list[Labels]]]:
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


def totals(counts: Iterable[BucketCounts]) -> dict[Labels, tuple[list[int], list[int]]]:
    """Bucket counts by series, the parts of a series added up."""
    found: dict[Labels, tuple[list[int], list[int]]] = {}
    for part in counts:
        entries, size = found.get(part.labels, ([0] * len(part.entries), [0] * len(part.bytes)))
        found[part.labels] = (
            [a + b for a, b in zip(entries, part.entries.tolist(), strict=True)],
            [a + b for a, b in zip(size, part.bytes.tolist(), strict=True)],
        )
    return {labels: counted for labels, counted in found.items() if any(counted[0])}


def answers(querier: LogQuerier, matchers: list[Matcher], lo: int, hi: int) -> tuple[object, ...]:
    stats = querier.stats(matchers)
    edges = np.unique(np.linspace(lo - 1, hi, 6).astype(np.int64))
    return (
        totals(querier.counts(matchers, edges)),
        totals(querier.counts(matchers, edges, ("level",))),
        totals(querier.counts(matchers, edges, ("trace_id", "job"))),
        flat(list(querier.select(matchers))),
        querier.series(matchers),
        querier.label_names(matchers),
        querier.label_values("level", matchers),
        (stats.streams, stats.entries, stats.bytes),
    )


def assert_batches_well_formed(querier: LogQuerier, matchers: list[Matcher]) -> None:
    forward = list(querier.select(matchers))
    backward = list(querier.select(matchers, SelectHints(backward=True)))
    for batch in forward:
        assert len(batch) and (np.diff(batch.timestamps) >= 0).all()
    by_stream: dict[Labels, list[Entries]] = {}
    for batch in backward:
        by_stream.setdefault(batch.labels, []).append(batch)
    assert [b.labels for b in forward] == sorted(b.labels for b in forward)
    assert flat(forward) == flat([b for bs in by_stream.values() for b in reversed(bs)])
