"""The two seams of storage (see STYLE.md): writers see an `Appender`, readers a `Querier`.

The scrape loop, the rule engine and the importer only ever hold an Appender; PromQL
only ever holds a Querier. A remote store or a test fake implements the same Protocols;
`MemoryStorage`, the fake, lives here beside them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from vigil.model import Labels, Matcher, matches_all
from vigil.model.histogram import FloatHistogram
from vigil.tsdb.series import SeriesBatch, SeriesData, histogram_column

SeriesRef = int

# Prometheus's staleness marker: a NaN with this exact bit pattern, kept bit-exact.
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale_marker(values: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    marks: npt.NDArray[np.bool_] = values.view(np.uint64) == np.uint64(STALE_NAN_BITS)
    return marks


class StorageNotReady(Exception):
    """Storage asked for before it is open (the WAL still replaying, or opening it failed):
    the caller should retry later; the web layer answers 503 `unavailable`. `store` names
    which one (the log and span stores raise it too)."""

    def __init__(self, status: str, store: str = "TSDB") -> None:
        super().__init__(f"{store} not ready: {status}")
        self.status = status


class CorruptDataError(Exception):
    """Stored data that does not read back as written (a flipped byte, a truncated file); the
    message names where. A read that meets it fails with it, and the server goes on: the
    engine turns it into a query error, the web layer answers 422 `execution`."""


@dataclass(frozen=True, slots=True)
class SelectHints:
    """What the caller will do with the data; a store may use it to read less."""

    step_ms: int = 0
    func: str = ""
    series_only: bool = False  # /api/v1/series: labels without samples


class Appender(Protocol):
    """A transaction of samples: nothing is visible to queries (or durable) before commit."""

    def append(self, labels: Labels, t_ms: int, value: float) -> SeriesRef: ...

    def append_by_ref(self, ref: SeriesRef, t_ms: int, value: float) -> None: ...

    def append_histogram(self, labels: Labels, t_ms: int, histogram: FloatHistogram) -> SeriesRef:
        """A native histogram sample: validated at commit like a float one, against the
        series' last sample of either kind (a series may switch between the two). A histogram
        whose sum is the stale marker is stored as the float stale marker, as Prometheus
        reads staleness."""
        ...

    def append_histogram_by_ref(
        self, ref: SeriesRef, t_ms: int, histogram: FloatHistogram
    ) -> None: ...

    def append_batch(
        self,
        refs: npt.NDArray[np.int64],
        t_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        """Many samples at once (one scrape): the hot path, no Python work per sample."""
        ...

    def refs_for(self, labels: Sequence[Labels]) -> npt.NDArray[np.int64]:
        """Series refs for label sets, creating series as needed (may refuse past a limit:
        such entries are -1 and counted)."""
        ...

    def commit(self) -> None:
        """Make the transaction visible and durable; raises OSError (nothing of it applied)
        when the storage cannot write, e.g. a full disk."""
        ...

    def rollback(self) -> None: ...

    def refused(self) -> Mapping[str, int]:
        """Samples the last commit refused for their time or series, by reason (the head's
        names: "out_of_bounds", "too_far_in_future", "out_of_order", "duplicate", …); empty
        when it took them all."""
        ...


class Querier(Protocol):
    """Read access over a fixed time range [mint, maxt] (ms, inclusive).

    Both selects return the same series: each series once, in label order, with its samples
    in [mint, maxt] by ascending timestamp, each timestamp once; a series without samples in
    range is left out (except with `hints.series_only`, where every match comes with none)."""

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterable[SeriesData]: ...

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        """`select` as one SeriesBatch: what the engine reads, without an object per series."""
        ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]: ...

    def close(self) -> None: ...


class MemoryStorage:
    """Series kept as Python lists until queried; `queryable` opens a `Querier` over them.
    The storage of promqltest scripts, `vigil test rules` and any test that needs a Querier.
    A sample is a float or a native histogram (a histogram whose sum is the stale marker is
    kept as the float stale marker, as Prometheus's staleness handling reads it)."""

    def __init__(self) -> None:
        self._series: dict[Labels, _Samples] = {}
        self._refs: list[Labels] = []

    def add(self, labels: Labels, t_ms: int, value: float | FloatHistogram) -> None:
        samples = self._series.get(labels)
        if samples is None:
            samples = self._series[labels] = _Samples([], [], {})
        samples.timestamps.append(t_ms)
        if isinstance(value, FloatHistogram):
            if is_stale_marker(np.array([value.sum])).item():
                samples.values.append(STALE_NAN)
                return
            samples.histograms[len(samples.values)] = value
            samples.values.append(float("nan"))
        else:
            samples.values.append(value)

    def clear(self) -> None:
        self._series.clear()

    def appender(self) -> MemoryAppender:
        return MemoryAppender(self, self._refs)

    def queryable(self, mint: int, maxt: int) -> Querier:
        return _MemoryQuerier(self._series, mint, maxt)


class MemoryAppender:
    """The Appender seam over a MemoryStorage: buffered until commit, like the TSDB's; refs
    index `series`, a list the caller may share between appenders."""

    def __init__(self, storage: MemoryStorage, series: list[Labels]) -> None:
        self._storage = storage
        self._series = series
        self._pending: list[tuple[Labels, int, float | FloatHistogram]] = []

    def append(self, labels: Labels, t_ms: int, value: float) -> SeriesRef:
        ref = int(self.refs_for([labels])[0])
        self.append_by_ref(ref, t_ms, value)
        return ref

    def append_by_ref(self, ref: SeriesRef, t_ms: int, value: float) -> None:
        self._pending.append((self._series[ref], t_ms, value))

    def append_histogram(self, labels: Labels, t_ms: int, histogram: FloatHistogram) -> SeriesRef:
        ref = int(self.refs_for([labels])[0])
        self.append_histogram_by_ref(ref, t_ms, histogram)
        return ref

    def append_histogram_by_ref(self, ref: SeriesRef, t_ms: int, histogram: FloatHistogram) -> None:
        self._pending.append((self._series[ref], t_ms, histogram))

    def append_batch(
        self,
        refs: npt.NDArray[np.int64],
        t_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        for ref, t, value in zip(refs.tolist(), t_ms.tolist(), values.tolist(), strict=True):
            self.append_by_ref(ref, t, value)

    def refs_for(self, labels: Sequence[Labels]) -> npt.NDArray[np.int64]:
        refs = []
        for lbls in labels:
            if lbls not in self._series:
                self._series.append(lbls)
            refs.append(self._series.index(lbls))
        return np.asarray(refs, dtype=np.int64)

    def commit(self) -> None:
        for labels, t_ms, value in self._pending:
            self._storage.add(labels, t_ms, value)
        self._pending.clear()

    def refused(self) -> Mapping[str, int]:
        return {}

    def rollback(self) -> None:
        self._pending.clear()


@dataclass(frozen=True, slots=True)
class _Samples:
    timestamps: list[int]
    values: list[float]
    histograms: dict[int, FloatHistogram]  # position in `values` -> histogram

    def data(self, labels: Labels, mint: int, maxt: int) -> SeriesData | None:
        t = np.asarray(self.timestamps, dtype=np.int64)
        order = np.argsort(t, kind="stable")
        t, v = t[order], np.asarray(self.values, dtype=np.float64)[order]
        keep = (t >= mint) & (t <= maxt)
        if not keep.any():
            return None
        hists = None
        if self.histograms:
            column = histogram_column(len(self.values))
            for at, h in self.histograms.items():
                column[at] = h
            hists = column[order][keep]
        return SeriesData(labels, t[keep], v[keep], hists)


class _MemoryQuerier:
    def __init__(self, series: dict[Labels, _Samples], mint: int, maxt: int) -> None:
        self._series, self._mint, self._maxt = series, mint, maxt

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterable[SeriesData]:
        return iter(self._selected(matchers))

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        return SeriesBatch.of(self._selected(matchers))

    def _selected(self, matchers: Sequence[Matcher]) -> list[SeriesData]:
        found = []
        for labels in sorted(self._series):
            if not matches_all(list(matchers), labels):
                continue
            data = self._series[labels].data(labels, self._mint, self._maxt)
            if data is not None:
                found.append(data)
        return found

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({n for lbls in self.series(matchers) for n in lbls.names()})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({lbls.get(name) for lbls in self.series(matchers)} - {""})

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [lbls for lbls in self._series if matches_all(list(matchers), lbls)]

    def close(self) -> None:
        return None
