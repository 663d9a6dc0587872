"""Native histogram samples beside floats in series and batches: MemoryStorage keeps a series
that switches between the two, and the merges across stores carry each histogram with its
timestamp (the last store's sample wins a clash, as for floats)."""

from __future__ import annotations

import math

import numpy as np

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.tsdb import (
    STALE_NAN,
    MemoryStorage,
    SeriesBatch,
    SeriesData,
    is_stale_marker,
    merge_batches,
    merge_series,
)
from vigil.tsdb.series import histogram_column

H1 = FloatHistogram.of({0: 1.0})
H2 = FloatHistogram.of({0: 2.0})
LABELS = Labels.from_dict({"__name__": "m"})


def _samples(batch: SeriesBatch) -> list[tuple[int, object]]:
    hists = batch.histograms
    return [
        (int(t), hists[i] if hists is not None and hists[i] is not None else float(v))
        for i, (t, v) in enumerate(zip(batch.timestamps, batch.values, strict=True))
    ]


def test_memory_storage_keeps_a_series_switching_between_floats_and_histograms() -> None:
    storage = MemoryStorage()
    for t, value in [(3000, H2), (1000, 1.5), (2000, H1), (4000, 7.0)]:
        storage.add(LABELS, t, value)
    batch = storage.queryable(1000, 3500).select_batch([])
    assert _samples(batch) == [(1000, 1.5), (2000, H1), (3000, H2)]
    floats_only = MemoryStorage()
    floats_only.add(LABELS, 1000, 1.0)
    assert floats_only.queryable(0, 5000).select_batch([]).histograms is None


def test_a_stale_histogram_is_the_float_stale_marker() -> None:
    storage = MemoryStorage()
    storage.add(LABELS, 1000, FloatHistogram(sum=STALE_NAN))
    batch = storage.queryable(0, 5000).select_batch([])
    assert batch.histograms is None and is_stale_marker(batch.values).tolist() == [True]


def _data(ts: list[int], values: list[float | FloatHistogram]) -> SeriesData:
    hists = histogram_column(len(values))
    floats = []
    for i, v in enumerate(values):
        if isinstance(v, FloatHistogram):
            hists[i] = v
            floats.append(math.nan)
        else:
            floats.append(v)
    return SeriesData(LABELS, np.array(ts, dtype=np.int64), np.array(floats), hists)


def test_merges_carry_histograms_and_the_last_store_wins() -> None:
    older = _data([1000, 2000], [H1, 1.0])
    newer = SeriesData(LABELS, np.array([2000, 3000], dtype=np.int64), np.array([5.0, 6.0]))
    want = [(1000, H1), (2000, 5.0), (3000, 6.0)]
    merged = merge_batches([SeriesBatch.of([older]), SeriesBatch.of([newer])])
    assert _samples(merged) == want
    [series] = merge_series([[older], [newer]])
    assert _samples(SeriesBatch.of([series])) == want
    apart = merge_batches([SeriesBatch.of([newer]), SeriesBatch.of([_data([4000], [H2])])])
    assert _samples(apart) == [(2000, 5.0), (3000, 6.0), (4000, H2)]
