"""PromQL functions over native histogram samples: the slow path, one histogram at a time.

The engine comes here only when an argument holds histograms. A function that knows them
(below) combines its float answer, computed by the ordinary vectorised implementation on the
float samples alone, with its answer for the cells or windows that hold histograms; any other
function sees the float samples only, as Prometheus's float functions skip histograms. A window
mixing floats and histograms gives no sample where Prometheus drops it with a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from vigil.model import Labels
from vigil.model.gofloat import format_float
from vigil.model.histogram import (
    CounterResetHint,
    FloatHistogram,
    HistogramError,
    mean_histograms,
    sum_histograms,
)
from vigil.promql.functions import FUNCTIONS, Function, FunctionCall
from vigil.promql.value import (
    F64,
    I64,
    Bools,
    Hists,
    RangeSteps,
    ScalarSteps,
    Value,
    VectorSteps,
    histograms_where,
    is_histogram,
    merge_same_labels,
    no_histograms,
    without_name,
)

HistogramFunction = Callable[[FunctionCall, Function], Value]
_AWARE: dict[str, HistogramFunction] = {}

# functions that carry histogram cells along with their rows (they only touch labels)
_CARRYING = frozenset({"label_replace", "label_join", "sort_by_label", "sort_by_label_desc"})


def call_with_histograms(call: FunctionCall, impl: Function) -> Value:
    """`impl` (the float implementation) applied where some argument holds histograms."""
    aware = _AWARE.get(call.name)
    if aware is not None:
        return aware(call, impl)
    if call.name in _CARRYING:
        return impl(call)
    return impl(_floats_only(call))


def negate_histograms(hists: Hists) -> Hists:
    out = no_histograms(hists.shape)
    for cell in zip(*np.nonzero(is_histogram(hists)), strict=True):
        out[cell] = hists[cell].negated()
    return out


def repeats_not_reset(hists: Hists, series: I64) -> Hists:
    """A subquery repeats a histogram sample at each step that looks back to it: the repeats
    are that one sample again, so none counts as a counter reset (Prometheus marks them so)."""
    out = hists.copy()
    for k in range(1, len(out)):
        if out[k] is not None and hists[k] is hists[k - 1] and series[k] == series[k - 1]:
            out[k] = hists[k].with_hint(CounterResetHint.NOT_COUNTER_RESET)
    return out


def _floats_only(call: FunctionCall) -> FunctionCall:
    args = tuple(
        a.floats_only() if isinstance(a, VectorSteps | RangeSteps) else a for a in call.args
    )
    return replace(call, args=args)


def _register(*names: str) -> Callable[[HistogramFunction], HistogramFunction]:
    def wrap(fn: HistogramFunction) -> HistogramFunction:
        for name in names:
            _AWARE[name] = fn
        return fn

    return wrap


def _cells(mask: Bools) -> list[tuple[int, int]]:
    rows, cols = np.nonzero(mask)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


# --- instant vectors ---------------------------------------------------------------------------

_PER_HISTOGRAM: dict[str, Callable[[FloatHistogram], float]] = {
    "histogram_count": lambda h: h.count,
    "histogram_sum": lambda h: h.sum,
    "histogram_avg": lambda h: h.sum / h.count if h.count else math.nan,
    "histogram_stdvar": lambda h: h.variance(),
    "histogram_stddev": lambda h: math.sqrt(h.variance()),
}


def _per_cell(vector: VectorSteps, value: Callable[[FloatHistogram, int], float]) -> VectorSteps:
    """A float from each histogram cell (its column given), the name dropped; floats skipped."""
    assert vector.hists is not None
    mask = is_histogram(vector.hists)
    values = np.full(mask.shape, math.nan)
    for row, col in _cells(mask):
        values[row, col] = value(vector.hists[row, col], col)
    return VectorSteps(vector.labels, values, mask, np.ones(vector.n_series, dtype=bool))


@_register(*_PER_HISTOGRAM)
def _histogram_property(call: FunctionCall, _: Function) -> Value:
    fn = _PER_HISTOGRAM[call.name]
    return _per_cell(call.vector(0), lambda h, _col: fn(h))


def _classic_buckets(vector: VectorSteps) -> dict[Labels, Bools]:
    """Per classic histogram (labels without name and `le`), the steps it has buckets at."""
    out: dict[Labels, Bools] = {}
    for row, lbls in enumerate(vector.labels):
        if lbls.get("le"):
            key = without_name(lbls).without("le")
            seen = out.get(key, np.zeros(vector.present.shape[1], dtype=bool))
            out[key] = seen | vector.present[row]
    return out


def _beside_classic(
    call: FunctionCall, arg: int, native: VectorSteps
) -> tuple[VectorSteps, dict[Labels, Bools]]:
    """`native` (a row per input row) without the cells where a classic histogram of the same
    labels has buckets too (Prometheus evaluates neither there), and those clashes."""
    classic = _classic_buckets(call.vector(arg).floats_only())
    clashes: dict[Labels, Bools] = {}
    present = native.present.copy()
    for row, lbls in enumerate(native.labels):
        key = without_name(lbls)
        if key in classic:
            clash = present[row] & classic[key]
            present[row] &= ~clash
            clashes[key] = clashes.get(key, clash) | clash
    return replace(native, present=present), clashes


def _named_rows(native: VectorSteps) -> VectorSteps:
    rows = np.asarray(native.present.any(axis=1))
    labels = tuple(
        without_name(lbls) for lbls, keep in zip(native.labels, rows, strict=True) if keep
    )
    return VectorSteps(
        labels, native.values[rows], native.present[rows], np.zeros(len(labels), dtype=bool)
    )


@_register("histogram_fraction")
def _histogram_fraction(call: FunctionCall, impl: Function) -> Value:
    lower, upper = call.scalar(0), call.scalar(1)
    native = _per_cell(
        call.vector(2), lambda h, col: h.fraction(float(lower[col]), float(upper[col]))
    )
    return _with_classic(call, 2, native, impl)


@_register("histogram_quantile")
def _histogram_quantile(call: FunctionCall, impl: Function) -> Value:
    q = call.scalar(0)
    native = _per_cell(call.vector(1), lambda h, col: h.quantile(float(q[col])))
    return _with_classic(call, 1, native, impl)


def _with_classic(call: FunctionCall, arg: int, native: VectorSteps, impl: Function) -> Value:
    """Native results beside the classic ones (`impl` on the float samples), neither where a
    classic and a native histogram of the same labels meet at a step."""
    native, clashes = _beside_classic(call, arg, native)
    classic = impl(_floats_only(call))
    assert isinstance(classic, VectorSteps)
    classic_present = classic.present.copy()
    for row, lbls in enumerate(classic.labels):
        if lbls in clashes:
            classic_present[row] &= ~clashes[lbls]
    named = _named_rows(native)
    return merge_same_labels(
        VectorSteps(
            classic.labels + named.labels,
            np.concatenate([classic.values, named.values]),
            np.concatenate([classic_present, named.present]),
            np.zeros(len(classic.labels) + len(named.labels), dtype=bool),
        )
    )


def _histogram_quantiles(call: FunctionCall) -> Value:
    """`histogram_quantiles(v, "label", q1, q2, ...)`: `histogram_quantile` for each q, told
    apart by `label` (the q as Prometheus prints it: 0.0, 0.25, 1.0)."""
    vector, label = call.vector(0), call.string(1)
    single = FUNCTIONS["histogram_quantile"]
    parts: list[VectorSteps] = []
    for arg, expr in zip(call.args[2:], call.exprs[2:], strict=True):
        assert isinstance(arg, ScalarSteps)
        one = replace(
            call, name="histogram_quantile", args=(arg, vector), exprs=(expr, call.exprs[0])
        )
        result = call_with_histograms(one, single) if vector.hists is not None else single(one)
        assert isinstance(result, VectorSteps)
        q = float(arg.values[0]) if len(arg.values) else math.nan
        text = repr(q) if math.isfinite(q) else format_float(q)
        labels = tuple(lbls.with_label(label, text) for lbls in result.labels)
        parts.append(replace(result, labels=labels))
    if not parts:
        return VectorSteps(
            (),
            np.empty((0, len(call.times))),
            np.zeros((0, len(call.times)), dtype=bool),
            np.zeros(0, dtype=bool),
        )
    return merge_same_labels(
        VectorSteps(
            tuple(lbls for p in parts for lbls in p.labels),
            np.concatenate([p.values for p in parts]),
            np.concatenate([p.present for p in parts]),
            np.concatenate([p.drop_name for p in parts]),
        )
    )


FUNCTIONS["histogram_quantiles"] = _histogram_quantiles
_AWARE["histogram_quantiles"] = lambda call, _: _histogram_quantiles(call)


@_register("timestamp", "absent")
def _of_any_sample(call: FunctionCall, impl: Function) -> Value:
    """Functions that read only where a sample is, not what it is."""
    vector = call.vector(0)
    as_floats = replace(vector, present=vector.has_sample(), hists=None)
    return impl(replace(call, args=(as_floats, *call.args[1:])))


# --- range vectors -----------------------------------------------------------------------------


class _Windows:
    """Where a range vector's histogram samples are: per window, how many, and which."""

    def __init__(self, rng: RangeSteps) -> None:
        assert rng.hists is not None
        self.rng = rng
        self.hists: Hists = rng.hists
        self.is_hist = is_histogram(rng.hists)
        prefix = np.zeros(len(self.is_hist) + 1, dtype=np.int64)
        np.cumsum(self.is_hist, out=prefix[1:])
        self.count: I64 = rng.hi - rng.lo
        self.n_hists: I64 = prefix[rng.hi] - prefix[rng.lo]

    def only_histograms(self, at_least: int) -> list[tuple[int, int]]:
        return _cells((self.n_hists == self.count) & (self.count >= at_least))

    def window(self, row: int, col: int) -> tuple[list[FloatHistogram], list[int]]:
        lo, hi = int(self.rng.lo[row, col]), int(self.rng.hi[row, col])
        return list(self.hists[lo:hi]), self.rng.ts[lo:hi].tolist()

    def result(
        self, floats: Value, float_ok: Bools, hists: Hists, *, keep_name: bool = False
    ) -> VectorSteps:
        assert isinstance(floats, VectorSteps)
        drop = floats.drop_name if keep_name else np.ones(self.rng.n_series, dtype=bool)
        return VectorSteps(
            floats.labels, floats.values, floats.present & float_ok, drop, hists=hists
        )


