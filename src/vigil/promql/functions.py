"""PromQL's float functions, each computed for every series and step at once.

Range-vector functions see a `RangeSteps`: windows are index ranges into flat sample arrays,
so first/last/count come from index arithmetic, counter resets and changes from prefix sums,
and order-dependent reductions (Kahan sums, quantiles) from a padded (windows × samples) view.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from vigil.model import METRIC_NAME, Labels, MatchType
from vigil.model.histogram import CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Span
from vigil.model.labels import is_legacy_label_name
from vigil.model.regex import Regex, RegexError, RegexMatch
from vigil.promql import ast
from vigil.promql.aggregation import kahan_inc
from vigil.promql.errors import QueryError
from vigil.promql.value import (
    F64,
    I64,
    Bools,
    RangeSteps,
    ScalarSteps,
    StringValue,
    Value,
    VectorSteps,
    merge_same_labels,
    without_name,
)


class Guard(Protocol):
    """The running query's limits, for functions whose work or memory grows with a window's
    length: each raises the query's error (timeout, too many samples) when it is exceeded."""

    def check_deadline(self) -> None: ...

    def reserve(self, cells: int) -> None: ...


class _Unguarded:
    def check_deadline(self) -> None:
        return None

    def reserve(self, cells: int) -> None:
        return None


UNGUARDED: Guard = _Unguarded()


@dataclass(frozen=True, slots=True)
class FunctionCall:
    name: str
    args: tuple[Value, ...]
    exprs: tuple[ast.Expr, ...]
    times: I64
    query_start_ms: int = 0
    query_end_ms: int = 0
    query_step_ms: int = 0
    guard: Guard = field(default_factory=lambda: UNGUARDED)

    def vector(self, i: int = 0) -> VectorSteps:
        arg = self.args[i]
        assert isinstance(arg, VectorSteps)
        return arg

    def range(self, i: int = 0) -> RangeSteps:
        arg = self.args[i]
        assert isinstance(arg, RangeSteps)
        return arg

    def scalar(self, i: int) -> F64:
        arg = self.args[i]
        assert isinstance(arg, ScalarSteps)
        return arg.values

    def string(self, i: int) -> str:
        arg = self.args[i]
        assert isinstance(arg, StringValue)
        return arg.value


Function = Callable[[FunctionCall], Value]
FUNCTIONS: dict[str, Function] = {}


def _register(*names: str) -> Callable[[Function], Function]:
    def wrap(fn: Function) -> Function:
        for name in names:
            FUNCTIONS[name] = fn
        return fn

    return wrap


def _dropping(vector: VectorSteps, values: F64, present: Bools | None = None) -> VectorSteps:
    return VectorSteps(
        vector.labels,
        values,
        vector.present if present is None else present,
        np.ones(vector.n_series, dtype=bool),
    )


# --- elementwise ------------------------------------------------------------------------------


def _sgn(v: F64) -> F64:
    """Prometheus returns a zero as it is: `sgn(-0)` is -0."""
    return np.where(v == 0, v, np.sign(v))


def _deg(v: F64) -> F64:
    """`v * 180 / math.Pi` in Go's order (np.degrees rounds differently in the last bit)."""
    return v * 180 / np.pi


def _rad(v: F64) -> F64:
    return v * np.pi / 180


_ELEMENTWISE: dict[str, Callable[[F64], F64]] = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sgn": _sgn,
    "acos": np.arccos,
    "acosh": np.arccosh,
    "asin": np.arcsin,
    "asinh": np.arcsinh,
    "atan": np.arctan,
    "atanh": np.arctanh,
    "cos": np.cos,
    "cosh": np.cosh,
    "sin": np.sin,
    "sinh": np.sinh,
    "tan": np.tan,
    "tanh": np.tanh,
    "deg": _deg,
    "rad": _rad,
}


def _elementwise(call: FunctionCall) -> Value:
    vector = call.vector()
    with np.errstate(all="ignore"):
        return _dropping(vector, _ELEMENTWISE[call.name](vector.values))


for _name in _ELEMENTWISE:
    FUNCTIONS[_name] = _elementwise


@_register("round")
def _round(call: FunctionCall) -> Value:
    vector = call.vector()
    to_nearest = call.scalar(1)[None, :] if len(call.args) > 1 else np.ones((1, 1))
    with np.errstate(all="ignore"):
        inverse = 1.0 / to_nearest
        return _dropping(vector, np.floor(vector.values * inverse + 0.5) / inverse)


@_register("clamp")
def _clamp(call: FunctionCall) -> Value:
    vector = call.vector()
    low, high = call.scalar(1)[None, :], call.scalar(2)[None, :]
    values = np.maximum(low, np.minimum(high, vector.values))
    present = vector.present & ~(high < low)
    return _dropping(vector, values, present)


@_register("clamp_min")
def _clamp_min(call: FunctionCall) -> Value:
    vector = call.vector()
    low = call.scalar(1)[None, :]
    return _dropping(vector, np.maximum(low, vector.values))


@_register("clamp_max")
def _clamp_max(call: FunctionCall) -> Value:
    vector = call.vector()
    high = call.scalar(1)[None, :]
    return _dropping(vector, np.minimum(high, vector.values))


