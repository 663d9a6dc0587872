"""An attribute section (see block_attributes) held as its numpy columns, so that pages are
merged, split and reordered without a Python value per attribute: owners' counts, each
attribute's key code and type tag, and each type's column in attribute order. Bytes, arrays
and maps (rare) stay the JSON documents the section holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from vigil.traces.block_attributes import (
    BOOL,
    FLOAT,
    INT,
    OTHER,
    STR,
    pack,
    shuffled,
    spread,
    unpack,
    unshuffled,
)


@dataclass(frozen=True, slots=True)
class AttributeColumns:
    counts: npt.NDArray[np.int64]  # per owner
    keys: npt.NDArray[np.int64]  # per attribute: a code into the page's string table
    tags: npt.NDArray[np.uint8]  # per attribute
    ints: npt.NDArray[np.int64]  # ints and bools
    floats: npt.NDArray[np.float64]
    sizes: npt.NDArray[np.int64]  # strings' UTF-8 sizes, their bytes in `blob`
    blob: npt.NDArray[np.uint8]
    others: list[Any]

    @classmethod
    def empty(cls, owners: int) -> AttributeColumns:
        none = np.zeros(0, np.int64)
        return cls(
            np.zeros(owners, np.int64),
            none,
            np.zeros(0, np.uint8),
            none,
            np.zeros(0, np.float64),
            none,
            np.zeros(0, np.uint8),
            [],
        )

    @classmethod
    def read(cls, data: bytes | memoryview, owners: int) -> AttributeColumns:
        """ValueError when the section does not hold `owners` owners' attributes."""
        counts_b, keys_b, tags_b, ints_b, floats_b, sizes_b, blob, others_b = unpack(data, 8)
        counts = unshuffled(counts_b, "<u4", owners).astype(np.int64)
        tags = np.frombuffer(tags_b, np.uint8)
        total = int(counts.sum())
        if len(tags) != total:
            raise ValueError("attribute tags do not match their counts")
        numeric = int(np.count_nonzero((tags == INT) | (tags == BOOL)))
        sizes = unshuffled(sizes_b, "<u4", int(np.count_nonzero(tags == STR))).astype(np.int64)
        if int(sizes.sum()) != len(blob):
            raise ValueError(f"strings of {int(sizes.sum())} bytes in a blob of {len(blob)}")
        others = orjson.loads(bytes(others_b))
        if not isinstance(others, list) or len(others) != int(np.count_nonzero(tags == OTHER)):
            raise ValueError("attribute values do not match their tags")
        return cls(
            counts,
            unshuffled(keys_b, "<u4", total).astype(np.int64),
            tags,
            unshuffled(ints_b, "<i8", numeric).astype(np.int64),
            unshuffled(floats_b, "<f8", int(np.count_nonzero(tags == FLOAT))),
            sizes,
            np.frombuffer(blob, np.uint8),
            others,
        )

    def encode(self) -> bytes:
        return pack(
            (
                shuffled(self.counts.astype("<u4")),
                shuffled(self.keys.astype("<u4")),
                self.tags.tobytes(),
                shuffled(self.ints.astype("<i8")),
                shuffled(self.floats.astype("<f8")),
                shuffled(self.sizes.astype("<u4")),
                self.blob.tobytes(),
                orjson.dumps(self.others),
            )
        )

    def take(self, owners: npt.NDArray[np.intp]) -> AttributeColumns:
        """The attributes of `owners` (any order, repeats allowed), in that order."""
        items, counts = spread(self.counts, owners)
        assert items is not None
        tags = self.tags
        numeric = _within((tags == INT) | (tags == BOOL), items)
        strs = _within(tags == STR, items)
        blob_at, _ = spread(self.sizes, strs)
        assert blob_at is not None
        return AttributeColumns(
            counts,
            self.keys[items],
            tags[items],
            self.ints[numeric],
            self.floats[_within(tags == FLOAT, items)],
            self.sizes[strs],
            self.blob[blob_at],
            [self.others[j] for j in _within(tags == OTHER, items).tolist()],
        )

    def recoded(self, codes: npt.NDArray[np.int64]) -> AttributeColumns:
        """Keys `k` as `codes[k]` (into another string table)."""
        return AttributeColumns(
            self.counts,
            codes[self.keys],
            self.tags,
            self.ints,
            self.floats,
            self.sizes,
            self.blob,
            self.others,
        )

    @classmethod
    def concat(cls, parts: Sequence[AttributeColumns]) -> AttributeColumns:
        """Owners of all parts in order (their keys coded into one string table)."""
        return cls(
            np.concatenate([p.counts for p in parts]),
            np.concatenate([p.keys for p in parts]),
            np.concatenate([p.tags for p in parts]),
            np.concatenate([p.ints for p in parts]),
            np.concatenate([p.floats for p in parts]),
            np.concatenate([p.sizes for p in parts]),
            np.concatenate([p.blob for p in parts]),
            [doc for p in parts for doc in p.others],
        )


def _within(mask: npt.NDArray[np.bool_], items: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """For the attributes `items` of `mask`'s type (in order): their places in that type's
    column."""
    return (np.cumsum(mask) - 1)[items[mask[items]]].astype(np.intp)
