"""The engine's read path: series in flat batches (merged across blocks and the head) must
hold exactly what the per-series `select` path holds, and the shortcuts taken for instant
queries must give the range path's numbers bit for bit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pytest

from vigil.model import Labels, Matcher
from vigil.promql import Engine, EngineOptions, Matrix, Vector
from vigil.tsdb import (
    MemoryStorage,
    Querier,
    SelectHints,
    SeriesBatch,
    SeriesData,
    merge_batches,
    merge_series,
)
from vigil.tsdb.db import TSDB, TSDBOptions


def _series(name: str, ts: list[int], vs: list[float]) -> SeriesData:
    return SeriesData(
        Labels.from_dict({"__name__": name}),
        np.array(ts, dtype=np.int64),
        np.array(vs, dtype=np.float64),
    )


def _as_lists(batch: SeriesBatch) -> list[tuple[Labels, list[int], list[float]]]:
    starts = batch.starts.tolist()
    return [
        (lbls, batch.timestamps[a:b].tolist(), batch.values[a:b].tolist())
        for lbls, a, b in zip(batch.labels, starts, starts[1:], strict=False)
    ]


@pytest.mark.parametrize(
    "stores",
    [
        pytest.param([], id="nothing"),
        pytest.param([[_series("a", [1, 2], [1, 2])]], id="one store"),
        pytest.param(
            [[_series("a", [1, 2], [1, 2])], [_series("a", [3, 4], [3, 4])]],
            id="blocks one after the other",
        ),
        pytest.param(
            [
                [_series("a", [1, 3, 5], [1, 3, 5]), _series("c", [1], [9])],
                [_series("a", [2, 3, 4], [20, 30, 40]), _series("b", [7], [7])],
            ],
            id="overlap: the later store wins a shared timestamp",
        ),
        pytest.param(
            [[_series("b", [5], [5])], [], [_series("a", [1], [1]), _series("b", [6], [6])]],
            id="series in some stores only",
        ),
    ],
)
def test_merged_batches_hold_what_merged_series_hold(stores: list[list[SeriesData]]) -> None:
    want = [
        (s.labels, s.timestamps.tolist(), s.values.tolist())
        for s in merge_series([iter(store) for store in stores])
    ]
    got = merge_batches([SeriesBatch.of(store) for store in stores])
    assert _as_lists(got) == want


def test_head_batches_match_head_series_across_closed_chunks(tmp_path: Path) -> None:
    """Small chunks so that most samples sit in closed (encoded, cached) chunks; series
    created in reverse label order so the batch must reorder them."""
    db = TSDB.open(tmp_path, TSDBOptions(chunk_samples=8))
    try:
        names = [f"m{i:02d}" for i in reversed(range(12))]
        labels = [Labels.from_dict({"__name__": n, "job": "j"}) for n in names]
        for k in range(50):
            appender = db.appender()
            refs = appender.refs_for(labels)
            ts = np.full(len(refs), 1000 * k, dtype=np.int64)
            appender.append_batch(refs, ts, np.arange(len(refs)) * 0.5 + k)
            appender.commit()
        matchers = [Matcher.of("job", "=", "j")]
        for mint, maxt in [(0, 49_000), (7_500, 31_000), (20_000, 20_000), (60_000, 70_000)]:
            for _ in range(2):  # the second read hits the decoded-chunk cache
                querier = db.querier(mint, maxt)
                want = [
                    (s.labels, s.timestamps.tolist(), s.values.tolist())
                    for s in querier.select(matchers)
                ]
                assert _as_lists(querier.select_batch(matchers)) == want
                querier.close()
    finally:
        db.close()


@pytest.mark.parametrize("op", ["stddev", "stdvar"])
def test_instant_variance_equals_the_range_querys_step(op: str) -> None:
    """Instant queries take a per-cell path; range queries a per-rank one: same floats."""
    storage = MemoryStorage()
    rng = np.random.default_rng(7)
    for i in range(40):
        labels = Labels.from_dict({"__name__": "x", "job": f"j{i % 3}", "i": str(i)})
        for t in range(0, 300_000, 15_000):
            storage.add(labels, t, float(rng.normal() * 10.0 ** rng.integers(-3, 12)))
    engine = Engine(storage.queryable, EngineOptions(timeout_s=None))
    query = f"{op} by (job) (x)"
    ranged = engine.range_query(query, 0, 285_000, 15_000).value
    assert isinstance(ranged, Matrix)
    for series in ranged.series:
        for t, value in zip(series.timestamps.tolist(), series.values.tolist(), strict=True):
            instant = engine.instant_query(query, t).value
            assert isinstance(instant, Vector)
            (sample,) = [s for s in instant.samples if s.labels == series.labels]
            assert sample.value == value


class _BatchOnlyQuerier:
    """A store behind the Querier seam that serves only the engine's read, `select_batch`,
    and records what it was asked."""

    def __init__(self, inner: Querier) -> None:
        self._inner = inner
        self.asked: list[list[str]] = []

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterable[SeriesData]:
        raise AssertionError("the engine reads select_batch")

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        self.asked.append(sorted(str(m) for m in matchers))
        return self._inner.select_batch(matchers, hints)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self._inner.label_names(matchers)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return self._inner.label_values(name, matchers)

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return self._inner.series(matchers)

    def close(self) -> None:
        self._inner.close()


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ('x{job="a"}', {"a": 1.0}),
        ('{__name__="x", job="a" or __name__="x", job="b"}', {"a": 1.0, "b": 2.0}),
        ('{__name__="x", job=~"a|b" or __name__="x", job="b"}', {"a": 1.0, "b": 2.0}),
    ],
)
def test_a_querier_of_another_store_gets_the_engines_batch_read(
    query: str, want: dict[str, float]
) -> None:
    storage = MemoryStorage()
    for value, job in enumerate(["a", "b", "c"], start=1):
        storage.add(Labels.from_dict({"__name__": "x", "job": job}), 0, float(value))
    opened: list[_BatchOnlyQuerier] = []

    def queryable(mint: int, maxt: int) -> Querier:
        opened.append(_BatchOnlyQuerier(storage.queryable(mint, maxt)))
        return opened[-1]

    result = Engine(queryable, EngineOptions(timeout_s=None)).instant_query(query, 0).value
    assert isinstance(result, Vector)
    assert {s.labels.get("job"): s.value for s in result.samples} == want
    assert opened and all(q.asked for q in opened)
