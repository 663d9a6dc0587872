"""Query results as clients see them (the HTTP API renders these), and the step-grid values
the evaluator passes between nodes: every node is evaluated once for all steps of a query.

Native histogram samples travel beside the float grids in an optional object grid (`hists`):
None while a value holds floats only, so float-only queries never touch it. A cell holds a
float sample (`present`) or a histogram (`hists` not None there), never both."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from vigil.model import METRIC_NAME, Labels
from vigil.model.histogram import FloatHistogram
from vigil.promql.errors import QueryError

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Hists = npt.NDArray[np.object_]


def is_histogram(hists: Hists) -> Bools:
    """Which cells of an object grid hold a histogram."""
    found: Bools = np.not_equal(hists, _NONE)
    return found


def no_histograms(shape: tuple[int, ...]) -> Hists:
    return np.full(shape, None, dtype=object)


def histograms_where(keep: Bools, hists: Hists) -> Hists:
    """`hists` with None wherever `keep` is false."""
    out = hists.copy()
    out[~np.broadcast_to(keep, hists.shape)] = None
    return out


_NONE = np.array(None, dtype=object)


@dataclass(frozen=True, slots=True)
class Sample:
    """A float sample, or a histogram one (`histogram` set, `value` then meaningless)."""

    labels: Labels
    t_ms: int
    value: float
    histogram: FloatHistogram | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """A series' float points (`timestamps`, `values`) and its histogram points."""

    labels: Labels
    timestamps: I64
    values: F64
    histograms: tuple[tuple[int, FloatHistogram], ...] = ()


@dataclass(frozen=True, slots=True)
class Scalar:
    t_ms: int
    value: float


@dataclass(frozen=True, slots=True)
class String:
    t_ms: int
    value: str


@dataclass(frozen=True, slots=True)
class Vector:
    samples: tuple[Sample, ...]


@dataclass(frozen=True, slots=True)
class Matrix:
    series: tuple[Series, ...]


QueryValue = Scalar | String | Vector | Matrix


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A query's value plus the annotations Prometheus would attach (none yet)."""

    value: QueryValue
    warnings: tuple[str, ...] = ()
    infos: tuple[str, ...] = ()


# --- values between evaluation nodes ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScalarSteps:
    """A scalar at every step: shape (T,)."""

    values: F64


@dataclass(frozen=True, slots=True)
class StringValue:
    value: str


@dataclass(frozen=True, slots=True)
class VectorSteps:
    """An instant vector at every step: row i is series `labels[i]`, column j is step j.

    `present` marks which cells hold a sample (NaN is a valid sample value). `drop_name`
    marks series whose `__name__` Prometheus 3 removes at the end of evaluation.
    `sample_ts` (only from plain selectors) holds each sample's own timestamp.
    """

    labels: tuple[Labels, ...]
    values: F64
    present: Bools
    drop_name: Bools
    sample_ts: I64 | None = None
    hists: Hists | None = None

    @property
    def n_series(self) -> int:
        return len(self.labels)

    def has_sample(self) -> Bools:
        """Cells holding a float or a histogram."""
        return self.present if self.hists is None else self.present | is_histogram(self.hists)

    def floats_only(self) -> VectorSteps:
        if self.hists is None:
            return self
        return replace(self, hists=None)


@dataclass(frozen=True, slots=True)
class RangeSteps:
    """A range vector at every step, without copying: series i's window at step j is
    `ts[lo[i, j]:hi[i, j]]` / `vals[...]` of flat, series-major sample arrays.

    `window_end[j]` is the window's right edge (step time minus offset, or the `@` time);
    `eval_times[j]` the step time itself.
    """

    labels: tuple[Labels, ...]
    drop_name: Bools
    ts: I64
    vals: F64
    lo: I64
    hi: I64
    window_end: I64
    eval_times: I64
    range_ms: int
    hists: Hists | None = None

    @property
    def n_series(self) -> int:
        return len(self.labels)

    def floats_only(self) -> RangeSteps:
        """The same windows without their histogram samples."""
        if self.hists is None:
            return self
        keep = ~is_histogram(self.hists)
        kept_before = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(keep, out=kept_before[1:])
        return replace(
            self,
            ts=self.ts[keep],
            vals=self.vals[keep],
            lo=kept_before[self.lo],
            hi=kept_before[self.hi],
            hists=None,
        )


Value = ScalarSteps | StringValue | VectorSteps | RangeSteps


def empty_vector(n_steps: int) -> VectorSteps:
    return VectorSteps(
        (),
        np.empty((0, n_steps)),
        np.zeros((0, n_steps), dtype=bool),
        np.zeros(0, dtype=bool),
    )


def without_name(labels: Labels) -> Labels:
    return labels.without(METRIC_NAME) if labels.get(METRIC_NAME) else labels


def merge_same_labels(vector: VectorSteps) -> VectorSteps:
    """Fold series with identical labels into one row (Prometheus builds series per step, so
    they only clash where both have a sample at the same step: that is an error)."""
    index: dict[Labels, int] = {}
    group = np.fromiter(
        (index.setdefault(lbls, len(index)) for lbls in vector.labels),
        dtype=np.int64,
        count=len(vector.labels),
    )
    if len(index) == len(vector.labels):
        return vector
    n_steps = vector.values.shape[1]
    has = vector.has_sample()
    counts = np.zeros((len(index), n_steps), dtype=np.int64)
    np.add.at(counts, group, has.astype(np.int64))
    if (counts > 1).any():
        raise QueryError("vector cannot contain metrics with the same labelset")
    rows, cols = np.nonzero(vector.present)
    values = np.zeros((len(index), n_steps))
    values[group[rows], cols] = vector.values[rows, cols]
    present = counts > 0
    hists = None
    if vector.hists is not None:
        present = np.zeros((len(index), n_steps), dtype=bool)
        present[group[rows], cols] = True
        hists = no_histograms((len(index), n_steps))
        hist_rows, hist_cols = np.nonzero(is_histogram(vector.hists))
        hists[group[hist_rows], hist_cols] = vector.hists[hist_rows, hist_cols]
        rows, cols = np.nonzero(has)
    sample_ts = None
    if vector.sample_ts is not None:
        sample_ts = np.zeros((len(index), n_steps), dtype=np.int64)
        sample_ts[group[rows], cols] = vector.sample_ts[rows, cols]
    drop = np.zeros(len(index), dtype=bool)
    np.logical_or.at(drop, group, vector.drop_name)
    return VectorSteps(tuple(index), values, present, drop, sample_ts, hists)
