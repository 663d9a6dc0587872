"""One span attribute over a table's rows as typed columns, so TraceQL compares it with numpy
masks: ints (and bools as 0/1) in an int64 column, floats in a float64 column, strings as
codes into the distinct strings (a string test runs once per distinct string), and the
rare bytes, arrays and maps as Python values. Built once per key and table from the spans'
attribute tuples by C loops (itertools, map, numpy over objects), not a Python step per span.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.model.sorted_set import sorted_set
from vigil.traces._api import Attributes, AttrValue

ABSENT, STR, INT, FLOAT, BOOL, OTHER = range(6)
_KINDS: dict[type, int] = {str: STR, int: INT, float: FLOAT, bool: BOOL}
_EMPTY_TEXTS = np.zeros(0, dtype=object)
_INT64 = np.iinfo(np.int64)


@dataclass(frozen=True, slots=True)
class AttributeColumn:
    """Row i's value, by `kind[i]`: `texts[text[i]]` (STR), `ints[i]` (INT; BOOL as 0/1),
    `floats[i]` (FLOAT), `others[i]` (OTHER: bytes, arrays, maps, ints past 64 bits), none
    (ABSENT)."""

    kind: npt.NDArray[np.uint8]
    ints: npt.NDArray[np.int64]
    floats: npt.NDArray[np.float64]
    text: npt.NDArray[np.intp]
    texts: npt.NDArray[Any]  # distinct strings, an object array
    others: npt.NDArray[Any]  # object array, None but where OTHER

    def __len__(self) -> int:
        return len(self.kind)

    @classmethod
    def find(cls, attributes: Sequence[Attributes], name: str) -> AttributeColumn:
        """Attribute `name` of each row's attributes (the last one when repeated)."""
        n = len(attributes)
        counts = np.fromiter(map(len, attributes), dtype=np.intp, count=n)
        flat: list[Any] = list(chain.from_iterable(chain.from_iterable(attributes)))
        keys: list[str] = flat[0::2]
        hits = np.flatnonzero(np.fromiter(map(name.__eq__, keys), dtype=bool, count=len(keys)))
        owner = np.repeat(np.arange(n, dtype=np.intp), counts)[hits]
        last = np.append(owner[1:] != owner[:-1], True) if len(owner) else owner.astype(bool)
        hits, owner = hits[last], owner[last]
        found = list(map(flat[1::2].__getitem__, hits.tolist()))
        return cls._of(n, owner, found)

    @classmethod
    def of(cls, values: Sequence[AttrValue | None]) -> AttributeColumn:
        """A column of these values (None: absent)."""
        owner = np.flatnonzero(np.fromiter((v is not None for v in values), bool, len(values)))
        return cls._of(len(values), owner, [values[i] for i in owner.tolist()])

    @classmethod
    def _of(cls, n: int, owner: npt.NDArray[np.intp], found: list[Any]) -> AttributeColumn:
        """A column of n rows holding `found[k]` at row `owner[k]`."""
        kinds = np.fromiter(
            map(_KINDS.get, map(type, found), repeat(OTHER)), dtype=np.uint8, count=len(found)
        )
        items = np.fromiter(found, dtype=object, count=len(found))
        numeric = (kinds == INT) | (kinds == BOOL)
        try:
            ints = np.array(items[numeric].tolist(), dtype=np.int64)
        except OverflowError:
            wide = [not _INT64.min <= v <= _INT64.max for v in items[numeric].tolist()]
            kinds[np.flatnonzero(numeric)[wide]] = OTHER
            numeric = (kinds == INT) | (kinds == BOOL)
            ints = np.array(items[numeric].tolist(), dtype=np.int64)
        kind = np.zeros(n, dtype=np.uint8)
        kind[owner] = kinds
        int_column = np.zeros(n, dtype=np.int64)
        int_column[owner[numeric]] = ints
        float_column = np.zeros(n, dtype=np.float64)
        is_float = kinds == FLOAT
        float_column[owner[is_float]] = np.array(items[is_float].tolist(), dtype=np.float64)
        text = np.zeros(n, dtype=np.intp)
        is_str = kinds == STR
        texts = _EMPTY_TEXTS
        if is_str.any():
            strs = items[is_str].tolist()
            distinct = dict.fromkeys(strs)
            texts = np.fromiter(distinct, dtype=object, count=len(distinct))
            code = dict(zip(distinct, range(len(distinct)), strict=True))
            text[owner[is_str]] = np.fromiter(map(code.__getitem__, strs), np.intp, len(strs))
        others = np.full(n, None, dtype=object)
        is_other = kinds == OTHER
        others[owner[is_other]] = items[is_other]
        return cls(kind, int_column, float_column, text, texts, others)

    def take(self, rows: npt.NDArray[np.integer[Any]]) -> AttributeColumn:
        return AttributeColumn(
            self.kind[rows],
            self.ints[rows],
            self.floats[rows],
            self.text[rows],
            self.texts,
            self.others[rows],
        )

    def or_else(self, other: AttributeColumn) -> AttributeColumn:
        """This column's value where present, else `other`'s (of as many rows)."""
        mine = self.kind != ABSENT
        return AttributeColumn(
            np.where(mine, self.kind, other.kind).astype(np.uint8),
            np.where(mine, self.ints, other.ints),
            np.where(mine, self.floats, other.floats),
            np.where(mine, self.text, other.text + len(self.texts)),
            np.concatenate([self.texts, other.texts]),
            np.where(mine, self.others, other.others),
        )

    def distinct(self) -> list[AttrValue]:
        """The values the rows hold, each once (but bytes, arrays and maps, one per row)."""
        kind = self.kind
        texts = self.texts[sorted_set(self.text[kind == STR])].tolist()
        ints = sorted_set(self.ints[kind == INT]).tolist()
        bools = sorted_set(self.ints[kind == BOOL]).astype(bool).tolist()
        floats = sorted_set(self.floats[kind == FLOAT]).tolist()
        return [*texts, *ints, *bools, *floats, *self.others[kind == OTHER].tolist()]

    def values(self) -> list[AttrValue | None]:
        """One Python value per row (None where absent)."""
        out = np.full(len(self), None, dtype=object)
        kind = self.kind
        is_str = kind == STR
        out[is_str] = self.texts[self.text[is_str]]
        is_int = kind == INT
        out[is_int] = self.ints[is_int].tolist()
        is_bool = kind == BOOL
        out[is_bool] = self.ints[is_bool].astype(bool).tolist()
        is_float = kind == FLOAT
        out[is_float] = self.floats[is_float].tolist()
        is_other = kind == OTHER
        out[is_other] = self.others[is_other]
        found: list[AttrValue | None] = out.tolist()
        return found
