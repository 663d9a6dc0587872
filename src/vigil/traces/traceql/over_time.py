"""The per-cell reductions of TraceQL's `*_over_time` functions, numpy over the matching spans:
a cell is one step of one series, `cell[i]` the cell of span i (its series × steps + its step).

As Tempo computes them: min/max/sum/avg of a field's numbers (a duration in seconds; spans
without a number are skipped; a cell without one has none, NaN); a histogram counts spans by
power-of-two bucket (the value rounded up to a power of two: nanoseconds for a duration,
shown in seconds; an int attribute as it is; values under 2 and other types are left out);
a quantile is read from a cell's buckets, interpolated exponentially within the bucket it
falls in (0 for a cell without spans).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from vigil.traces.traceql import ast
from vigil.traces.traceql.ast import Type
from vigil.traces.traceql.attribute_column import INT, AttributeColumn
from vigil.traces.traceql.fields import Coded, Const, Num, Rows, column, numbers
from vigil.traces.traceql.table import SpanTable

Floats = npt.NDArray[np.float64]
Cells = npt.NDArray[np.int64]

NS_PER_S = 1e9


def reduce(function: str, cell: Cells, found: Floats, cells: int) -> Floats:
    """min/max/sum/avg of the values (NaN: none) per cell; NaN where a cell has none."""
    present = ~np.isnan(found)
    cell, found = cell[present], found[present]
    counted = np.bincount(cell, minlength=cells)
    if function in ("sum_over_time", "avg_over_time"):
        result: Floats = np.asarray(np.bincount(cell, found, cells), dtype=np.float64)
        if function == "avg_over_time":
            result = result / np.maximum(counted, 1)
    else:
        fill = math.inf if function == "min_over_time" else -math.inf
        result = np.full(cells, fill)
        (np.minimum if function == "min_over_time" else np.maximum).at(result, cell, found)
    return np.where(counted > 0, result, np.nan)


def field_numbers(field: ast.Field, table: SpanTable, rows: Rows) -> Floats:
    """The field's number per row (NaN where it has none), a duration in seconds."""
    found = numbers(column(field, table, rows), len(rows))
    values = np.where(found.present, found.values.astype(np.float64), np.nan)
    return values / NS_PER_S if found.type is Type.DURATION else values


def log2_buckets(field: ast.Field, table: SpanTable, rows: Rows) -> tuple[Cells, bool]:
    """Per row, the exponent e of its bucket 2**e (-1: not counted), and whether the bucket
    bounds are durations (shown in seconds)."""
    col = column(field, table, rows)
    found = numbers(col, len(rows))
    counted = found.present & _integral(col, found)
    values = np.where(counted, found.values, 0).astype(np.int64)
    counted &= values >= 2
    # 2**e is v rounded up to a power of two: e is the bit length of v - 1.
    exponents = np.frexp((np.maximum(values, 2) - 1).astype(np.float64))[1].astype(np.int64)
    return np.where(counted, exponents, -1), found.type is Type.DURATION


def _integral(col: Num | Coded | Const | AttributeColumn, found: Num) -> npt.NDArray[np.bool_]:
    """Rows whose value is an int (or a duration): float attributes have no buckets."""
    if isinstance(col, AttributeColumn):
        return np.asarray(col.kind == INT, dtype=bool)
    if isinstance(col, Num):
        return np.full(len(found.values), col.type in (Type.INT, Type.DURATION))
    if isinstance(col, Coded):
        ints = np.array(
            [isinstance(v, int) and not isinstance(v, bool) for v in col.table], dtype=bool
        )
        return np.asarray(ints[col.codes], dtype=bool)
    value = col.value
    return np.full(len(found.values), isinstance(value, int) and not isinstance(value, bool))


def bucket_bound(exponent: int, seconds: bool) -> float:
    bound = float(2**exponent)
    return bound / NS_PER_S if seconds else bound


def quantiles(counts: npt.NDArray[np.int64], bounds: Floats, qs: tuple[float, ...]) -> Floats:
    """Per quantile q and cell: q of the cell's histogram (`counts[cell, b]` spans in the
    bucket with upper bound `bounds[b]`, ascending), as Tempo's log2 quantile reads it: the
    bound of the bucket where the ceil(q × total)-th span falls when that bucket ends
    exactly there, else exponentially between the previous non-empty bucket's bound (half
    its own bound for the first) and its own; 0 for a cell without spans."""
    cells, buckets = counts.shape
    out = np.zeros((len(qs), cells))
    if not buckets or not cells:
        return out
    cumulative = np.cumsum(counts, axis=1)
    total = cumulative[:, -1]
    log_bounds = np.log2(bounds)
    at = np.arange(buckets)
    previous = np.maximum.accumulate(np.where(counts > 0, at, -1), axis=1)
    previous = np.concatenate([np.full((cells, 1), -1), previous[:, :-1]], axis=1)
    has = total > 0
    rows = np.arange(cells)
    for k, q in enumerate(qs):
        wanted = np.maximum(np.ceil(q * total).astype(np.int64), 1)
        bucket = np.minimum(np.argmax(cumulative >= wanted[:, None], axis=1), buckets - 1)
        before = np.where(bucket > 0, cumulative[rows, np.maximum(bucket - 1, 0)], 0)
        exact = cumulative[rows, bucket] == wanted
        high = log_bounds[bucket]
        prior = previous[rows, bucket]
        low = np.where(prior >= 0, log_bounds[np.maximum(prior, 0)], high - 1)
        share = (wanted - before) / np.maximum(counts[rows, bucket], 1)
        value = np.where(exact, bounds[bucket], np.exp2(low + (high - low) * share))
        out[k] = np.where(has, value, 0.0)
    return out