@_register("rate", "increase", "delta")
def _extrapolated_rate(call: FunctionCall, impl: Function) -> Value:
    w = _Windows(call.range())
    out = no_histograms(w.count.shape)
    for row, col in w.only_histograms(2):
        points, ts = w.window(row, col)
        out[row, col] = _extrapolated(call.name, w.rng, col, points, ts)
    return w.result(impl(_floats_only(call)), w.n_hists == 0, out)


def _extrapolated(
    name: str, rng: RangeSteps, col: int, points: list[FloatHistogram], ts: list[int]
) -> FloatHistogram | None:
    is_counter = name != "delta"
    delta = _histogram_delta(points, is_counter)
    if delta is None:
        return None
    range_end = int(rng.window_end[col])
    range_start = range_end - rng.range_ms
    to_start = (ts[0] - range_start) / 1000.0
    to_end = (range_end - ts[-1]) / 1000.0
    sampled = (ts[-1] - ts[0]) / 1000.0
    average = sampled / (len(ts) - 1)
    threshold = average * 1.1
    if to_start >= threshold:
        to_start = average / 2
    if is_counter and delta.count > 0 and points[0].count >= 0:
        to_start = min(to_start, sampled * (points[0].count / delta.count))
    if to_end >= threshold:
        to_end = average / 2
    factor = (sampled + to_start + to_end) / sampled
    if name == "rate":
        factor /= rng.range_ms / 1000.0
    return delta.scale(factor)


