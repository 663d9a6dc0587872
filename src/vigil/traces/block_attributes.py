"""Attributes as columns, for the span store's pages (head, WAL and blocks share them).

An attribute section holds the attributes of many owners (spans, events, links, resources,
scopes): per owner its count; per attribute its key (a code into the page's string table),
its type tag, and its value in the column of its type — int64 for ints and bools, float64
for floats, one JSON list for strings; bytes, arrays and maps (rare) as tagged JSON. The
page compresses the whole with zstd, so repeated values cost little. Encoding and decoding
step through attributes in Python once each (they are Python values in `Spans`); counts,
keys, tags and numbers move as numpy columns.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from vigil.traces._api import Attributes, AttrValue, KeyValues

STR, BOOL, INT, FLOAT, OTHER = range(5)
_TAGS: dict[type, int] = {str: STR, bool: BOOL, int: INT, float: FLOAT}
_EMPTY: Attributes = ()

Strings = dict[str, int]
"""A page's string table while it is written: string → code, in first-use order."""


def pack(sections: Sequence[bytes]) -> bytes:
    """Sections with their lengths in front: u32 count, u32 lengths, the bytes."""
    lengths = np.array([len(s) for s in sections], dtype="<u4")
    return b"".join(
        (np.uint32(len(sections)).astype("<u4").tobytes(), lengths.tobytes(), *sections)
    )


def unpack(data: bytes | memoryview, count: int) -> list[memoryview]:
    """The `count` sections of `pack`; ValueError when the framing does not hold."""
    view = memoryview(data)
    if len(view) < 4 or int(np.frombuffer(view, "<u4", 1)[0]) != count:
        raise ValueError(f"want {count} sections")
    if len(view) < 4 + 4 * count:
        raise ValueError("section lengths cut off")
    lengths = np.frombuffer(view, "<u4", count, 4).astype(np.int64)
    ends = np.cumsum(lengths) + 4 + 4 * count
    if count and int(ends[-1]) != len(view):
        raise ValueError(f"sections hold {int(ends[-1])} bytes, not {len(view)}")
    starts = [4 + 4 * count, *ends[:-1].tolist()]
    return [view[a:b] for a, b in zip(starts, ends.tolist(), strict=True)]


def shuffled(values: npt.NDArray[Any]) -> bytes:
    """A little-endian numeric column with its bytes grouped by significance (all lowest
    bytes, then the next…): small numbers leave long zero runs that zstd folds away."""
    width = values.dtype.itemsize
    return np.ascontiguousarray(values).view(np.uint8).reshape(-1, width).T.tobytes()


def unshuffled(data: bytes | memoryview, dtype: str, count: int) -> npt.NDArray[Any]:
    want = np.dtype(dtype)
    if len(data) != want.itemsize * count:
        raise ValueError(f"column of {len(data)} bytes for {count} values of {dtype}")
    raw = np.frombuffer(data, np.uint8).reshape(want.itemsize, count)
    return np.ascontiguousarray(raw.T).view(want).reshape(count)


def code(strings: Strings, value: str) -> int:
    return strings.setdefault(value, len(strings))


def _tag(value: AttrValue) -> int:
    return _TAGS.get(type(value), OTHER)


def _to_json(value: AttrValue) -> Any:
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, bool):
        return ["t", value]
    if isinstance(value, int):
        return ["i", value]
    if isinstance(value, float):
        return ["f", value.hex()]
    if isinstance(value, bytes):
        return ["b", base64.b64encode(value).decode()]
    if isinstance(value, KeyValues):
        return ["m", [[k, _to_json(v)] for k, v in value.items]]
    return ["a", [_to_json(v) for v in value]]


def _from_json(doc: Any) -> AttrValue:
    tag, value = doc
    if tag in ("s", "t", "i"):
        return value  # type: ignore[no-any-return]
    if tag == "f":
        return float.fromhex(value)
    if tag == "b":
        return base64.b64decode(value)
    if tag == "m":
        return KeyValues(tuple((str(k), _from_json(v)) for k, v in value))
    if tag == "a":
        return tuple(_from_json(v) for v in value)
    raise ValueError(f"unknown attribute value tag {tag!r}")


