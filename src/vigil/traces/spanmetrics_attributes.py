"""The attributes of one batch's spans as columns, for the metrics generator: every
(key, value) pair flattened once in span order with its span and a code for its key, so
the value of a key for every span is a few numpy steps instead of a dict per span."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, compress, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.traces._api import Attributes

Column = npt.NDArray[Any]
"""One object per span: a value, or None where the span has none."""


class AttributeColumns:
    def __init__(self, attributes: Sequence[Attributes]) -> None:
        n = self.spans = len(attributes)
        counts = np.fromiter(map(len, attributes), dtype=np.intp, count=n)
        flat: list[Any] = list(chain.from_iterable(chain.from_iterable(attributes)))
        keys: list[str] = flat[0::2]
        values: list[Any] = flat[1::2]
        self.owners = np.repeat(np.arange(n, dtype=np.intp), counts)
        self.values: npt.NDArray[Any] = np.fromiter(values, dtype=object, count=len(values))
        self.codes: dict[str, int] = dict(zip(dict.fromkeys(keys), range(len(keys)), strict=False))
        self.key_codes = np.fromiter(
            map(self.codes.__getitem__, keys), dtype=np.intp, count=len(keys)
        )
        self.is_text = np.fromiter(
            map(isinstance, values, repeat(str)), dtype=bool, count=len(values)
        )
        self.text_lengths = np.fromiter(
            map(len, compress(values, self.is_text.tolist())),
            dtype=np.int64,
            count=int(self.is_text.sum()),
        )
        self.nonempty_text = self.is_text.copy()
        self.nonempty_text[self.is_text] = self.text_lengths > 0

    def owning(self, keys: Sequence[str]) -> npt.NDArray[np.bool_]:
        """Which spans hold any of `keys`."""
        found = np.zeros(self.spans, dtype=bool)
        codes = [self.codes[key] for key in keys if key in self.codes]
        if codes:
            found[self.owners[np.isin(self.key_codes, codes)]] = True
        return found

    def _last(self, key: str) -> npt.NDArray[np.intp]:
        """The positions of each span's last `key` attribute (a dict of its attributes
        holds that one)."""
        code = self.codes.get(key)
        if code is None:
            return np.zeros(0, dtype=np.intp)
        at = np.flatnonzero(self.key_codes == code)
        owners = self.owners[at]
        last: npt.NDArray[np.intp] = at[np.append(owners[1:] != owners[:-1], True)]
        return last

    def value(self, key: str) -> Column:
        """Each span's value of `key`."""
        out = np.full(self.spans, None, dtype=object)
        at = self._last(key)
        out[self.owners[at]] = self.values[at]
        return out

    def text(self, keys: Sequence[str]) -> Column:
        """Per span, the value of the first of `keys` whose value is a non-empty string."""
        out = np.full(self.spans, None, dtype=object)
        for key in reversed(keys):
            at = self._last(key)
            at = at[self.nonempty_text[at]]
            out[self.owners[at]] = self.values[at]
        return out

    def sizes(self) -> npt.NDArray[np.float64]:
        """Per span, an estimate of its attributes' encoded bytes: each key, each string's
        length or 8 bytes for another value, and 2 bytes of tags per attribute."""
        lengths = np.full(len(self.values), 10.0)
        lengths[self.is_text] = self.text_lengths + 2.0
        lengths += np.fromiter(map(len, self.codes), dtype=np.float64)[self.key_codes]
        sizes: npt.NDArray[np.float64] = np.bincount(self.owners, lengths, self.spans).astype(
            np.float64
        )
        return sizes


def truthy(column: Column) -> npt.NDArray[np.bool_]:
    return np.fromiter(map(bool, column.tolist()), dtype=bool, count=len(column))
