"""Sorted distinct values of an array: numpy 2's plain ``np.unique`` hashes integers and
strings, which costs ~40x a sort for many distinct values (90k int64: 77 ms against 2 ms);
sorting and keeping each value that differs from its predecessor gives the same result."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

_T = TypeVar("_T", bound=np.generic)

_BY_SORT = frozenset("iubSU")
"""Kinds whose equality is plain (no NaN or NaT, no signed zero): ints, bools, bytes, str."""


def sorted_set(values: npt.NDArray[_T]) -> npt.NDArray[_T]:
    """Exactly ``np.unique(values)``: the distinct values, flattened, sorted, dtype kept.
    Other kinds (floats with their NaNs and signed zeros, times, objects) go to
    ``np.unique``, which sorts them already."""
    if values.dtype.kind not in _BY_SORT:
        out: npt.NDArray[_T] = np.unique(values)
        return out
    ordered = np.sort(values, axis=None)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered if keep.all() else ordered[keep]