def encode_attributes(owners: Sequence[Attributes], strings: Strings) -> bytes:
    counts = np.fromiter((len(a) for a in owners), dtype="<u4", count=len(owners))
    total = int(counts.sum())
    keys = np.fromiter(
        (code(strings, k) for attrs in owners for k, _ in attrs), dtype="<u4", count=total
    )
    values = np.fromiter((v for attrs in owners for _, v in attrs), dtype=object, count=total)
    tags = np.fromiter((_tag(v) for v in values.tolist()), dtype=np.uint8, count=total)
    numbers = values[(tags == INT) | (tags == BOOL)].tolist()
    try:
        ints = np.array(numbers, dtype="<i8")
    except OverflowError:
        raise ValueError("an int attribute does not fit in 64 bits") from None
    floats = np.array(values[tags == FLOAT].tolist(), dtype="<f8")
    others = [_to_json(v) for v in values[tags == OTHER].tolist()]
    return pack(
        (
            shuffled(counts),
            shuffled(keys),
            tags.tobytes(),
            shuffled(ints),
            shuffled(floats),
            orjson.dumps(values[tags == STR].tolist()),
            orjson.dumps(others),
        )
    )


def decode_attributes(
    data: bytes | memoryview,
    owners: int,
    strings: Sequence[str],
    rows: tuple[int, int] | None = None,
) -> list[Attributes]:
    """The attributes of owners `rows` (start, stop; all by default): columns are read
    whole, Python values are made for those owners only."""
    counts_b, keys_b, tags_b, ints_b, floats_b, strs_b, others_b = unpack(data, 7)
    counts = unshuffled(counts_b, "<u4", owners).astype(np.int64)
    lo, hi = rows if rows is not None else (0, owners)
    ends = np.cumsum(counts)
    total = int(ends[-1]) if owners else 0
    first = int(ends[lo - 1]) if lo else 0
    last = int(ends[hi - 1]) if hi else 0
    if first == last:
        if len(tags_b) != total:
            raise ValueError("attribute tags do not match their counts")
        return [_EMPTY] * (hi - lo)
    keys = unshuffled(keys_b, "<u4", total)
    tags = np.frombuffer(tags_b, np.uint8)
    if len(tags) != total or not strings or int(keys.max()) >= len(strings):
        raise ValueError("attribute keys or tags do not match their counts")
    values = np.empty(total, dtype=object)
    numeric = np.flatnonzero((tags == INT) | (tags == BOOL))
    ints = unshuffled(ints_b, "<i8", len(numeric))
    values[numeric] = ints
    is_bool = tags[numeric] == BOOL
    values[numeric[is_bool]] = ints[is_bool].astype(bool)
    is_float = tags == FLOAT
    values[is_float] = unshuffled(floats_b, "<f8", int(is_float.sum()))
    text = orjson.loads(bytes(strs_b))
    others = orjson.loads(bytes(others_b))
    is_str, is_other = tags == STR, tags == OTHER
    if len(text) != int(is_str.sum()) or len(others) != int(is_other.sum()):
        raise ValueError("attribute values do not match their tags")
    strs = np.empty(len(text), dtype=object)
    strs[:] = text
    values[is_str] = strs
    at = np.flatnonzero(is_other)
    for i in np.flatnonzero((at >= first) & (at < last)).tolist():
        values[at[i]] = _from_json(others[i])
    table = np.array(strings, dtype=object)
    pairs = list(zip(table[keys[first:last]].tolist(), values[first:last].tolist(), strict=True))
    bounds = (ends[lo:hi] - first).tolist()
    starts = [0, *bounds[:-1]]
    return [tuple(pairs[a:b]) if a != b else _EMPTY for a, b in zip(starts, bounds, strict=True)]
