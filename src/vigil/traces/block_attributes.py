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
from itertools import chain
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from vigil.traces._api import Attributes, AttrValue, KeyValues

STR, BOOL, INT, FLOAT, OTHER = range(5)
_TAGS: dict[type, int] = {
    str: STR,
    bool: BOOL,
    int: INT,
    float: FLOAT,
    bytes: OTHER,
    tuple: OTHER,
    KeyValues: OTHER,
}
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


def unshuffled(
    data: bytes | memoryview,
    dtype: str,
    count: int,
    at: npt.NDArray[np.intp] | slice | None = None,
) -> npt.NDArray[Any]:
    """The column of `shuffled`, or only its values `at` (gathered without the rest)."""
    want = np.dtype(dtype)
    if len(data) != want.itemsize * count:
        raise ValueError(f"column of {len(data)} bytes for {count} values of {dtype}")
    raw = np.frombuffer(data, np.uint8).reshape(want.itemsize, count)
    if at is not None:
        raw = raw[:, at]
    return np.ascontiguousarray(raw.T).view(want).reshape(-1)


def code(strings: Strings, value: str) -> int:
    return strings.setdefault(value, len(strings))


def _tag(value: AttrValue) -> int:
    return _TAGS.get(type(value), OTHER)


def _codes(strings: Strings, keys: Sequence[str]) -> list[int]:
    """`keys` coded into the table (new ones added in first-use order), a C loop each."""
    for key in dict.fromkeys(keys):
        strings.setdefault(key, len(strings))
    return list(map(strings.__getitem__, keys))


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
    counts = np.fromiter(map(len, owners), dtype="<u4", count=len(owners))
    total = int(counts.sum())
    flat: list[Any] = list(chain.from_iterable(chain.from_iterable(owners)))
    names: list[str] = flat[0::2]
    items: list[AttrValue] = flat[1::2]
    keys = np.array(_codes(strings, names), dtype="<u4")
    values = np.fromiter(items, dtype=object, count=total)
    try:
        tags = np.array(list(map(_TAGS.__getitem__, map(type, items))), dtype=np.uint8)
    except KeyError:
        tags = np.fromiter(map(_tag, items), dtype=np.uint8, count=total)
    numbers = values[(tags == INT) | (tags == BOOL)].tolist()
    try:
        ints = np.array(numbers, dtype="<i8")
    except OverflowError:
        raise ValueError("an int attribute does not fit in 64 bits") from None
    floats = np.array(values[tags == FLOAT].tolist(), dtype="<f8")
    others = [_to_json(v) for v in values[tags == OTHER].tolist()]
    sizes, blob = encode_texts(values[tags == STR].tolist())
    return pack(
        (
            shuffled(counts),
            shuffled(keys),
            tags.tobytes(),
            shuffled(ints),
            shuffled(floats),
            shuffled(sizes),
            blob,
            orjson.dumps(others),
        )
    )


def encode_texts(texts: list[str]) -> tuple[npt.NDArray[np.uint32], bytes]:
    """Strings as their UTF-8 sizes and one blob (lone surrogates kept, as JSON allows)."""
    joined = "".join(texts)
    blob = joined.encode("utf-8", "surrogatepass")
    if len(blob) == len(joined):
        return np.fromiter(map(len, texts), dtype="<u4", count=len(texts)), blob
    encoded = [t.encode("utf-8", "surrogatepass") for t in texts]
    return np.fromiter(map(len, encoded), dtype="<u4", count=len(texts)), b"".join(encoded)


def decode_texts(
    sizes: npt.NDArray[np.uint32], blob: bytes | memoryview, picked: npt.NDArray[np.intp] | None
) -> list[str]:
    """The strings `picked` (all when None) of `encode_texts`."""
    ends = np.cumsum(sizes, dtype=np.int64)
    if len(ends) and int(ends[-1]) != len(blob):
        raise ValueError(f"strings of {int(ends[-1])} bytes in a blob of {len(blob)}")
    starts = ends - sizes
    raw = bytes(blob)
    if picked is not None:
        starts, ends = starts[picked], ends[picked]
    cuts = map(slice, starts.tolist(), ends.tolist())
    if picked is None:
        text = raw.decode("utf-8", "surrogatepass")
        if len(text) == len(raw):
            return list(map(text.__getitem__, cuts))
    return [raw[cut].decode("utf-8", "surrogatepass") for cut in cuts]


