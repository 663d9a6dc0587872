"""Live series layered over a Queryable: vigil's own state, read when the query runs, given
as the newest sample of a series.

Self-monitoring must not read its input back from the storage it watches: with the disk
full, the stored `vigil_tsdb_writes_failing` stays at the last value written before it
filled (0), while the live one says 1. A live series merges with a stored series of the same
labels (its value is the newest sample) and is seen only by queries that reach the present:
one whose end lies more than `window_ms` in the past sees the storage alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from vigil.model import Labels, Matcher, matches_all
from vigil.tsdb._api import Querier, SelectHints
from vigil.tsdb.series import SeriesBatch, SeriesData, merge_batches, merge_series

Queryable = Callable[[int, int], Querier]
LiveSource = Callable[[], Sequence[tuple[Labels, float]]]
"""The live series now: (labels with `__name__`, value) pairs."""

LIVE_WINDOW_MS = 300_000  # Prometheus's default lookback delta


class LiveSeriesQueryable:
    """`inner`'s series plus `source`'s, each live value stamped at the query's end (or now,
    if the end is later)."""

    def __init__(
        self,
        inner: Queryable,
        source: LiveSource,
        now_ms: Callable[[], int],
        window_ms: int = LIVE_WINDOW_MS,
    ) -> None:
        self._inner = inner
        self._source = source
        self._now_ms = now_ms
        self._window_ms = window_ms

    def __call__(self, mint: int, maxt: int) -> Querier:
        inner = self._inner(mint, maxt)
        now = self._now_ms()
        t = min(maxt, now)
        if t < mint or now - t > self._window_ms:
            return inner
        live = [
            SeriesData(labels, np.array([t], dtype=np.int64), np.array([value], dtype=np.float64))
            for labels, value in sorted(self._source())
        ]
        return _LiveQuerier(inner, live) if live else inner


class _LiveQuerier:
    """The inner querier's answers with the live series merged in (live samples win)."""

    def __init__(self, inner: Querier, live: list[SeriesData]) -> None:
        self._inner = inner
        self._live = live

    def _matching(self, matchers: Sequence[Matcher], series_only: bool) -> list[SeriesData]:
        found = [s for s in self._live if matches_all(list(matchers), s.labels)]
        if series_only:
            return [SeriesData(s.labels, s.timestamps[:0], s.values[:0]) for s in found]
        return found

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterable[SeriesData]:
        live = self._matching(matchers, hints is not None and hints.series_only)
        stored = self._inner.select(matchers, hints)
        return merge_series([stored, live]) if live else stored

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        if hints is not None and hints.series_only:
            return SeriesBatch.of(list(self.select(matchers, hints)))
        stored = self._inner.select_batch(matchers, hints)
        live = self._matching(matchers, False)
        return merge_batches([stored, SeriesBatch.of(live)]) if live else stored

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        live = {name for s in self._matching(matchers, True) for name in s.labels.names()}
        return sorted(live.union(self._inner.label_names(matchers)))

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        live = {s.labels.get(name) for s in self._matching(matchers, True)} - {""}
        return sorted(live.union(self._inner.label_values(name, matchers)))

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        live = {s.labels for s in self._matching(matchers, True)}
        return sorted(live.union(self._inner.series(matchers)))

    def close(self) -> None:
        self._inner.close()
