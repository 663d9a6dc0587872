"""A column's values as codes into its distinct values, for grouping rows by field values
(`by()` of a search, a metrics query's series) with numpy: one Python step per distinct
value, not per row. Values of different types are different (1, 1.0 and true are three
groups); code -1 is a row without a value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.traces.traceql.attribute_column import BOOL, FLOAT, INT, OTHER, STR, AttributeColumn
from vigil.traces.traceql.fields import Coded, Column, Const, Num, Value, numbers, values

Codes = npt.NDArray[np.int64]


def value_codes(col: Column, n: int) -> tuple[Codes, list[Value]]:
    """Per row, the index of its value among the distinct values (-1: none), and those."""
    if isinstance(col, Const):
        return np.full(n, 0 if col.value is not None else -1, dtype=np.int64), [col.value]
    if isinstance(col, Coded):
        return _coded(col)
    if isinstance(col, AttributeColumn):
        return _attribute(col)
    found = numbers(col, n)
    distinct, inverse = np.unique(found.values[found.present], return_inverse=True)
    codes = np.full(n, -1, dtype=np.int64)
    codes[found.present] = inverse.reshape(-1)
    as_values = values(Num(distinct, np.ones(len(distinct), dtype=bool), found.type), len(distinct))
    return codes, as_values


def _coded(col: Coded) -> tuple[Codes, list[Value]]:
    ids: dict[tuple[type, Any], int] = {}
    distinct: list[Value] = []
    lut = np.empty(len(col.table), dtype=np.int64)
    for i, value in enumerate(col.table):
        if value is None:
            lut[i] = -1
            continue
        lut[i] = ids.setdefault((type(value), value), len(ids))
        if lut[i] == len(distinct):
            distinct.append(value)
    return lut[col.codes], distinct


def _attribute(col: AttributeColumn) -> tuple[Codes, list[Value]]:
    kind = col.kind
    codes = np.full(len(col), -1, dtype=np.int64)
    distinct: list[Value] = []
    for wanted, column in ((STR, col.text), (INT, col.ints), (BOOL, col.ints), (FLOAT, col.floats)):
        at = kind == wanted
        used, inverse = np.unique(column[at], return_inverse=True)
        codes[at] = inverse.reshape(-1) + len(distinct)
        if wanted == STR:
            distinct += col.texts[used].tolist()
        else:
            distinct += used.astype(bool).tolist() if wanted == BOOL else used.tolist()
    at = np.flatnonzero(kind == OTHER)
    if len(at):
        others, distinct_others = _coded(Coded(np.arange(len(at)), col.others[at].tolist()))
        codes[at] = others + len(distinct)
        distinct += distinct_others
    return codes, distinct


def combined(per_field: list[Codes], sizes: list[int]) -> tuple[Codes, Codes]:
    """Rows grouped by their codes in every field: each row's group, and per group the
    index of its first row (the groups ordered by codes)."""
    group = np.zeros(len(per_field[0]) if per_field else 0, dtype=np.int64)
    first = np.zeros(min(len(group), 1), dtype=np.int64)
    for codes, size in zip(per_field, sizes, strict=True):
        _, first, inverse = np.unique(
            group * (size + 1) + codes + 1, return_index=True, return_inverse=True
        )
        group = inverse.reshape(-1).astype(np.int64)
    return group, first.astype(np.int64)