def _histogram_delta(points: list[FloatHistogram], is_counter: bool) -> FloatHistogram | None:
    """Last minus first, with counter resets added back (counters); None when the layouts
    cannot be combined."""
    prev, last = points[0], points[-1]
    if is_counter and points[1].detect_reset(prev):
        second = points[1]
        prev = FloatHistogram(schema=second.schema, custom_values=second.custom_values)
    custom = prev.uses_custom_buckets
    schema = min(prev.schema, last.schema)
    for h in points[1:-1]:
        if is_counter:
            schema = min(schema, h.schema)
        if h.uses_custom_buckets != custom:
            return None
    try:
        result = last if custom else last.to_schema(schema)
        result = result.sub(prev)
        if is_counter:
            before = prev
            for h in points[1:]:
                if h.detect_reset(before):
                    result = result.add(before)
                before = h
    except HistogramError:
        return None
    return result.with_hint(CounterResetHint.GAUGE).compact()


@_register("irate", "idelta")
def _instant_rate(call: FunctionCall, impl: Function) -> Value:
    w = _Windows(call.range())
    rng = w.rng
    last = np.clip(rng.hi - 1, 0, None)
    prev = np.clip(rng.hi - 2, 0, None)
    is_hist = np.append(w.is_hist, False)
    both_float = ~is_hist[last] & ~is_hist[prev]
    out = no_histograms(w.count.shape)
    for row, col in _cells(is_hist[last] & is_hist[prev] & (w.count >= 2)):
        a, b = int(prev[row, col]), int(last[row, col])
        interval = int(rng.ts[b]) - int(rng.ts[a])
        if interval == 0:
            continue
        earlier, later = w.hists[a], w.hists[b]
        try:
            if call.name == "irate" and later.detect_reset(earlier):
                result = later
            else:
                result = later.sub(earlier)
        except HistogramError:
            continue
        if call.name == "irate":
            result = result.divide(interval / 1000.0)
        out[row, col] = result.with_hint(CounterResetHint.GAUGE).compact()
    return w.result(impl(_floats_only(call)), both_float, out)


