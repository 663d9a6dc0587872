"""The PromQL engine: evaluates each node of a query once over the query's whole step grid.

Instant queries are range queries with one step. Selectors fetch every series once for the
whole range and locate each step's sample (or window) with one `searchsorted` over all series.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from vigil.model import Labels
from vigil.promql import ast
from vigil.promql.aggregation import aggregate
from vigil.promql.binary import evaluate_binary
from vigil.promql.errors import (
    InvalidQueryError,
    QueryCancelledError,
    QueryError,
    QueryTimeoutError,
    StorageError,
    TooManySamplesError,
)
from vigil.promql.functions import FUNCTIONS, FunctionCall
from vigil.promql.histograms import (
    call_with_histograms,
    negate_histograms,
    repeats_not_reset,
)
from vigil.promql.parser import parse as _parse_uncached
from vigil.promql.value import (
    F64,
    I64,
    Bools,
    Hists,
    Matrix,
    QueryResult,
    QueryValue,
    RangeSteps,
    Sample,
    Scalar,
    ScalarSteps,
    Series,
    String,
    StringValue,
    Value,
    Vector,
    VectorSteps,
    empty_vector,
    histograms_where,
    is_histogram,
    merge_same_labels,
    without_name,
)
from vigil.tsdb import (
    CorruptDataError,
    Querier,
    SelectHints,
    SeriesBatch,
    is_stale_marker,
    merge_batches,
)
from vigil.tsdb.heap import trim_heap

Queryable = Callable[[int, int], Querier]


class QueryEngine(Protocol):
    """What the rule engine and the HTTP API run PromQL through: the local `Engine`, or
    `vigil.remote.RemoteEngine` over an external Prometheus-compatible API.

    `in_process` is true when a query only costs this process's CPU (it never waits on the
    network), so a caller may run a query known to be quick on its event loop."""

    in_process: bool

    def instant_query(
        self, query: str, t_ms: int, *, timeout_s: float | None = None, queued_s: float = 0.0
    ) -> QueryResult:
        """`timeout_s` is the caller's own limit (a request's `timeout`), `queued_s` how long
        the query already waited for a slot: both limits count from when it was queued."""
        ...

    def range_query(
        self,
        query: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        timeout_s: float | None = None,
        queued_s: float = 0.0,
    ) -> QueryResult: ...

    def close(self) -> None:
        """Release what the engine holds (connections); queries after it are an error."""
        ...


# A query whose step grids reached this many cells (8 MB per float grid) gives the memory it
# freed back to the system afterwards.
TRIM_AFTER_CELLS = 1_000_000

# Rule groups and dashboards send the same texts again and again; the AST is immutable.
parse = functools.lru_cache(maxsize=4096)(_parse_uncached)


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Prometheus's query flags: `--query.lookback-delta`, `--query.max-samples`,
    `--query.timeout`, and the step of subqueries written without one (the loaded config's
    global `evaluation_interval`, as Prometheus has it)."""

    lookback_delta_ms: int = 300_000
    max_samples: int = 50_000_000
    timeout_s: float | None = 120.0
    default_subquery_step_ms: int = 60_000


