"""Series as values: one series (`SeriesData`), many in flat arrays (`SeriesBatch`), and
the merges that join what several stores (blocks, the head, remote reads) return.

Native histogram samples ride beside the float columns: `histograms` is None when every
sample is a float (the fast path, and all a float-only store ever returns); otherwise it is
an object array aligned with `timestamps`, holding a `FloatHistogram` where the sample is a
histogram and None where it is a float. A series may switch between the two over time. The
`values` cell of a histogram sample is a plain NaN placeholder (never the stale marker: a
stale histogram is stored as the float stale marker). Histograms stay Python objects: they
are rare, and each carries many buckets.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.model import Labels

_EMPTY_I64: npt.NDArray[np.int64] = np.empty(0, dtype=np.int64)
_EMPTY_F64: npt.NDArray[np.float64] = np.empty(0, dtype=np.float64)

Histograms = npt.NDArray[np.object_]


def histogram_column(n: int) -> Histograms:
    """An object column of `n` float samples (all None), to put histograms in."""
    return np.full(n, None, dtype=object)


def holds_histogram(column: Histograms) -> npt.NDArray[np.bool_]:
    """Where a histogram column holds a histogram (not None)."""
    return column.astype(np.bool_)


@dataclass(frozen=True, slots=True)
class SeriesData:
    """One series' samples in [mint, maxt], timestamps ascending (ms)."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    histograms: Histograms | None = None


@dataclass(frozen=True, slots=True)
class SeriesBatch:
    """Many series' samples in one pair of flat arrays, series-major in label order: series
    i's samples are `timestamps[starts[i]:starts[i + 1]]` (ascending). What the engine
    evaluates on, without a Python object per series on the way."""

    labels: tuple[Labels, ...]
    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    starts: npt.NDArray[np.int64]
    histograms: Histograms | None = None

    @classmethod
    def of(cls, series: Sequence[SeriesData]) -> SeriesBatch:
        """The batch of label-ordered `series`."""
        starts = np.zeros(len(series) + 1, dtype=np.int64)
        if not series:
            return cls((), _EMPTY_I64, _EMPTY_F64, starts)
        np.cumsum([len(s.timestamps) for s in series], out=starts[1:])
        return cls(
            tuple(s.labels for s in series),
            np.concatenate([s.timestamps for s in series]).astype(np.int64, copy=False),
            np.concatenate([s.values for s in series]).astype(np.float64, copy=False),
            starts,
            _joined_histograms([(len(s.timestamps), s.histograms) for s in series])
            if any(s.histograms is not None for s in series)
            else None,
        )


def _joined_histograms(parts: Sequence[tuple[int, Histograms | None]]) -> Histograms | None:
    """The histogram columns of consecutive parts as one (None if no part has one)."""
    if all(h is None for _, h in parts):
        return None
    return np.concatenate([histogram_column(n) if h is None else h for n, h in parts])


def merge_series(streams: Sequence[Iterable[SeriesData]]) -> Iterator[SeriesData]:
    """Label-ordered series streams (one per block) merged into one label-ordered stream,
    each series' samples merged by time; a timestamp present in several streams keeps the
    sample of the last stream given."""
    tagged = (((s.labels, rank, s) for s in stream) for rank, stream in enumerate(streams))
    current: list[SeriesData] = []
    for labels, _, data in heapq.merge(*tagged, key=lambda item: (item[0], item[1])):
        if current and current[0].labels != labels:
            yield _merge_samples(current)
            current = []
        current.append(data)
    if current:
        yield _merge_samples(current)


def _merge_samples(parts: list[SeriesData]) -> SeriesData:
    if len(parts) == 1:
        return parts[0]
    ts = np.concatenate([p.timestamps for p in parts])
    vs = np.concatenate([p.values for p in parts])
    hs = _joined_histograms([(len(p.timestamps), p.histograms) for p in parts])
    if all(
        a.timestamps.item(-1) < b.timestamps.item(0)
        for a, b in itertools.pairwise(p for p in parts if len(p.timestamps))
    ):
        return SeriesData(parts[0].labels, ts, vs, hs)  # blocks one after the other: no overlap
    order = np.argsort(ts, kind="stable")
    ts, vs = ts[order], vs[order]
    last_of_run = np.append(ts[1:] != ts[:-1], True)
    if hs is not None:
        hs = hs[order][last_of_run]
    return SeriesData(parts[0].labels, ts[last_of_run], vs[last_of_run], hs)


def merge_batches(batches: Sequence[SeriesBatch]) -> SeriesBatch:
    """Batches of several stores (oldest first) as one, like `merge_series`: a series in
    several keeps each timestamp once, from the last batch that has it. Samples are copied
    once (straight from the batches' arrays): at this size copies are the cost."""
    batches = [b for b in batches if len(b.timestamps)]
    if len(batches) <= 1:
        return batches[0] if batches else SeriesBatch.of([])
    labels = sorted({lbls for b in batches for lbls in b.labels})
    slot = {lbls: i for i, lbls in enumerate(labels)}
    # one segment per (batch, series) with samples, ordered by series, then batch
    segments = [
        (slot[lbls], rank, a, z)
        for rank, b in enumerate(batches)
        for lbls, a, z in zip(b.labels, b.starts[:-1].tolist(), b.starts[1:].tolist(), strict=True)
        if z > a
    ]
    segments.sort()
    views_t = [batches[rank].timestamps[a:z] for _, rank, a, z in segments]
    owners = [series for series, _, _, _ in segments]
    overlap = any(
        owners[k] == owners[k + 1] and views_t[k].item(-1) >= views_t[k + 1].item(0)
        for k in range(len(segments) - 1)
    )
    ts = np.concatenate(views_t)
    vs = np.concatenate([batches[rank].values[a:z] for _, rank, a, z in segments])
    hs = None
    if any(b.histograms is not None for b in batches):
        hs = _joined_histograms(
            [
                (z - a, None if (h := batches[rank].histograms) is None else h[a:z])
                for _, rank, a, z in segments
            ]
        )
    lengths = np.fromiter((z - a for _, _, a, z in segments), np.int64, len(segments))
    counts = np.bincount(owners, weights=lengths, minlength=len(labels)).astype(np.int64)
    if overlap:  # stores overlap in time: sort, and keep the last store's sample
        owner = np.repeat(np.asarray(owners, dtype=np.int64), lengths)
        rank = np.repeat(np.fromiter((r for _, r, _, _ in segments), np.int64), lengths)
        by_time = np.lexsort((rank, ts, owner))
        ts, vs, owner = ts[by_time], vs[by_time], owner[by_time]
        last = np.append((owner[1:] != owner[:-1]) | (ts[1:] != ts[:-1]), True)
        ts, vs, owner = ts[last], vs[last], owner[last]
        if hs is not None:
            hs = hs[by_time][last]
        counts = np.bincount(owner, minlength=len(labels)).astype(np.int64)
    starts = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum(counts, out=starts[1:])
    return SeriesBatch(tuple(labels), ts, vs, starts, hs)