@_register(
    "count_over_time",
    "present_over_time",
    "absent_over_time",
    "ts_of_last_over_time",
    "ts_of_first_over_time",
)
def _of_any_window_sample(call: FunctionCall, impl: Function) -> Value:
    return impl(call)


@_register("last_over_time", "first_over_time")
def _last_over_time(call: FunctionCall, impl: Function) -> Value:
    w = _Windows(call.range())
    top = max(len(w.is_hist) - 1, 0)
    idx = (
        np.clip(w.rng.hi - 1, 0, top)
        if call.name == "last_over_time"
        else np.minimum(w.rng.lo, top)
    )
    picked = (
        histograms_where(w.count > 0, w.hists[idx]) if len(w.is_hist) else no_histograms(idx.shape)
    )
    floats = impl(call)
    return w.result(floats, ~is_histogram(picked), picked, keep_name=True)


@_register("sum_over_time", "avg_over_time")
def _sum_over_time(call: FunctionCall, impl: Function) -> Value:
    w = _Windows(call.range())
    out = no_histograms(w.count.shape)
    for row, col in w.only_histograms(1):
        points, _ = w.window(row, col)
        try:
            total = sum_histograms(points)
        except HistogramError:
            continue
        out[row, col] = mean_histograms(points) if call.name == "avg_over_time" else total
    return w.result(impl(_floats_only(call)), w.n_hists == 0, out)


@_register("changes", "resets")
def _changes(call: FunctionCall, _: Function) -> Value:
    w = _Windows(call.range())
    rng = w.rng
    values: F64 = np.zeros(w.count.shape)
    for row, col in _cells(w.count >= 1):
        lo, hi = int(rng.lo[row, col]), int(rng.hi[row, col])
        values[row, col] = sum(
            _counts_as(call.name, rng.vals[i - 1], w.hists[i - 1], rng.vals[i], w.hists[i])
            for i in range(lo + 1, hi)
        )
    return VectorSteps(rng.labels, values, w.count >= 1, np.ones(rng.n_series, dtype=bool))


def _counts_as(
    name: str,
    prev_v: float,
    prev_h: FloatHistogram | None,
    cur_v: float,
    cur_h: FloatHistogram | None,
) -> bool:
    if prev_h is None and cur_h is None:
        if name == "resets":
            return bool(cur_v < prev_v)
        return bool(cur_v != prev_v and not (math.isnan(cur_v) and math.isnan(prev_v)))
    if prev_h is None or cur_h is None:
        return True
    return cur_h.detect_reset(prev_h) if name == "resets" else not cur_h.equals(prev_h)