def spread(
    counts: npt.NDArray[np.int64], picked: npt.NDArray[np.intp] | None
) -> tuple[npt.NDArray[np.intp] | None, npt.NDArray[np.int64]]:
    """The items owned by the owners `picked` (in order), and each picked owner's count:
    what a subset of spans asks of a column of their attributes, events or links."""
    if picked is None:
        return None, counts
    mine = counts[picked]
    starts = np.cumsum(counts) - counts
    shift = np.repeat(starts[picked] - (np.cumsum(mine) - mine), mine)
    return (np.arange(int(mine.sum())) + shift).astype(np.intp), mine


def decode_attributes(
    data: bytes | memoryview,
    owners: int,
    strings: Sequence[str],
    picked: npt.NDArray[np.intp] | None = None,
    keys_wanted: Sequence[int] | None = None,
) -> list[Attributes]:
    """The attributes of the owners `picked` (ascending; all when None), only those whose
    key is one of the string codes `keys_wanted` unless it is None: columns are read whole,
    Python values are made for those attributes only."""
    counts_b, keys_b, tags_b, ints_b, floats_b, sizes_b, blob, others_b = unpack(data, 8)
    counts = unshuffled(counts_b, "<u4", owners).astype(np.int64)
    total = int(counts.sum())
    tags = np.frombuffer(tags_b, np.uint8)
    if len(tags) != total:
        raise ValueError("attribute tags do not match their counts")
    items, mine = spread(counts, picked)
    if keys_wanted is not None:
        kept = np.isin(unshuffled(keys_b, "<u4", total, items), keys_wanted)
        owner = np.repeat(np.arange(len(mine)), mine)[kept]
        items = (np.flatnonzero(kept) if items is None else items[kept]).astype(np.intp)
        mine = np.bincount(owner, minlength=len(mine)).astype(np.int64)
    if not int(mine.sum()):
        return [_EMPTY] * len(mine)
    keys = unshuffled(keys_b, "<u4", total, items)
    if not strings or int(keys.max()) >= len(strings):
        raise ValueError("an attribute key is past the string table")
    kinds = tags if items is None else tags[items]
    values = np.empty(len(kinds), dtype=object)
    numeric = (tags == INT) | (tags == BOOL)
    at, column = _slots(numeric, items)
    ints = unshuffled(ints_b, "<i8", int(numeric.sum()), column)
    values[at] = ints
    is_bool = kinds[at] == BOOL
    values[at[is_bool]] = ints[is_bool].astype(bool)
    is_float = tags == FLOAT
    at, column = _slots(is_float, items)
    values[at] = unshuffled(floats_b, "<f8", int(is_float.sum()), column)
    is_str = tags == STR
    sizes = unshuffled(sizes_b, "<u4", int(is_str.sum()))
    at, column = _slots(is_str, items)
    texts = np.empty(len(at), dtype=object)
    texts[:] = decode_texts(sizes, blob, None if items is None else column)
    values[at] = texts
    is_other = tags == OTHER
    at, column = _slots(is_other, items)
    if len(at):
        others = orjson.loads(bytes(others_b))
        if len(others) != int(is_other.sum()):
            raise ValueError("attribute values do not match their tags")
        for i, j in zip(at.tolist(), column.tolist(), strict=True):
            values[i] = _from_json(others[j])
    names = keys.tolist()
    pairs = list(zip(map(strings.__getitem__, names), values.tolist(), strict=True))
    ends = np.cumsum(mine).tolist()
    starts = [0, *ends[:-1]]
    return [tuple(pairs[a:b]) if a != b else _EMPTY for a, b in zip(starts, ends, strict=True)]


def _slots(
    mask: npt.NDArray[np.bool_], items: npt.NDArray[np.intp] | None
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """For the attributes `items` (all when None) of `mask`'s type: their positions among
    `items`, and their places in that type's column (which holds them in attribute order)."""
    if items is None:
        return np.flatnonzero(mask), np.arange(int(mask.sum()))
    at = np.flatnonzero(mask[items])
    return at, (np.cumsum(mask) - 1)[items[at]]
