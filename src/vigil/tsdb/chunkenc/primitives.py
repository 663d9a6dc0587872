"""What both chunk codecs build on: integer width codes and exact decimal scales.

A width code names the narrowest signed integer type holding a column (0: all zeros, then
int8, int16, int32, int64); a decimal scale is the least k for which every value is exactly
`rint(v * 10**k) / 10**k`, so values are stored as exact integers."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

WIDTH_TYPES: tuple[type[np.signedinteger[Any]], ...] = (np.int8, np.int16, np.int32, np.int64)
"""Width code c > 0 stores integers as WIDTH_TYPES[c - 1]."""

_LIMITS = [(int(np.iinfo(w).min), int(np.iinfo(w).max)) for w in WIDTH_TYPES]

POW10 = np.array([10.0**k for k in range(16)])  # exact doubles: 10**k is exact up to k = 22
NEG_ZERO_BITS = np.uint64(0x8000000000000000)


def width_dtype(code: int) -> np.dtype[np.signedinteger[Any]]:
    return np.dtype(WIDTH_TYPES[code - 1])


def width_code(column: npt.NDArray[np.int64]) -> int:
    """The code of the narrowest width holding every value of a 1-D column."""
    if not len(column):
        return 0
    low, high = int(column.min()), int(column.max())
    if low == high == 0:
        return 0
    return next(c for c, (least, most) in enumerate(_LIMITS, 1) if least <= low and high <= most)


def width_codes(rows: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """`width_code` of each row of a 2-D array, at once."""
    if rows.shape[1] == 0:
        return np.zeros(len(rows), dtype=np.uint8)
    low, high = rows.min(axis=1), rows.max(axis=1)
    code = np.full(len(rows), len(WIDTH_TYPES), dtype=np.uint8)
    for c in range(len(WIDTH_TYPES) - 1, 0, -1):
        least, most = _LIMITS[c - 1]
        code[(low >= least) & (high <= most)] = c
    code[(low == 0) & (high == 0)] = 0
    return code


def decimal_scale(values: npt.NDArray[np.float64], max_scale: int, max_exact: float) -> int:
    """The least k <= max_scale such that every value (all finite, none -0.0) is exactly
    `rint(v * 10**k) / 10**k` with a numerator of magnitude <= max_exact; -1 if none is."""
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(max_scale + 1):
            scaled = np.rint(values * POW10[k]) if k else np.rint(values)
            back = scaled / POW10[k] if k else scaled
            exact = back.view(np.uint64) == values.view(np.uint64)
            if (exact & (np.abs(scaled) <= max_exact)).all():
                return k
    return -1


def decimal_scales(
    rows: npt.NDArray[np.float64], max_scale: int, max_exact: float
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """`decimal_scale` of each row of a 2-D array, at once (-1 also for a row holding NaN,
    ±Inf or -0.0), and the numerators as exact floats (rows without a scale are unset)."""
    scale = np.full(len(rows), -1, dtype=np.int64)
    ints = np.empty_like(rows)
    bits = rows.view(np.uint64)
    pending = np.flatnonzero((np.isfinite(rows) & (bits != NEG_ZERO_BITS)).all(axis=1))
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(max_scale + 1):
            if not len(pending):
                break
            some = rows[pending] if len(pending) < len(rows) else rows
            scaled = np.rint(some * POW10[k]) if k else np.rint(some)
            back = scaled / POW10[k] if k else scaled
            exact = (back.view(np.uint64) == some.view(np.uint64)).all(axis=1)
            exact &= (np.abs(scaled) <= max_exact).all(axis=1)
            found = pending[exact]
            scale[found] = k
            ints[found] = scaled[exact]
            pending = pending[~exact]
    return scale, ints
