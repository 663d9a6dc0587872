"""`*_over_time` over prefix sums and reduceat agree with a sample-by-sample walk of each
window (Prometheus's order) on windows built to break the fast paths."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vigil.model import Labels
from vigil.promql import ast
from vigil.promql.functions import FUNCTIONS, FunctionCall, _kahan_rows, _welford_rows
from vigil.promql.value import RangeSteps, VectorSteps


def _series(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    if kind == "counter":
        return np.cumsum(rng.uniform(0, 1e3, n)) + 1e12
    if kind == "cancelling":
        return np.tile([1e17, 1.0, -1e17, 2.0], n // 4 + 1)[:n]
    if kind == "constant":
        return np.full(n, 0.1)
    if kind == "special":
        vals = rng.normal(0, 1e5, n)
        vals[rng.integers(0, n, 3)] = [np.nan, np.inf, -np.inf]
        return vals
    if kind == "overflow":
        return np.full(n, 1.7e308) * rng.choice([1.0, -1.0], n)
    return rng.normal(50, 1e-3, n)


KINDS = ["counter", "cancelling", "constant", "special", "overflow", "gauge"]


def _range(step: int, width: int) -> RangeSteps:
    rng = np.random.default_rng(7)
    n, steps = 200, 40
    vals = np.concatenate([_series(kind, rng, n) for kind in KINDS])
    ts = np.tile(np.arange(n, dtype=np.int64) * 15_000, len(KINDS))
    starts = np.arange(len(KINDS))[:, None] * n
    lo = starts + np.minimum(np.arange(steps) * step, n)[None, :]
    hi = np.minimum(lo + width, starts + n)
    lo[:, 3] = hi[:, 3]  # an empty window
    return RangeSteps(
        tuple(Labels([("k", k)]) for k in KINDS),
        np.ones(len(KINDS), dtype=bool),
        ts,
        vals,
        lo.astype(np.int64),
        hi.astype(np.int64),
        np.arange(steps, dtype=np.int64),
        np.arange(steps, dtype=np.int64),
        60_000,
    )


def _reference(name: str, window: np.ndarray, stamps: np.ndarray) -> float:
    """Prometheus's definitions, one window at a time in its order (Kahan, Welford)."""
    if name == "count_over_time":
        return float(len(window))
    row, valid, count = (
        window[None, :],
        np.ones((1, len(window)), dtype=bool),
        np.array([len(window)]),
    )
    if name in ("sum_over_time", "avg_over_time"):
        return float(_kahan_rows(row, valid, count, mean=name == "avg_over_time")[0])
    if name in ("stddev_over_time", "stdvar_over_time"):
        var = float(_welford_rows(row, stamps[None, :], valid, count)[0])
        if name == "stdvar_over_time":
            return var
        return math.sqrt(var) if var >= 0 else math.nan
    finite = window[~np.isnan(window)]
    best = math.nan if not len(finite) else finite.min() if "min" in name else finite.max()
    if name.startswith("ts_of_"):
        hits = np.flatnonzero(np.isnan(window) if math.isnan(best) else window == best)
        return float(stamps[hits[-1]] / 1000.0)
    return float(best)


def _close(got: float, want: float) -> bool:
    if math.isnan(want) or math.isinf(want):
        return got == want or (math.isnan(got) and math.isnan(want))
    return abs(got - want) <= 1e-9 * max(abs(want), 1e-300) or abs(got - want) < 1e-12


@pytest.mark.parametrize(
    "name",
    [
        "sum_over_time",
        "avg_over_time",
        "count_over_time",
        "min_over_time",
        "max_over_time",
        "ts_of_min_over_time",
        "ts_of_max_over_time",
        "stdvar_over_time",
        "stddev_over_time",
    ],
)
@pytest.mark.parametrize(("step", "width"), [(1, 4), (3, 40), (5, 1), (20, 2)])
def test_over_time_matches_a_walk_of_each_window(name: str, step: int, width: int) -> None:
    rng = _range(step, width)
    call = FunctionCall(name, (rng,), (ast.NumberLiteral(0.0),), rng.eval_times)
    out = FUNCTIONS[name](call)
    assert isinstance(out, VectorSteps)
    wrong = []
    for s in range(rng.n_series):
        for j in range(len(rng.eval_times)):
            lo, hi = int(rng.lo[s, j]), int(rng.hi[s, j])
            assert bool(out.present[s, j]) == (hi > lo)
            if hi == lo:
                continue
            want = _reference(name, rng.vals[lo:hi], rng.ts[lo:hi])
            if not _close(float(out.values[s, j]), want):
                wrong.append((KINDS[s], j, float(out.values[s, j]), want))
    assert not wrong, wrong[:5]


# Every range function whose windows are read through first/last sample indices.
EDGE_FUNCTIONS = ["rate", "increase", "delta", "irate", "idelta", "resets", "changes", "deriv"]


@pytest.mark.parametrize("name", EDGE_FUNCTIONS)
def test_windows_past_the_last_sample_are_empty_not_errors(name: str) -> None:
    """A series that stopped reporting, last in the batch: the range's last windows start at
    the end of the sample array (an IndexError once, a 500 from query_range)."""
    n, steps = 8, 6
    vals = np.arange(n, dtype=np.float64)
    ts = np.arange(n, dtype=np.int64) * 15_000
    lo = np.array([[0, 2, 4, n, n, n]], dtype=np.int64)
    hi = np.array([[2, 4, n, n, n, n]], dtype=np.int64)
    rng = RangeSteps(
        (Labels([("k", "v")]),),
        np.ones(1, dtype=bool),
        ts,
        vals,
        lo,
        hi,
        np.arange(steps, dtype=np.int64),
        np.arange(steps, dtype=np.int64) * 30_000 + 30_000,
        60_000,
    )
    out = FUNCTIONS[name](FunctionCall(name, (rng,), (), rng.eval_times))
    assert isinstance(out, VectorSteps)
    assert out.present[0].tolist()[3:] == [False, False, False]