# --- time ------------------------------------------------------------------------------------

_CUMULATIVE_DAYS = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _calendar(seconds: F64) -> dict[str, F64]:
    """Civil UTC calendar fields of Unix times, vectorised (Howard Hinnant's algorithm)."""
    finite = np.isfinite(seconds)
    secs = np.where(finite, np.trunc(np.where(finite, seconds, 0)), 0).astype(np.int64)
    days = np.floor_divide(secs, 86400)
    in_day = secs - days * 86400
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy_march = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy_march + 2) // 153
    day = doy_march - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    day_of_year = _CUMULATIVE_DAYS[month - 1] + day + (leap & (month > 2))
    days_in_month = _MONTH_DAYS[month - 1] + (leap & (month == 2))
    fields = {
        "year": year,
        "month": month,
        "day_of_month": day,
        "day_of_year": day_of_year,
        "day_of_week": np.mod(days + 4, 7),
        "days_in_month": days_in_month,
        "hour": in_day // 3600,
        "minute": (in_day % 3600) // 60,
    }
    return {k: np.where(finite, v.astype(np.float64), np.nan) for k, v in fields.items()}


def _time_field(call: FunctionCall) -> Value:
    if not call.args:
        values = _calendar(call.times / 1000.0)[call.name]
        return VectorSteps(
            (Labels(),),
            values[None, :],
            np.ones((1, len(call.times)), dtype=bool),
            np.ones(1, bool),
        )
    vector = call.vector()
    return _dropping(vector, _calendar(vector.values)[call.name])


for _name in (
    "year",
    "month",
    "day_of_month",
    "day_of_year",
    "day_of_week",
    "days_in_month",
    "hour",
    "minute",
):
    FUNCTIONS[_name] = _time_field


@_register("time")
def _time(call: FunctionCall) -> Value:
    return ScalarSteps(call.times / 1000.0)


@_register("step", "range", "start", "end")
def _query_parameter(call: FunctionCall) -> Value:
    """Prometheus 3's query-parameter functions, in seconds (instant queries have step 0)."""
    seconds = {
        "step": call.query_step_ms,
        "range": call.query_end_ms - call.query_start_ms,
        "start": call.query_start_ms,
        "end": call.query_end_ms,
    }[call.name] / 1000.0
    return ScalarSteps(np.full(len(call.times), seconds))


@_register("min_of", "max_of")
def _min_of(call: FunctionCall) -> Value:
    combine = np.minimum if call.name == "min_of" else np.maximum
    return ScalarSteps(combine(call.scalar(0), call.scalar(1)))


@_register("pi")
def _pi(call: FunctionCall) -> Value:
    return ScalarSteps(np.full(len(call.times), math.pi))


@_register("timestamp")
def _timestamp(call: FunctionCall) -> Value:
    vector = call.vector()
    if vector.sample_ts is not None and isinstance(call.exprs[0], ast.VectorSelector):
        stamps = vector.sample_ts / 1000.0
    else:
        stamps = np.broadcast_to(call.times[None, :] / 1000.0, vector.values.shape)
    return _dropping(vector, np.array(stamps, dtype=np.float64))


@_register("vector")
def _vector(call: FunctionCall) -> Value:
    values = call.scalar(0)
    return VectorSteps(
        (Labels(),),
        values[None, :].copy(),
        np.ones((1, len(values)), dtype=bool),
        np.zeros(1, bool),
    )


@_register("scalar")
def _scalar(call: FunctionCall) -> Value:
    vector = call.vector()
    counts = vector.present.sum(axis=0)
    first = np.argmax(vector.present, axis=0) if vector.n_series else np.zeros(len(call.times), int)
    values = (
        vector.values[first, np.arange(len(call.times))]
        if vector.n_series
        else np.full(len(call.times), np.nan)
    )
    return ScalarSteps(np.where(counts == 1, values, np.nan))


# --- sorting (only meaningful for instant queries) -------------------------------------------


def _reorder(vector: VectorSteps, order: list[int]) -> VectorSteps:
    rows = np.asarray(order, dtype=np.int64)
    return VectorSteps(
        tuple(vector.labels[i] for i in order),
        vector.values[rows],
        vector.present[rows],
        vector.drop_name[rows],
        hists=None if vector.hists is None else vector.hists[rows],
    )


@_register("sort", "sort_desc")
def _sort(call: FunctionCall) -> Value:
    vector = call.vector()
    if len(call.times) != 1:
        return vector
    col = vector.values[:, 0]
    desc = call.name == "sort_desc"
    order = sorted(
        range(vector.n_series),
        key=lambda i: (bool(np.isnan(col[i])), -col[i] if desc else col[i]),
    )
    return _reorder(vector, order)


def _natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in re.findall(r"\d+|\D+", text)
    )


@_register("sort_by_label", "sort_by_label_desc")
def _sort_by_label(call: FunctionCall) -> Value:
    vector = call.vector()
    names = [call.string(i) for i in range(1, len(call.args))]
    order = sorted(
        range(vector.n_series),
        key=lambda i: (
            tuple(_natural_key(vector.labels[i].get(n)) for n in names),
            vector.labels[i],
        ),
        reverse=call.name == "sort_by_label_desc",
    )
    return _reorder(vector, order)