class Engine:
    """Runs PromQL against whatever storage `queryable(mint, maxt)` opens."""

    in_process = True

    def __init__(
        self,
        queryable: Queryable,
        options: EngineOptions | None = None,
        clock: Callable[[], float] = time.monotonic,
        release: Callable[[], object] = trim_heap,
    ) -> None:
        """`release` runs after a query whose step grids reached TRIM_AFTER_CELLS cells."""
        self._queryable = queryable
        self._options = options or EngineOptions()
        self._clock = clock
        self._release = release
        self._cancelled = threading.Event()

    @property
    def options(self) -> EngineOptions:
        return self._options

    def reconfigure(self, options: EngineOptions) -> None:
        """Queries started from now on run with `options` (a config reload); those running
        keep the options they started with."""
        self._options = options

    def instant_query(
        self, query: str, t_ms: int, *, timeout_s: float | None = None, queued_s: float = 0.0
    ) -> QueryResult:
        deadline = self._deadline(timeout_s, queued_s)
        expr = parse(query, step_ms=0, range_ms=0)
        return self._run(expr, t_ms, t_ms, 1, deadline, instant=True)

    def range_query(
        self,
        query: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        timeout_s: float | None = None,
        queued_s: float = 0.0,
    ) -> QueryResult:
        deadline = self._deadline(timeout_s, queued_s)
        if step_ms <= 0:
            raise QueryError("zero or negative query resolution step widths are not accepted")
        if end_ms < start_ms:
            raise QueryError("end timestamp must not be before start time")
        expr = parse(query, step_ms=step_ms, range_ms=end_ms - start_ms)
        if isinstance(expr, ast.MatrixSelector | ast.Subquery | ast.StringLiteral):
            kind = "string" if isinstance(expr, ast.StringLiteral) else "range vector"
            raise InvalidQueryError(
                f'invalid expression type "{kind}" for range query, must be Scalar or instant Vector'
            )
        return self._run(expr, start_ms, end_ms, step_ms, deadline, instant=False)

    def close(self) -> None:
        return None

    def cancel(self) -> None:
        """Shutdown's first step: running queries stop at their next step with
        QueryCancelledError, and later ones are refused with it."""
        self._cancelled.set()

    def _deadline(self, timeout_s: float | None, queued_s: float) -> float | None:
        """When the query must be done on the engine's clock: the tighter of --query.timeout
        and the caller's limit, less the time it spent queued."""
        limits = [t for t in (self._options.timeout_s, timeout_s) if t is not None]
        if not limits:
            return None
        budget = min(limits) - queued_s
        if budget <= 0:
            raise QueryTimeoutError("query queue")
        return self._clock() + budget

    def _run(
        self,
        expr: ast.Expr,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        deadline: float | None,
        *,
        instant: bool,
    ) -> QueryResult:
        evaluation = _Evaluation(
            self._queryable,
            self._options,
            start_ms,
            end_ms,
            0 if instant else step_ms,
            deadline,
            self._clock,
            self._cancelled,
        )
        if self._cancelled.is_set():
            raise QueryCancelledError()
        evaluation.reserve((end_ms - start_ms) // step_ms + 1)
        times = np.arange(start_ms, end_ms + 1, step_ms, dtype=np.int64)
        try:
            value = evaluation.eval(expr, times)
            evaluation.check_deadline()  # one long step (a join) may have overrun it
            return QueryResult(_to_query_value(value, times, instant))
        finally:
            if evaluation.largest_grid >= TRIM_AFTER_CELLS:
                self._release()


class _Evaluation:
    """State of one query's evaluation: storage, limits, the query's own start and end."""

    def __init__(
        self,
        queryable: Queryable,
        options: EngineOptions,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        deadline: float | None,
        clock: Callable[[], float],
        cancelled: threading.Event,
    ) -> None:
        self.queryable = queryable
        self.options = options
        self.start_ms = start_ms
        self.end_ms = end_ms
        self.step_ms = step_ms
        self.deadline = deadline
        self.clock = clock
        self.cancelled = cancelled
        self.largest_grid = 0  # cells of the largest grid reserved so far

    def check_deadline(self) -> None:
        """Raises once the query is out of time, or cancelled by a shutdown."""
        if self.cancelled.is_set():
            raise QueryCancelledError()
        if self.deadline is not None and self.clock() > self.deadline:
            raise QueryTimeoutError()

    def account(self, samples_at_busiest_step: int) -> None:
        if samples_at_busiest_step > self.options.max_samples:
            raise TooManySamplesError()

    def reserve(self, cells: int) -> None:
        """Refuse, before allocating them, step grids (series × steps) of more cells than
        `max_samples`: Prometheus counts every point of a range evaluation, and a dense grid
        holds one per cell."""
        if cells > self.options.max_samples:
            raise TooManySamplesError()
        self.largest_grid = max(self.largest_grid, cells)

    def eval(self, root: ast.Expr, times: I64) -> Value:
        """The value of `root` at `times`: a post-order walk with its own stack, so a tree as
        deep as the parser's bounds allow never meets Python's recursion limit."""
        values: list[Value] = []
        # (node, its times, None until its children are queued, then their times)
        pending: list[tuple[ast.Expr, I64, tuple[I64, ...] | None]] = [(root, times, None)]
        while pending:
            node, at, child_times = pending.pop()
            self.check_deadline()
            if child_times is None:
                children = self.children(node, at)
                if children:
                    pending.append((node, at, tuple(t for _, t in children)))
                    pending.extend((child, t, None) for child, t in reversed(children))
                    continue
                child_times = ()
            args = values[len(values) - len(child_times) :]
            del values[len(values) - len(child_times) :]
            values.append(self.combine(node, at, args, child_times))
        [value] = values
        return value

    def children(self, node: ast.Expr, times: I64) -> list[tuple[ast.Expr, I64]]:
        """The subexpressions `node`'s value is computed from, each with its own step times."""
        if isinstance(node, ast.Negation):
            return [(node.expr, times)]
        if isinstance(node, ast.Binary):
            return [(node.lhs, times), (node.rhs, times)]
        if isinstance(node, ast.Aggregation):
            param = [] if node.param is None else [(node.param, times)]
            return [(node.expr, times), *param]
        if isinstance(node, ast.Call):
            return [(arg, times) for arg in node.args]
        if isinstance(node, ast.Subquery):
            return [(node.expr, self.subquery_times(node, times))]
        return []

    def combine(
        self, node: ast.Expr, times: I64, args: list[Value], child_times: tuple[I64, ...]
    ) -> Value:
        """`node`'s value from its children's (`args`, computed at `child_times`)."""
        if len(times) == 0 and isinstance(node, ast.VectorSelector | ast.MatrixSelector):
            return empty_vector(0)
        if isinstance(node, ast.NumberLiteral):
            return ScalarSteps(np.full(len(times), node.value))
        if isinstance(node, ast.StringLiteral):
            return StringValue(node.value)
        if isinstance(node, ast.VectorSelector):
            return self.vector_selector(node, times)
        if isinstance(node, ast.MatrixSelector):
            return self.matrix_selector(node, times)
        if isinstance(node, ast.Subquery):
            return self.subquery(node, times, args[0], child_times[0])
        if isinstance(node, ast.Negation):
            return _negate(args[0])
        if isinstance(node, ast.Binary):
            result = evaluate_binary(node, args[0], args[1])
            if isinstance(result, VectorSteps):
                self.account(int(result.present.sum(axis=0).max(initial=0)))
            return result
        if isinstance(node, ast.Aggregation):
            inner = args[0]
            assert isinstance(inner, VectorSteps)
            return aggregate(node, inner, args[1] if len(args) > 1 else None)
        if isinstance(node, ast.Call):
            return self.call(node, times, tuple(args))
        raise QueryError(f"unsupported expression {node!r}")

    def call(self, node: ast.Call, times: I64, args: tuple[Value, ...]) -> Value:
        impl = FUNCTIONS.get(node.func)
        if impl is None:
            raise QueryError(f"function {node.func!r} is not supported")
        call = FunctionCall(
            node.func,
            args,
            node.args,
            times,
            self.start_ms,
            self.end_ms,
            self.step_ms,
            self,
        )
        if any(isinstance(a, VectorSteps | RangeSteps) and a.hists is not None for a in args):
            return call_with_histograms(call, impl)
        return impl(call)

    # --- selectors -----------------------------------------------------------------------

    def window_ends(self, offset_ms: int, at: ast.AtModifier | None, times: I64) -> I64:
        if at is None:
            return times - offset_ms
        if at.kind is ast.AtKind.START:
            fixed = self.start_ms
        elif at.kind is ast.AtKind.END:
            fixed = self.end_ms
        else:
            fixed = at.t_ms
        return np.full(len(times), fixed - offset_ms, dtype=np.int64)

    def fetch(self, selector: ast.VectorSelector, mint: int, maxt: int, func: str) -> _FlatSeries:
        querier = self.queryable(mint, maxt)
        hints = SelectHints(func=func)
        try:
            groups = selector.matcher_groups
            if len(groups) == 1:
                batch = querier.select_batch(groups[0], hints)
            else:  # a series matched by several alternatives comes back the same from each
                batch = merge_batches([querier.select_batch(group, hints) for group in groups])
        except CorruptDataError as err:
            raise StorageError(str(err)) from None
        finally:
            querier.close()
        return _FlatSeries.of(batch, mint, maxt)

    def vector_selector(self, node: ast.VectorSelector, times: I64) -> VectorSteps:
        ends = self.window_ends(node.offset_ms, node.at, times)
        lookback = self.options.lookback_delta_ms
        flat = self.fetch(node, int(ends.min()) - lookback + 1, int(ends.max()), "")
        self.reserve(len(flat.labels) * len(ends))
        idx, found = flat.latest_at(ends)
        sample_ts = flat.ts[idx]
        found &= sample_ts > (ends - lookback)[None, :]
        values = flat.vals[idx]
        found &= ~is_stale_marker(values)
        self.account(int(found.sum(axis=0).max(initial=0)))
        hists = None
        if flat.hists is not None:
            hists = histograms_where(found, flat.hists[idx])
            found &= ~is_histogram(hists)
        return VectorSteps(
            flat.labels, values, found, np.zeros(len(flat.labels), dtype=bool), sample_ts, hists
        )

    def matrix_selector(self, node: ast.MatrixSelector, times: I64) -> RangeSteps:
        selector = node.selector
        ends = self.window_ends(selector.offset_ms, selector.at, times)
        flat = self.fetch(selector, int(ends.min()) - node.range_ms + 1, int(ends.max()), "")
        flat = flat.without_stale_markers()
        self.reserve(len(flat.labels) * len(ends))
        lo, hi = flat.window_bounds(ends, node.range_ms)
        self.account(int((hi - lo).sum(axis=0).max(initial=0)))
        return RangeSteps(
            flat.labels,
            np.zeros(len(flat.labels), dtype=bool),
            flat.ts,
            flat.vals,
            lo,
            hi,
            ends,
            times,
            node.range_ms,
            flat.hists,
        )

    def subquery_start(self, node: ast.Subquery, ends: I64) -> tuple[int, int]:
        """The first step of a subquery's inner expression, and its step: the inner steps are
        the multiples of the step after the earliest window's start."""
        step = node.step_ms or self.options.default_subquery_step_ms
        first = int(ends.min()) - node.range_ms
        inner_start = step * (first // step)
        if inner_start <= first:
            inner_start += step
        return inner_start, step

    def subquery_times(self, node: ast.Subquery, times: I64) -> I64:
        ends = self.window_ends(node.offset_ms, node.at, times)
        inner_start, step = self.subquery_start(node, ends)
        self.reserve(max(0, (int(ends.max()) - inner_start) // step + 1))
        return np.arange(inner_start, int(ends.max()) + 1, step, dtype=np.int64)

    def subquery(
        self, node: ast.Subquery, times: I64, inner: Value, inner_times: I64
    ) -> RangeSteps:
        ends = self.window_ends(node.offset_ms, node.at, times)
        inner_start, _ = self.subquery_start(node, ends)
        if isinstance(inner, ScalarSteps):
            raise QueryError("subquery is only allowed on instant vector, got scalar")
        assert isinstance(inner, VectorSteps)
        inner = merge_same_labels(inner)
        self.reserve(inner.n_series * len(ends))
        rows, cols = np.nonzero(inner.has_sample())
        flat = _FlatSeries(
            inner.labels,
            inner_times[cols],
            inner.values[rows, cols],
            np.searchsorted(rows, np.arange(inner.n_series + 1)),
            inner_start - 1,
            int(inner_times[-1]) - inner_start + 3 if len(inner_times) else 3,
            None if inner.hists is None else repeats_not_reset(inner.hists[rows, cols], rows),
        )
        lo, hi = flat.window_bounds(ends, node.range_ms)
        self.account(int((hi - lo).sum(axis=0).max(initial=0)))
        return RangeSteps(
            inner.labels,
            inner.drop_name.copy(),
            flat.ts,
            flat.vals,
            lo,
            hi,
            ends,
            times,
            node.range_ms,
            flat.hists,
        )


@dataclass(frozen=True, slots=True)
class _FlatSeries:
    """All samples of many series in one pair of arrays, series-major; `starts[i]` is where
    series i begins. Series i's sample at time t has search key `i*span + (t - base)`."""

    labels: tuple[Labels, ...]
    ts: I64
    vals: F64
    starts: I64
    base: int
    span: int
    hists: Hists | None = None

    @classmethod
    def of(cls, batch: SeriesBatch, mint: int, maxt: int) -> _FlatSeries:
        """The batch's samples within [mint, maxt] (stores mostly return no others)."""
        ts, vals, starts, hists = batch.timestamps, batch.values, batch.starts, batch.histograms
        if len(ts) and (ts.min() < mint or ts.max() > maxt):
            keep = (ts >= mint) & (ts <= maxt)
            kept_before = np.zeros(len(ts) + 1, dtype=np.int64)
            np.cumsum(keep, out=kept_before[1:])
            ts, vals, starts = ts[keep], vals[keep], kept_before[starts]
            hists = None if hists is None else hists[keep]
        return cls(batch.labels, ts, vals, starts, mint - 1, maxt - mint + 3, hists)

    def _keys(self) -> I64:
        series_of = np.repeat(np.arange(len(self.labels), dtype=np.int64), np.diff(self.starts))
        keys: I64 = series_of * self.span + (self.ts - self.base)
        return keys

    def count_at_or_before(self, t: I64) -> I64:
        """Per series and step: index one past the last sample with timestamp <= t[step]."""
        maxt = self.base + self.span - 2
        after, before = t >= maxt, t <= self.base
        if (after | before).all():
            # Every step at or past one end of the fetched range (an instant query's window):
            # each series' first or last sample, no search needed.
            at_ends: I64 = np.where(after[None, :], self.starts[1:, None], self.starts[:-1, None])
            return at_ends
        rel = np.clip(t - self.base, 0, maxt - self.base)
        rows = np.arange(len(self.labels), dtype=np.int64)[:, None] * self.span
        found: I64 = np.searchsorted(self._keys(), rows + rel[None, :], "right")
        return found

    def window_bounds(self, ends: I64, range_ms: int) -> tuple[I64, I64]:
        """`count_at_or_before` of `ends - range_ms` and of `ends` (left-open windows), with
        one search over the keys for both."""
        both = np.concatenate((ends - range_ms, ends))
        found = self.count_at_or_before(both)
        return found[:, : len(ends)], found[:, len(ends) :]

    def latest_at(self, t: I64) -> tuple[I64, Bools]:
        """Index of each series' latest sample at or before t[step], and whether it exists."""
        after = self.count_at_or_before(t)
        idx = after - 1
        found = idx >= self.starts[:-1, None]
        return np.maximum(idx, 0) if len(self.ts) else np.zeros_like(idx), found

    def without_stale_markers(self) -> _FlatSeries:
        stale = is_stale_marker(self.vals)
        if not stale.any():
            return self
        keep = ~stale
        kept_before = np.concatenate(([0], np.cumsum(keep)))
        return _FlatSeries(
            self.labels,
            self.ts[keep],
            self.vals[keep],
            kept_before[self.starts],
            self.base,
            self.span,
            None if self.hists is None else self.hists[keep],
        )


def _negate(value: Value) -> Value:
    if isinstance(value, ScalarSteps):
        return ScalarSteps(-value.values)
    if isinstance(value, VectorSteps):
        hists = None if value.hists is None else negate_histograms(value.hists)
        return VectorSteps(
            value.labels,
            -value.values,
            value.present,
            np.ones(value.n_series, dtype=bool),
            hists=hists,
        )
    raise QueryError(
        "unary expression only allowed on expressions of type scalar or instant vector"
    )


def _final_labels(vector: VectorSteps) -> VectorSteps:
    if not vector.drop_name.any():
        return vector
    labels = tuple(
        without_name(lbls) if drop else lbls
        for lbls, drop in zip(vector.labels, vector.drop_name, strict=True)
    )
    return merge_same_labels(
        VectorSteps(
            labels,
            vector.values,
            vector.present,
            np.zeros(len(labels), dtype=bool),
            hists=vector.hists,
        )
    )


def _to_query_value(value: Value, times: I64, instant: bool) -> QueryValue:
    if isinstance(value, ScalarSteps):
        if instant:
            return Scalar(int(times[0]), float(value.values[0]))
        return Matrix((Series(Labels(), times.copy(), value.values.copy()),))
    if isinstance(value, StringValue):
        return String(int(times[0]), value.value)
    if isinstance(value, RangeSteps):
        out = []
        for i, lbls in enumerate(value.labels):
            lo, hi = int(value.lo[i, 0]), int(value.hi[i, 0])
            if hi > lo:
                name_dropped = without_name(lbls) if value.drop_name[i] else lbls
                out.append(_range_series(name_dropped, value, lo, hi))
        return Matrix(tuple(out))
    vector = _final_labels(value)
    if vector.hists is not None:
        return _with_histograms(vector, times, instant)
    if instant:
        t = int(times[0])
        return Vector(
            tuple(
                Sample(lbls, t, float(vector.values[i, 0]))
                for i, lbls in enumerate(vector.labels)
                if vector.present[i, 0]
            )
        )
    series = []
    for i in range(vector.n_series):
        row = vector.present[i]
        if row.any():
            series.append(Series(vector.labels[i], times[row], vector.values[i][row]))
    series.sort(key=lambda s: s.labels)
    return Matrix(tuple(series))


def _range_series(labels: Labels, value: RangeSteps, lo: int, hi: int) -> Series:
    ts, vals = value.ts[lo:hi], value.vals[lo:hi]
    if value.hists is None:
        return Series(labels, ts, vals)
    hists = value.hists[lo:hi]
    is_hist = is_histogram(hists)
    points = tuple(zip(ts[is_hist].tolist(), hists[is_hist].tolist(), strict=True))
    return Series(labels, ts[~is_hist], vals[~is_hist], points)


def _with_histograms(vector: VectorSteps, times: I64, instant: bool) -> QueryValue:
    """The result of a query whose value holds histogram samples (the slow path)."""
    assert vector.hists is not None
    is_hist = is_histogram(vector.hists)
    if instant:
        t = int(times[0])
        samples = []
        for i, lbls in enumerate(vector.labels):
            if is_hist[i, 0]:
                samples.append(Sample(lbls, t, math.nan, vector.hists[i, 0]))
            elif vector.present[i, 0]:
                samples.append(Sample(lbls, t, float(vector.values[i, 0])))
        return Vector(tuple(samples))
    series = []
    for i in range(vector.n_series):
        row, hist_row = vector.present[i], is_hist[i]
        if row.any() or hist_row.any():
            points = tuple(
                zip(times[hist_row].tolist(), vector.hists[i][hist_row].tolist(), strict=True)
            )
            series.append(Series(vector.labels[i], times[row], vector.values[i][row], points))
    series.sort(key=lambda s: s.labels)
    return Matrix(tuple(series))
