"""Cumulative series that span metrics and the service graph keep in memory and write
through the TSDB's ordinary `Appender` at each collection, as Tempo's metrics-generator
registry does.

Observations arrive a batch at a time as (unique label values, one index per observation
into them, weights): sums are numpy `bincount`s, Python runs once per distinct label set of
the batch, never per span. At collection every live series is written at the collection's
timestamp; a new series is first written as 0 just after the previous collection (Tempo
writes that zero so `increase()` counts the first spans instead of starting from them); a
series not updated for `stale_after_ms` (Tempo's `stale_duration`, 15 min) is dropped from
memory and ends with a staleness marker (Tempo only drops it; the marker ends it at once
rather than after the lookback delta). Series the appender refuses (the head's series
budget) are left out of that write, as a rule group's are.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.model import METRIC_NAME, Labels
from vigil.model.gofloat import format_float
from vigil.tsdb._api import STALE_NAN, Appender

STALE_AFTER_MS = 15 * 60 * 1000
LabelValues = tuple[str, ...]


@dataclass(slots=True)
class Samples:
    """What one collection writes: label sets with a timestamp and value each."""

    labels: list[Labels] = field(default_factory=list)
    t_ms: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, labels: Sequence[Labels], t_ms: int, values: Sequence[float]) -> None:
        self.labels.extend(labels)
        self.t_ms.extend([t_ms] * len(labels))
        self.values.extend(values)

    def add_all(self, other: Samples) -> None:
        self.labels += other.labels
        self.t_ms += other.t_ms
        self.values += other.values

    def write(self, appender: Appender) -> None:
        """Append through `appender` (not committed: the caller commits or rolls back)."""
        if not self.labels:
            return
        refs = appender.refs_for(self.labels)
        keep = refs >= 0
        appender.append_batch(
            refs[keep],
            np.asarray(self.t_ms, dtype=np.int64)[keep],
            np.asarray(self.values, dtype=np.float64)[keep],
        )


class _Rows(abc.ABC):
    """Label values → row, with each row's last update; rows are compacted when dropped.
    A family keeps its own columns in step through `grow` and `keep`."""

    def __init__(self, label_names: tuple[str, ...]) -> None:
        self.label_names = label_names
        self.index: dict[LabelValues, int] = {}
        self.keys: list[LabelValues] = []
        self.updated_ms = np.zeros(0, dtype=np.int64)
        self.written = np.zeros(0, dtype=bool)

    def __len__(self) -> int:
        return len(self.keys)

    def rows_for(self, keys: Sequence[LabelValues], t_ms: int) -> npt.NDArray[np.intp]:
        index = self.index
        new = [key for key in dict.fromkeys(keys) if key not in index]
        if new:
            for key in new:
                index[key] = len(self.keys)
                self.keys.append(key)
            self._grow(len(new))
        rows = np.fromiter((index[key] for key in keys), dtype=np.intp, count=len(keys))
        self.updated_ms[rows] = t_ms
        return rows

    def _grow(self, extra: int) -> None:
        self.updated_ms = np.concatenate([self.updated_ms, np.zeros(extra, dtype=np.int64)])
        self.written = np.concatenate([self.written, np.zeros(extra, dtype=bool)])
        self.grow(extra)

    @abc.abstractmethod
    def grow(self, extra: int) -> None:
        """Add `extra` zeroed rows for the keys just appended."""

    @abc.abstractmethod
    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        """Keep only the rows where `mask` is true."""

    def drop_stale(self, before_ms: int) -> list[LabelValues]:
        """Forget rows not updated since `before_ms`; returns their keys."""
        stale = self.updated_ms < before_ms
        if not stale.any():
            return []
        gone = [self.keys[i] for i in np.flatnonzero(stale).tolist()]
        live = ~stale
        self.keys = [k for k, alive in zip(self.keys, live.tolist(), strict=True) if alive]
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.updated_ms = self.updated_ms[live]
        self.written = self.written[live]
        self.keep(live)
        return gone

    def base(self, name: str, key: LabelValues) -> Labels:
        return Labels.from_pairs([(METRIC_NAME, name), *zip(self.label_names, key, strict=True)])


class GeneratedCounter(_Rows):
    """A counter family: `name` with `label_names`."""

    def __init__(self, name: str, label_names: tuple[str, ...]) -> None:
        super().__init__(label_names)
        self.name = name
        self.values = np.zeros(0, dtype=np.float64)
        self._labels: list[Labels] = []

    def grow(self, extra: int) -> None:
        self.values = np.concatenate([self.values, np.zeros(extra)])
        start = len(self._labels)
        self._labels += [self.base(self.name, key) for key in self.keys[start:]]

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self.values = self.values[mask]
        self._labels = [lb for lb, alive in zip(self._labels, mask.tolist(), strict=True) if alive]

    def add(
        self,
        keys: Sequence[LabelValues],
        inverse: npt.NDArray[np.intp],
        weights: npt.NDArray[np.float64] | None,
        t_ms: int,
    ) -> None:
        """Add `weights[i]` (1 when None) to the series `keys[inverse[i]]`."""
        if not len(inverse):
            return
        rows = self.rows_for(keys, t_ms)
        self.values[rows] += np.bincount(inverse, weights, minlength=len(keys))

    def value(self, key: LabelValues) -> float:
        row = self.index.get(key)
        return 0.0 if row is None else float(self.values[row])

    def collect(self, out: Samples, t_ms: int, first_ms: int, stale_before_ms: int) -> None:
        new = np.flatnonzero(~self.written).tolist()
        out.add([self._labels[i] for i in new], first_ms, [0.0] * len(new))
        self.written[:] = True
        gone = self.drop_stale(stale_before_ms)
        out.add([self.base(self.name, key) for key in gone], t_ms, [STALE_NAN] * len(gone))
        out.add(self._labels, t_ms, self.values.tolist())


class GeneratedHistogram(_Rows):
    """A classic histogram family: `name_bucket{le}`, `name_sum`, `name_count`."""

    def __init__(self, name: str, label_names: tuple[str, ...], bounds: Sequence[float]) -> None:
        super().__init__(label_names)
        self.name = name
        self.bounds = np.asarray(sorted(bounds), dtype=np.float64)
        self._les = [format_float(b, "f") for b in self.bounds.tolist()] + ["+Inf"]
        width = len(self._les)
        self.buckets = np.zeros((0, width), dtype=np.float64)  # per bucket, not cumulative
        self.sums = np.zeros(0, dtype=np.float64)
        self.counts = np.zeros(0, dtype=np.float64)
        self._labels: list[list[Labels]] = []

    def grow(self, extra: int) -> None:
        self.buckets = np.concatenate([self.buckets, np.zeros((extra, len(self._les)))])
        self.sums = np.concatenate([self.sums, np.zeros(extra)])
        self.counts = np.concatenate([self.counts, np.zeros(extra)])
        start = len(self._labels)
        self._labels += [self._series(key) for key in self.keys[start:]]

    def _series(self, key: LabelValues) -> list[Labels]:
        bucket = self.base(f"{self.name}_bucket", key)
        return [
            *(bucket.with_label("le", le) for le in self._les),
            self.base(f"{self.name}_sum", key),
            self.base(f"{self.name}_count", key),
        ]

    def keep(self, mask: npt.NDArray[np.bool_]) -> None:
        self.buckets, self.sums, self.counts = (
            self.buckets[mask],
            self.sums[mask],
            self.counts[mask],
        )
        self._labels = [lb for lb, alive in zip(self._labels, mask.tolist(), strict=True) if alive]

    def observe(
        self,
        keys: Sequence[LabelValues],
        inverse: npt.NDArray[np.intp],
        seconds: npt.NDArray[np.float64],
        weights: npt.NDArray[np.float64] | None,
        t_ms: int,
    ) -> None:
        """Observe `seconds[i]` (counted `weights[i]` times) in the series `keys[inverse[i]]`."""
        if not len(inverse):
            return
        rows = self.rows_for(keys, t_ms)
        width = len(self._les)
        slot = inverse * width + np.searchsorted(self.bounds, seconds, side="left")
        per_bucket = np.bincount(slot, weights, minlength=len(keys) * width)
        self.buckets[rows] += per_bucket.reshape(len(keys), width)
        sums = seconds if weights is None else seconds * weights
        self.sums[rows] += np.bincount(inverse, sums, minlength=len(keys))
        self.counts[rows] += np.bincount(inverse, weights, minlength=len(keys))

    def cumulative(self, key: LabelValues) -> dict[str, float]:
        """le → cumulative count of one series (empty when unknown): for tests and the API."""
        row = self.index.get(key)
        if row is None:
            return {}
        return dict(zip(self._les, np.cumsum(self.buckets[row]).tolist(), strict=True))

    def collect(self, out: Samples, t_ms: int, first_ms: int, stale_before_ms: int) -> None:
        for i in np.flatnonzero(~self.written).tolist():
            out.add(self._labels[i], first_ms, [0.0] * len(self._labels[i]))
        self.written[:] = True
        for key in self.drop_stale(stale_before_ms):
            gone = self._series(key)
            out.add(gone, t_ms, [STALE_NAN] * len(gone))
        if not len(self.keys):
            return
        values = np.concatenate(
            [np.cumsum(self.buckets, axis=1), self.sums[:, None], self.counts[:, None]], axis=1
        )
        out.add([lb for series in self._labels for lb in series], t_ms, values.ravel().tolist())


@dataclass(slots=True)
class SeriesSet:
    """The families of one generator, collected together at one timestamp."""

    families: tuple[GeneratedCounter | GeneratedHistogram, ...]
    stale_after_ms: int = STALE_AFTER_MS
    last_collect_ms: int | None = None

    def collect(self, t_ms: int, interval_ms: int) -> Samples:
        previous = self.last_collect_ms if self.last_collect_ms is not None else t_ms - interval_ms
        first_ms = min(previous + 1, t_ms - 1)
        self.last_collect_ms = t_ms
        out = Samples()
        for family in self.families:
            family.collect(out, t_ms, first_ms, t_ms - self.stale_after_ms)
        return out

    def series_count(self) -> int:
        return sum(len(f) for f in self.families)