# --- labels ----------------------------------------------------------------------------------


_GO_TEMPLATE = re.compile(r"\$(?:(\$)|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _expand(template: str, match: RegexMatch) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`; unknown groups expand to ""."""

    def replace(m: re.Match[str]) -> str:
        if m.group(1):
            return "$"
        ref = m.group(2) or m.group(3)
        try:
            value = match.group(int(ref)) if ref.isdigit() else match.group(ref)
        except IndexError:
            return ""
        return value or ""

    return _GO_TEMPLATE.sub(replace, template)


def _relabelled(vector: VectorSteps, labels: list[Labels], dst: str) -> VectorSteps:
    drop = vector.drop_name.copy()
    if dst == METRIC_NAME:
        drop[:] = False
    return merge_same_labels(
        VectorSteps(tuple(labels), vector.values, vector.present, drop, hists=vector.hists)
    )


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Regex:
    """label_replace's regex, compiled once: a rule runs the same one at every evaluation."""
    return Regex(pattern)


@_register("label_replace")
def _label_replace(call: FunctionCall) -> Value:
    vector = call.vector()
    dst, replacement, src, pattern = (call.string(i) for i in range(1, 5))
    try:
        regex = _compiled(pattern)
    except RegexError as err:
        raise QueryError(
            f"invalid regular expression in label_replace(): {pattern}: {err}"
        ) from None
    if not (is_legacy_label_name(dst) or (dst and dst.isprintable())):
        raise QueryError(f"invalid destination label name in label_replace(): {dst}")
    out = []
    for lbls in vector.labels:
        match = regex.captures(lbls.get(src))
        if match is None:
            out.append(lbls)
            continue
        value = _expand(replacement, match)
        out.append(lbls.with_label(dst, value) if value else lbls.without(dst))
    return _relabelled(vector, out, dst)


@_register("label_join")
def _label_join(call: FunctionCall) -> Value:
    vector = call.vector()
    dst, sep = call.string(1), call.string(2)
    sources = [call.string(i) for i in range(3, len(call.args))]
    if not (is_legacy_label_name(dst) or (dst and dst.isprintable())):
        raise QueryError(f"invalid destination label name in label_join(): {dst}")
    for src in sources:
        if not (is_legacy_label_name(src) or src.isprintable()):
            raise QueryError(f"invalid source label name in label_join(): {src}")
    out = []
    for lbls in vector.labels:
        value = sep.join(lbls.get(src) for src in sources)
        out.append(lbls.with_label(dst, value) if value else lbls.without(dst))
    return _relabelled(vector, out, dst)


# --- absent ----------------------------------------------------------------------------------


def _absent_labels(expr: ast.Expr) -> Labels:
    if isinstance(expr, ast.MatrixSelector):
        expr = expr.selector
    if isinstance(expr, ast.Subquery):
        return Labels()
    if not isinstance(expr, ast.VectorSelector) or len(expr.matcher_groups) != 1:
        return Labels()
    pairs: dict[str, str] = {}
    conflicting: set[str] = set()
    for m in expr.matcher_groups[0]:
        if m.name == METRIC_NAME:
            continue
        if m.type is MatchType.EQUAL and m.name not in pairs and m.name not in conflicting:
            pairs[m.name] = m.value
        else:
            conflicting.add(m.name)
            pairs.pop(m.name, None)
    return Labels.from_dict(pairs)


def _absent_result(any_present: Bools, expr: ast.Expr) -> VectorSteps:
    return VectorSteps(
        (_absent_labels(expr),),
        np.ones((1, len(any_present))),
        ~any_present[None, :],
        np.zeros(1, dtype=bool),
    )


@_register("absent")
def _absent(call: FunctionCall) -> Value:
    return _absent_result(np.asarray(call.vector().present.any(axis=0)), call.exprs[0])


@_register("absent_over_time")
def _absent_over_time(call: FunctionCall) -> Value:
    rng = call.range()
    return _absent_result(np.asarray((rng.hi > rng.lo).any(axis=0)), call.exprs[0])


# --- range-vector functions ------------------------------------------------------------------


class _Windows:
    """Views of a RangeSteps' windows: counts, first/last indices, padded samples."""

    def __init__(self, rng: RangeSteps, guard: Guard) -> None:
        self.rng = rng
        self.guard = guard
        self.count = rng.hi - rng.lo
        # An empty window may start at the end of the samples (a series that stopped before
        # the range ended, last in the batch): clamp so indexing stays in bounds; `present`
        # masks what such windows compute.
        top = max(len(rng.vals) - 1, 0)
        self.first = np.minimum(rng.lo, top)
        self.last = np.clip(rng.hi - 1, 0, top)

    def result(self, values: F64, present: Bools, *, keep_name: bool = False) -> VectorSteps:
        drop = self.rng.drop_name.copy() if keep_name else np.ones(self.rng.n_series, dtype=bool)
        return VectorSteps(self.rng.labels, values, present, drop)

    def padded(self) -> tuple[F64, I64, Bools]:
        """(values, timestamps, valid) of shape (series, steps, max window length)."""
        width = int(self.count.max(initial=0))
        self.guard.reserve(self.count.size * width)
        idx = self.rng.lo[..., None] + np.arange(width)
        valid = idx < self.rng.hi[..., None]
        if len(self.rng.vals) == 0:
            shape = (*self.count.shape, width)
            return np.zeros(shape), np.zeros(shape, dtype=np.int64), valid
        safe = np.minimum(idx, len(self.rng.vals) - 1)
        return self.rng.vals[safe], self.rng.ts[safe], valid

    def pair_prefix(self, flags: Bools) -> I64:
        """Sum of `flags[i]` (a property of samples i-1 and i) over each window's pairs;
        both samples of a pair inside one window always belong to the same series."""
        prefix = np.concatenate(([0], np.cumsum(flags)))
        inner_start = np.minimum(self.rng.lo + 1, self.rng.hi)
        total: I64 = prefix[self.rng.hi] - prefix[inner_start]
        return total


_PADDED_BLOCK = 1 << 21  # samples per block when windows must be walked sample by sample
_PREFIX_RTOL = 1e-12  # a prefix-sum window whose error bound passes this is summed exactly
_EPS = float(np.finfo(np.float64).eps)


def _over_padded(
    rng: RangeSteps, select: Bools, rows: Callable[[F64, I64, Bools, I64], F64], guard: Guard
) -> F64:
    """`rows(values, timestamps, valid, count)` over the selected windows, padded to their
    longest, a block of windows at a time so memory stays bounded; one result per window."""
    lo, hi = rng.lo[select], rng.hi[select]
    count = hi - lo
    out = np.empty(len(lo))
    if not len(lo):
        return out
    width = int(count.max())
    if width == 0 or not len(rng.vals):
        empty = np.zeros((len(lo), width))
        return rows(empty, empty.astype(np.int64), np.zeros(empty.shape, dtype=bool), count)
    step = max(1, _PADDED_BLOCK // width)
    offsets = np.arange(width)
    for at in range(0, len(lo), step):
        guard.check_deadline()
        block = slice(at, at + step)
        idx = lo[block, None] + offsets
        valid = idx < hi[block, None]
        safe = np.minimum(idx, len(rng.vals) - 1)
        out[block] = rows(rng.vals[safe], rng.ts[safe], valid, count[block])
    return out


def _prefix_sums(rng: RangeSteps, values: F64, guard: Guard) -> tuple[F64, F64]:
    """Each window's sum of `values` (finite) from per-series prefix sums, and a bound of its
    rounding error: the steps of a prefix between a window's edges are all that differ."""
    sums, spread = np.zeros(rng.lo.shape), np.zeros(rng.lo.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        for s in range(rng.lo.shape[0]):
            guard.check_deadline()
            lo, hi = rng.lo[s], rng.hi[s]
            if not len(lo):
                break
            first, end = int(lo.min()), int(hi.max())
            if first >= end:
                continue
            prefix = np.zeros(end - first + 1)
            np.cumsum(values[first:end], out=prefix[1:])
            magnitude = np.zeros(end - first + 1)
            np.cumsum(np.abs(prefix[1:]), out=magnitude[1:])
            sums[s] = prefix[hi - first] - prefix[lo - first]
            spread[s] = magnitude[hi - first] - magnitude[lo - first]
        return sums, _EPS * (2 * spread + np.abs(sums))


def _pairs(vals: F64) -> tuple[F64, F64]:
    prev = np.concatenate(([np.nan], vals[:-1]))
    return prev, vals


@_register("rate", "increase", "delta")
def _extrapolated_rate(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    is_counter = call.name != "delta"
    present = w.count >= 2
    first_v, last_v = (
        rng.vals[w.first] if len(rng.vals) else w.first * 0.0,
        rng.vals[w.last] if len(rng.vals) else w.last * 0.0,
    )
    first_t = rng.ts[w.first] if len(rng.ts) else w.first
    last_t = rng.ts[w.last] if len(rng.ts) else w.last
    with np.errstate(all="ignore"):
        result = last_v - first_v
        if is_counter and len(rng.vals):
            prev, cur = _pairs(rng.vals)
            drops = cur < prev
            has_reset = w.pair_prefix(drops) > 0
            if has_reset.any():  # only windows with a reset are walked sample by sample
                result[has_reset] += _over_padded(rng, has_reset, _reset_corrections, w.guard)
        range_end = rng.window_end[None, :]
        range_start = range_end - rng.range_ms
        to_start = (first_t - range_start) / 1000.0
        to_end = (range_end - last_t) / 1000.0
        sampled = (last_t - first_t) / 1000.0
        average = sampled / (w.count - 1)
        threshold = average * 1.1
        to_start = np.where(to_start >= threshold, average / 2, to_start)
        if is_counter:
            to_zero = np.where(
                (result > 0) & (first_v >= 0), sampled * (first_v / result), to_start
            )
            to_start = np.where(to_zero < to_start, to_zero, to_start)
        to_end = np.where(to_end >= threshold, average / 2, to_end)
        factor = (sampled + to_start + to_end) / sampled
        if call.name == "rate":
            factor = factor / (rng.range_ms / 1000.0)
        result = result * factor
    return w.result(result, present)


def _reset_corrections(vals: F64, _: I64, valid: Bools, __: I64) -> F64:
    """Per window (row): the value before each counter reset, summed."""
    prev, cur = vals[:, :-1], vals[:, 1:]
    corrections: F64 = np.where(valid[:, 1:] & (cur < prev), prev, 0.0).sum(axis=-1)
    return corrections


@_register("irate", "idelta")
def _instant_rate(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    present = w.count >= 2
    if not len(rng.vals):
        return w.result(np.zeros(w.count.shape), present)
    prev_i = np.maximum(rng.hi - 2, 0)
    last_v, prev_v = rng.vals[w.last], rng.vals[prev_i]
    interval = (rng.ts[w.last] - rng.ts[prev_i]).astype(np.float64)
    with np.errstate(all="ignore"):
        if call.name == "irate":
            result = np.where(last_v < prev_v, last_v, last_v - prev_v) / (interval / 1000.0)
        else:
            result = last_v - prev_v
    return w.result(result, present & (interval != 0))


def _regression(w: _Windows, intercept_t: I64) -> tuple[F64, F64]:
    vals, ts, valid = w.padded()
    x = np.where(valid, (ts - intercept_t[..., None]) / 1000.0, 0.0)
    y = np.where(valid, vals, 0.0)
    n = w.count.astype(np.float64)
    with np.errstate(all="ignore"):
        sum_x, sum_y = x.sum(axis=-1), y.sum(axis=-1)
        sum_xy, sum_x2 = (x * y).sum(axis=-1), (x * x).sum(axis=-1)
        cov = sum_xy - sum_x * sum_y / n
        var = sum_x2 - sum_x * sum_x / n
        slope = cov / var
        intercept = sum_y / n - slope * sum_x / n
        first = vals[..., 0] if vals.shape[-1] else np.zeros(n.shape)
        const = (np.where(valid, vals == first[..., None], True)).all(axis=-1)
        slope = np.where(const, np.where(np.isinf(first), np.nan, 0.0), slope)
        intercept = np.where(const, np.where(np.isinf(first), np.nan, first), intercept)
    return slope, intercept


@_register("deriv")
def _deriv(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    first_t = rng.ts[w.first] if len(rng.ts) else w.first
    slope, _ = _regression(w, first_t)
    return w.result(slope, w.count >= 2)


@_register("predict_linear")
def _predict_linear(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    at = np.broadcast_to(rng.eval_times[None, :], w.count.shape)
    slope, intercept = _regression(w, at)
    with np.errstate(all="ignore"):
        return w.result(slope * call.scalar(1)[None, :] + intercept, w.count >= 2)


@_register("changes", "resets")
def _changes(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    prev, cur = _pairs(rng.vals)
    with np.errstate(invalid="ignore"):
        if call.name == "changes":
            flags = ~((cur == prev) | (np.isnan(cur) & np.isnan(prev)))
        else:
            flags = cur < prev
    counts = w.pair_prefix(flags).astype(np.float64) if len(rng.vals) else np.zeros(w.count.shape)
    return w.result(counts, w.count >= 1)


def _kahan_over_windows(w: _Windows, *, mean: bool) -> F64:
    """Prefix sums where their error bound is tiny; Prometheus's compensated order over the
    windows that hold a non-finite value or whose sum cancels."""
    rng, count = w.rng, w.count
    if not len(rng.vals):
        return np.zeros(count.shape)
    finite = np.isfinite(rng.vals)
    sums, error = _prefix_sums(rng, np.where(finite, rng.vals, 0.0), w.guard)
    non_finite = np.concatenate(([0], np.cumsum(~finite)))
    with np.errstate(all="ignore"):
        sums = np.where(count == 1, rng.vals[np.minimum(rng.lo, len(rng.vals) - 1)], sums)
        exact = (count > 1) & (
            (non_finite[rng.hi] > non_finite[rng.lo])
            | ~np.isfinite(sums)
            | ~(error <= _PREFIX_RTOL * np.abs(sums))
        )
        result: F64 = sums / np.maximum(count, 1) if mean else sums
    if exact.any():
        result[exact] = _over_padded(
            rng,
            exact,
            lambda vals, _, valid, n: _kahan_rows(vals, valid, n, mean=mean),
            w.guard,
        )
    return result


def _kahan_rows(vals: F64, valid: Bools, count: I64, *, mean: bool) -> F64:
    shape = count.shape
    total, comp = np.zeros(shape), np.zeros(shape)
    avg, avg_comp = np.zeros(shape), np.zeros(shape)
    incremental = np.zeros(shape, dtype=bool)
    with np.errstate(all="ignore"):
        for j in range(vals.shape[-1]):
            f, p = vals[..., j], valid[..., j]
            if j == 0:
                total = np.where(p, f, 0.0)
                continue
            n = float(j + 1)
            new_t, new_c = kahan_inc(f, total, comp)
            overflow = p & ~incremental & np.isinf(new_t) & mean
            plain = p & ~incremental & ~overflow
            total = np.where(plain, new_t, total)
            comp = np.where(plain, new_c, comp)
            if not mean:
                total = np.where(p & ~plain, new_t, total)
                comp = np.where(p & ~plain, new_c, comp)
                continue
            avg = np.where(overflow, total / (n - 1), avg)
            avg_comp = np.where(overflow, comp / (n - 1), avg_comp)
            incremental |= overflow
            step = p & incremental
            skip = (
                step
                & np.isinf(avg)
                & ((np.isinf(f) & ((avg > 0) == (f > 0))) | (~np.isinf(f) & ~np.isnan(f)))
            )
            q = (n - 1) / n
            m, c = kahan_inc(f / n, q * avg, q * avg_comp)
            avg = np.where(step & ~skip, m, avg)
            avg_comp = np.where(step & ~skip, c, avg_comp)
        total_out = np.where(np.isinf(total), total, total + comp)
        if not mean:
            return total_out
        return np.where(incremental, avg + avg_comp, total_out / np.maximum(count, 1))


@_register("sum_over_time")
def _sum_over_time(call: FunctionCall) -> Value:
    w = _Windows(call.range(), call.guard)
    return w.result(_kahan_over_windows(w, mean=False), w.count > 0)


@_register("avg_over_time")
def _avg_over_time(call: FunctionCall) -> Value:
    w = _Windows(call.range(), call.guard)
    return w.result(_kahan_over_windows(w, mean=True), w.count > 0)


@_register("count_over_time")
def _count_over_time(call: FunctionCall) -> Value:
    w = _Windows(call.range(), call.guard)
    return w.result(w.count.astype(np.float64), w.count > 0)


@_register("present_over_time")
def _present_over_time(call: FunctionCall) -> Value:
    w = _Windows(call.range(), call.guard)
    return w.result(np.ones(w.count.shape), w.count > 0)


@_register("last_over_time", "first_over_time")
def _last_over_time(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    idx = w.last if call.name == "last_over_time" else w.first
    values = rng.vals[idx] if len(rng.vals) else np.zeros(w.count.shape)
    return w.result(values, w.count > 0, keep_name=True)


@_register("ts_of_last_over_time", "ts_of_first_over_time")
def _ts_of_last_over_time(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    idx = w.last if call.name == "ts_of_last_over_time" else w.first
    values = rng.ts[idx] / 1000.0 if len(rng.ts) else np.zeros(w.count.shape)
    return w.result(values, w.count > 0)


@_register("min_over_time", "max_over_time", "ts_of_min_over_time", "ts_of_max_over_time")
def _extreme_over_time(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    present = w.count > 0
    if not len(rng.vals):
        return w.result(np.zeros(w.count.shape), present)
    reduce = np.fmin if "min" in call.name else np.fmax
    if call.name.startswith("ts_of_"):
        stamps = np.zeros(w.count.shape)
        stamps[present] = _over_padded(
            rng,
            present,
            lambda vals, ts, valid, _: _last_extreme_stamp(reduce, vals, ts, valid),
            w.guard,
        )
        return w.result(stamps, present)
    # each window [lo, hi) is one reduceat segment; the gaps between them are dropped
    edges = np.stack((rng.lo, rng.hi), axis=-1).reshape(-1)
    padded_vals = np.append(rng.vals, np.nan)
    with np.errstate(invalid="ignore"):
        best = reduce.reduceat(padded_vals, edges)[::2].reshape(w.count.shape)
    return w.result(np.where(present, best, np.nan), present)


def _last_extreme_stamp(reduce: np.ufunc, vals: F64, ts: I64, valid: Bools) -> F64:
    """The time (s) of the last sample holding the window's min or max (NaN if all are)."""
    with np.errstate(invalid="ignore"):
        best = reduce.reduce(np.where(valid, vals, np.nan), axis=-1)
    hit = valid & ((vals == best[..., None]) | (np.isnan(best)[..., None] & np.isnan(vals)))
    last_hit = vals.shape[-1] - 1 - np.argmax(hit[..., ::-1], axis=-1)
    stamps: F64 = np.take_along_axis(ts, last_hit[..., None], axis=-1)[..., 0] / 1000.0
    return stamps


def _sorted_windows(w: _Windows) -> F64:
    vals, _, valid = w.padded()
    key = np.where(valid, np.where(np.isnan(vals), -np.inf, vals), np.inf)
    key = np.where(valid & np.isneginf(vals), -1.7976931348623157e308, key)
    order = np.argsort(key, axis=-1, kind="stable")
    ordered: F64 = np.take_along_axis(np.where(valid, vals, np.inf), order, axis=-1)
    return ordered


def _window_quantile(w: _Windows, q: F64) -> F64:
    ordered = _sorted_windows(w)
    n_series, n_steps, width = ordered.shape
    qs = np.broadcast_to(q[None, :], (n_series, n_steps)).reshape(-1)
    flat = ordered.reshape(n_series * n_steps, width)
    return _quantile_rows(flat, w.count.reshape(-1), qs).reshape(n_series, n_steps)


def _quantile_rows(ordered: F64, counts: I64, q: F64) -> F64:
    n = counts.astype(np.float64)
    with np.errstate(invalid="ignore"):
        rank = q * (n - 1)
        lower = np.clip(np.floor(rank), 0, None)
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        width = max(ordered.shape[1] - 1, 0)
        lo_i = np.clip(np.nan_to_num(lower), 0, width).astype(np.int64)
        hi_i = np.clip(np.nan_to_num(upper), 0, width).astype(np.int64)
        if ordered.shape[1] == 0:
            return np.full(len(n), np.nan)
        rows = np.arange(len(n))
        lo_v, hi_v = ordered[rows, lo_i], ordered[rows, hi_i]
        value = np.where(weight == 0, lo_v, lo_v * (1 - weight) + hi_v * weight)
    value = np.where(q < 0, -np.inf, np.where(q > 1, np.inf, value))
    return np.where(np.isnan(q) | (n == 0), np.nan, value)


@_register("quantile_over_time")
def _quantile_over_time(call: FunctionCall) -> Value:
    rng = call.range(1)
    w = _Windows(rng, call.guard)
    return w.result(_window_quantile(w, call.scalar(0)), w.count > 0)


@_register("stddev_over_time", "stdvar_over_time")
def _stddev_over_time(call: FunctionCall) -> Value:
    w = _Windows(call.range(), call.guard)
    present = w.count > 0
    variance = np.zeros(w.count.shape)
    variance[present] = _over_padded(w.rng, present, _welford_rows, w.guard)
    with np.errstate(invalid="ignore"):
        values = np.sqrt(variance) if call.name == "stddev_over_time" else variance
    return w.result(values, present)


def _welford_rows(vals: F64, _: I64, valid: Bools, count: I64) -> F64:
    """Prometheus's compensated Welford variance of each padded row."""
    shape = count.shape
    mean, c_mean, aux, c_aux = (np.zeros(shape) for _ in range(4))
    with np.errstate(all="ignore"):
        for j in range(vals.shape[-1]):
            f, p = vals[..., j], valid[..., j]
            delta = f - (mean + c_mean)
            m, cm = kahan_inc(delta / (j + 1), mean, c_mean)
            a, ca = kahan_inc(delta * (f - (m + cm)), aux, c_aux)
            mean, c_mean = np.where(p, m, mean), np.where(p, cm, c_mean)
            aux, c_aux = np.where(p, a, aux), np.where(p, ca, c_aux)
        variance: F64 = (aux + c_aux) / np.maximum(count, 1)
    return variance


@_register("mad_over_time")
def _mad_over_time(call: FunctionCall) -> Value:
    rng = call.range()
    w = _Windows(rng, call.guard)
    half = np.full(len(rng.eval_times), 0.5)
    median = _window_quantile(w, half)
    vals, _, valid = w.padded()
    dev = np.abs(vals - median[..., None])
    dev_rng = _padded_as_range(dev, valid, rng)
    mad = _window_quantile(_Windows(dev_rng, call.guard), half)
    has_nan = (np.isnan(vals) & valid).any(axis=-1)
    return w.result(np.where(has_nan, np.nan, mad), w.count > 0)


def _padded_as_range(values: F64, valid: Bools, rng: RangeSteps) -> RangeSteps:
    counts = valid.sum(axis=-1)
    flat_vals = values[valid]
    ends = np.cumsum(counts.ravel()).reshape(counts.shape)
    return RangeSteps(
        rng.labels,
        rng.drop_name,
        np.zeros(len(flat_vals), dtype=np.int64),
        flat_vals,
        ends - counts,
        ends,
        rng.window_end,
        rng.eval_times,
        rng.range_ms,
    )


@_register("double_exponential_smoothing", "holt_winters")
def _double_exponential_smoothing(call: FunctionCall) -> Value:
    w = _Windows(call.range(), call.guard)
    sf, tf = call.scalar(1), call.scalar(2)
    if ((sf <= 0) | (sf >= 1)).any():
        raise QueryError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf[0]:f}")
    if ((tf <= 0) | (tf >= 1)).any():
        raise QueryError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf[0]:f}")
    vals, _, valid = w.padded()
    sf_, tf_ = sf[None, :], tf[None, :]
    if vals.shape[-1] < 2:
        return w.result(np.zeros(w.count.shape), w.count >= 2)
    with np.errstate(all="ignore"):
        s1 = vals[..., 0]
        s0 = np.zeros_like(s1)
        b = vals[..., 1] - vals[..., 0]
        for i in range(1, vals.shape[-1]):
            p = valid[..., i]
            x = sf_ * vals[..., i]
            new_b = b if i == 1 else tf_ * (s1 - s0) + (1 - tf_) * b
            y = (1 - sf_) * (s1 + new_b)
            b = np.where(p, new_b, b)
            s0, s1 = np.where(p, s1, s0), np.where(p, x + y, s1)
    return w.result(s1, w.count >= 2)


# --- histograms --------------------------------------------------------------------------------


@_register("histogram_quantile")
def _histogram_quantile(call: FunctionCall) -> Value:
    q = call.scalar(0)
    return _classic_histograms(
        call.vector(1),
        len(call.times),
        lambda col, uppers, counts: _bucket_quantile_one(float(q[col]), uppers, counts),
    )


@_register("histogram_fraction")
def _histogram_fraction(call: FunctionCall) -> Value:
    lower, upper = call.scalar(0), call.scalar(1)
    return _classic_histograms(
        call.vector(2),
        len(call.times),
        lambda col, uppers, counts: _bucket_fraction(
            float(lower[col]), float(upper[col]), uppers, counts
        ),
    )


def _bucket_fraction(lower: float, upper: float, uppers: F64, counts: F64) -> float:
    """A classic histogram's fraction, as that of the custom-bucket histogram it converts to."""
    if len(uppers) == 0 or not math.isinf(uppers[-1]) or uppers[-1] < 0:
        return math.nan
    cumulative = np.maximum.accumulate(counts)
    per_bucket = np.diff(cumulative, prepend=0.0)
    histogram = FloatHistogram(
        schema=CUSTOM_BUCKETS_SCHEMA,
        count=float(cumulative[-1]),
        custom_values=tuple(uppers[:-1].tolist()),
        positive_spans=(Span(0, len(per_bucket)),),
        positive_buckets=tuple(per_bucket.tolist()),
    )
    return histogram.fraction(lower, upper)


def _classic_histograms(
    vector: VectorSteps, n_steps: int, per_step: Callable[[int, F64, F64], float]
) -> VectorSteps:
    """`per_step(step, upper bounds, counts)` of each classic histogram (series told apart by
    `le`, grouped by their other labels, name included) at each step it has buckets. Two
    histograms that differ only in name clash (an error) where both have buckets."""
    groups: dict[Labels, list[tuple[float, int]]] = {}
    for row, lbls in enumerate(vector.labels):
        le_text = lbls.get("le")
        if not le_text and "le" not in dict(lbls):
            continue
        try:
            le = float(le_text)
        except ValueError:
            continue
        groups.setdefault(lbls.without("le"), []).append((le, row))
    labels: list[Labels] = []
    value_rows: list[F64] = []
    present_rows: list[Bools] = []
    for key, buckets in groups.items():
        buckets.sort()
        uppers = np.array([b[0] for b in buckets])
        rows = np.array([b[1] for b in buckets])
        values, present = _per_step(per_step, uppers, vector.values[rows], vector.present[rows])
        labels.append(without_name(key))
        value_rows.append(values)
        present_rows.append(present)
    if not labels:
        n = n_steps
        return VectorSteps((), np.empty((0, n)), np.zeros((0, n), dtype=bool), np.zeros(0, bool))
    return merge_same_labels(
        VectorSteps(
            tuple(labels), np.array(value_rows), np.array(present_rows), np.zeros(len(labels), bool)
        )
    )


def _per_step(
    per_step: Callable[[int, F64, F64], float], uppers: F64, counts: F64, present: Bools
) -> tuple[F64, Bools]:
    n_steps = counts.shape[1]
    out = np.full(n_steps, np.nan)
    any_present = present.any(axis=0)
    for col in np.nonzero(any_present)[0]:
        mask = present[:, col]
        out[col] = per_step(int(col), uppers[mask], counts[mask, col].copy())
    return out, np.asarray(any_present)


def _bucket_quantile_one(q: float, uppers: F64, counts: F64) -> float:
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if len(uppers) == 0 or not math.isinf(uppers[-1]) or uppers[-1] < 0:
        return math.nan
    merged_u: list[float] = []
    merged_c: list[float] = []
    for u, c in zip(uppers.tolist(), counts.tolist(), strict=True):
        if merged_u and merged_u[-1] == u:
            merged_c[-1] += c
        else:
            merged_u.append(u)
            merged_c.append(c)
    prev = merged_c[0]
    for i in range(1, len(merged_c)):
        curr = merged_c[i]
        if curr == prev:
            continue
        if abs(curr - prev) < 1e-12 * max(abs(curr), abs(prev)):
            merged_c[i] = prev
            continue
        if curr < prev:
            merged_c[i] = prev
            continue
        prev = curr
    if len(merged_u) < 2:
        return math.nan
    observations = merged_c[-1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    b = len(merged_c) - 1
    for i in range(len(merged_c) - 1):
        if merged_c[i] >= rank:
            b = i
            break
    if b == len(merged_c) - 1:
        return merged_u[-2]
    if b == 0 and merged_u[0] <= 0:
        return merged_u[0]
    start = 0.0
    end = merged_u[b]
    count = merged_c[b]
    if b > 0:
        start = merged_u[b - 1]
        count -= merged_c[b - 1]
        rank -= merged_c[b - 1]
    return start + (end - start) * (rank / count)


@_register(
    "histogram_count",
    "histogram_sum",
    "histogram_avg",
    "histogram_stddev",
    "histogram_stdvar",
)
def _native_histogram_only(call: FunctionCall) -> Value:
    n = len(call.times)
    return VectorSteps((), np.empty((0, n)), np.zeros((0, n), dtype=bool), np.zeros(0, bool))
