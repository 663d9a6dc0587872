"""The head's native histogram samples: a column beside the float chunks, per series.

Few series hold histograms and each sample carries many buckets, so they are kept per
series rather than in the float slots: the open chunk as objects, closed chunks (full at
`chunk_samples`) in `chunkenc.histogram`'s encoding, the one blocks and the WAL use too.
A series may switch between floats and histograms: the series table's last time is
shared, so its samples of both kinds stay in one time order.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.tsdb.chunkenc import histogram as histenc
from vigil.tsdb.series import SeriesBatch, histogram_column
from vigil.tsdb.wal import HistogramSamples

# The series table's `last_bits` of a series whose last sample is a histogram: a NaN that is
# neither a stale marker nor an ordinary NaN, so a float at that time is a duplicate.
HISTOGRAM_BITS = 0x7FF0000000000003


@dataclass(slots=True)
class _Chunk:
    mint: int
    maxt: int
    data: bytes


@dataclass(slots=True)
class SeriesHistograms:
    """One series' histogram samples, ascending in time: closed chunks, then the open one."""

    closed: list[_Chunk] = field(default_factory=list)
    open_t: list[int] = field(default_factory=list)
    open_h: list[FloatHistogram] = field(default_factory=list)

    @property
    def first_t(self) -> int | None:
        if self.closed:
            return self.closed[0].mint
        return self.open_t[0] if self.open_t else None

    def last(self) -> tuple[int, FloatHistogram] | None:
        if self.open_t:
            return self.open_t[-1], self.open_h[-1]
        if self.closed:
            ts, hs = histenc.decode(self.closed[-1].data)
            return ts[-1], hs[-1]
        return None

    def between(self, mint: int, maxt: int) -> tuple[list[int], list[FloatHistogram]]:
        ts: list[int] = []
        hs: list[FloatHistogram] = []
        for chunk in self.closed:
            if chunk.maxt >= mint and chunk.mint <= maxt:
                chunk_t, chunk_h = histenc.decode(chunk.data)
                ts.extend(chunk_t)
                hs.extend(chunk_h)
        ts.extend(self.open_t)
        hs.extend(self.open_h)
        lo, hi = bisect.bisect_left(ts, mint), bisect.bisect_right(ts, maxt)
        return ts[lo:hi], hs[lo:hi]


class HistogramColumn:
    """Histogram samples by series ref; most refs have none."""

    def __init__(self, chunk_samples: int) -> None:
        self.chunk_samples = chunk_samples
        self.by_ref: dict[int, SeriesHistograms] = {}
        self.chunks = 0  # closed, plus open ones holding samples

    def __bool__(self) -> bool:
        return bool(self.by_ref)

    def last(self, ref: int) -> tuple[int, FloatHistogram] | None:
        held = self.by_ref.get(ref)
        return None if held is None else held.last()

    def add(self, samples: HistogramSamples) -> None:
        """Append samples, each later than its series' last (the caller checked)."""
        for ref, t, h in zip(samples.refs, samples.timestamps, samples.histograms, strict=True):
            held = self.by_ref.get(ref)
            if held is None:
                held = self.by_ref[ref] = SeriesHistograms()
            if not held.open_t:
                self.chunks += 1
            held.open_t.append(t)
            held.open_h.append(h)
            if len(held.open_t) >= self.chunk_samples:
                data = histenc.encode(held.open_t, held.open_h)
                held.closed.append(_Chunk(held.open_t[0], held.open_t[-1], data))
                held.open_t, held.open_h = [], []

    def first_times(self, refs: Iterable[int]) -> dict[int, int]:
        """The oldest histogram sample time of each of `refs` that has one."""
        out = {}
        for ref in refs:
            held = self.by_ref.get(ref)
            first = None if held is None else held.first_t
            if first is not None:
                out[ref] = first
        return out

    def drop_before(self, cut_ms: int) -> None:
        """Forget samples older than cut_ms (closed chunks whole, the open one by sample)."""
        for ref in list(self.by_ref):
            held = self.by_ref[ref]
            kept = [c for c in held.closed if c.maxt >= cut_ms]
            self.chunks -= len(held.closed) - len(kept)
            held.closed = kept
            if held.open_t and held.open_t[0] < cut_ms:
                keep = [i for i, t in enumerate(held.open_t) if t >= cut_ms]
                held.open_t = [held.open_t[i] for i in keep]
                held.open_h = [held.open_h[i] for i in keep]
                if not keep:
                    self.chunks -= 1
            if not held.closed and not held.open_t:
                del self.by_ref[ref]

    def forget(self, refs: Iterable[int]) -> None:
        for ref in refs:
            held = self.by_ref.pop(ref, None)
            if held is not None:
                self.chunks -= len(held.closed) + (1 if held.open_t else 0)

    def samples(self, refs: Iterable[int], mint: int, maxt: int) -> HistogramSamples:
        """The samples of `refs` (ascending) in [mint, maxt], by (ref, time)."""
        out = HistogramSamples([], [], [])
        for ref in refs:
            held = self.by_ref.get(ref)
            if held is None:
                continue
            ts, hs = held.between(mint, maxt)
            out.refs.extend([ref] * len(ts))
            out.timestamps.extend(ts)
            out.histograms.extend(hs)
        return out

    def batch(
        self, labels: list[Labels | None], refs: Iterable[int], mint: int, maxt: int
    ) -> SeriesBatch | None:
        """The samples of `refs` in [mint, maxt] as a label-ordered SeriesBatch (values NaN,
        `histograms` set), or None if they have none."""
        wanted = [ref for ref in refs if ref in self.by_ref]
        if not wanted:
            return None
        found = self.samples(wanted, mint, maxt)
        if not found.refs:
            return None
        by_ref: dict[int, list[int]] = {}
        for at, ref in enumerate(found.refs):
            by_ref.setdefault(ref, []).append(at)
        ordered = sorted(by_ref, key=lambda ref: labels[ref] or Labels())
        take = np.fromiter((at for ref in ordered for at in by_ref[ref]), np.int64, len(found))
        starts = np.zeros(len(ordered) + 1, dtype=np.int64)
        np.cumsum([len(by_ref[ref]) for ref in ordered], out=starts[1:])
        column = histogram_column(len(found))
        column[:] = [found.histograms[at] for at in take.tolist()]
        return SeriesBatch(
            tuple(labels[ref] or Labels() for ref in ordered),
            np.asarray(found.timestamps, dtype=np.int64)[take],
            np.full(len(found), np.nan),
            starts,
            column,
        )
