"""A column of structured metadata as chunks encode it (pairs per line; every name and value
ended by 0xff, see lines.encode_metadata), read with numpy: which label set, or which value
of one name, each line has, in a few passes over the bytes whatever the number of lines. A
`Labels` per line costs a Python step per line, and a day at 1k lines/s holds 86 M."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.logs.lines import NO_LABELS, decode_metadata, encode_metadata
from vigil.model import Labels

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

_PACKED = 7  # strings up to this many bytes are told apart by their bytes packed in an integer
_FEW = 8
_NO_BYTE = 0x100  # an offset past a string's end
_HASHED = 256  # up to this many, by a hash in numpy (checked); longer, in Python
_MULTIPLIER = np.uint64(0x100000001B3)


@dataclass(frozen=True, slots=True)
class MetadataColumn:
    """`counts[i]` pairs for line i; string k of `blob` is `blob[starts[k]:ends[k]]` (names
    at even k, values at odd k, line by line)."""

    counts: I64
    blob: bytes
    starts: I64
    ends: I64

    @classmethod
    def decode(cls, counts: I64, blob: bytes) -> MetadataColumn:
        """ValueError when the blob does not hold the pairs `counts` says."""
        raw = np.frombuffer(blob, dtype=np.uint8)
        ends = np.flatnonzero(raw == 0xFF)
        total = int(counts.sum())
        if len(ends) != 2 * total or (len(raw) and raw[-1] != 0xFF) or (counts < 0).any():
            raise ValueError(f"metadata holds {len(ends)} strings for {total} pairs")
        starts = np.zeros(len(ends), dtype=np.int64)
        starts[1:] = ends[:-1] + 1
        return cls(counts, blob, starts, ends)

    @classmethod
    def of(cls, metadata: Sequence[Labels]) -> MetadataColumn:
        return cls.decode(*encode_metadata(metadata))

    def __len__(self) -> int:
        return len(self.counts)

    def names(self) -> frozenset[str]:
        """Every name some line has."""
        _, distinct = _distinct(self.blob, self.starts[0::2], self.ends[0::2])
        return frozenset(name.decode() for name in distinct)

    def values(self, name: str) -> tuple[I64, list[str]]:
        """Per line, where its value of `name` is in the list (-1: the line has no `name`)."""
        pairs = _equal(self.blob, self.starts[0::2], self.ends[0::2], name.encode())
        found = np.full(len(self), -1, dtype=np.int64)
        if not len(pairs):
            return found, []
        codes, distinct = _distinct(self.blob, self.starts[2 * pairs + 1], self.ends[2 * pairs + 1])
        lines = np.repeat(np.arange(len(self), dtype=np.int64), self.counts)
        found[lines[pairs]] = codes
        return found, [value.decode() for value in distinct]

    def which(self, sets: Sequence[Labels]) -> I64 | None:
        """Per line, which of `sets` its label set is, given that every line's is one of them
        (a chunk's counted values promise it): told apart by the length of their encodings
        and the bytes at a few offsets, so a few passes over the lines, not over the bytes
        (a line of another set may pass for one of them). None when a few offsets do not tell
        the sets apart."""
        encodings = [encode_metadata([labels])[1] for labels in sets]
        offsets = _telling_offsets(encodings)
        if offsets is None:
            return None
        starts, ends = self._spans()
        lengths = ends - starts
        if max((len(e) for e in encodings), default=0) > _NO_BYTE or (lengths > _NO_BYTE).any():
            return None
        raw = np.frombuffer(self.blob, dtype=np.uint8)
        keys = lengths.astype(np.uint64)
        for k, offset in enumerate(offsets, start=1):
            inside = lengths > offset
            byte = raw[np.where(inside, starts + offset, 0)].astype(np.uint64) if len(raw) else 0
            keys |= np.where(inside, byte, np.uint64(_NO_BYTE)) << np.uint64(16 * k)
        known = np.array([_key(e, offsets) for e in encodings], dtype=np.uint64)
        order = np.argsort(known)
        at = np.minimum(np.searchsorted(known[order], keys), len(known) - 1)
        if not (known[order][at] == keys).all():
            return None
        return order[at].astype(np.int64)

    def _spans(self) -> tuple[I64, I64]:
        """Per line, where its pairs' bytes start and end in the blob (empty: none)."""
        counts = self.counts
        some = np.flatnonzero(counts > 0)
        first = 2 * (np.cumsum(counts) - counts)[some]
        starts = np.zeros(len(self), dtype=np.int64)
        ends = np.zeros(len(self), dtype=np.int64)
        starts[some] = self.starts[first]
        ends[some] = self.ends[first + 2 * counts[some] - 1] + 1
        return starts, ends

    def sets(self) -> tuple[I64, list[Labels]]:
        """Per line, where its label set is in the list."""
        codes, distinct = _distinct(self.blob, *self._spans())
        return codes, [
            decode_metadata(np.array([s.count(b"\xff") // 2]), s)[0] if s else NO_LABELS
            for s in distinct
        ]


def _key(encoding: bytes, offsets: Sequence[int]) -> int:
    key = len(encoding)
    for k, offset in enumerate(offsets, start=1):
        key |= (encoding[offset] if offset < len(encoding) else _NO_BYTE) << (16 * k)
    return key


def _telling_offsets(encodings: Sequence[bytes]) -> list[int] | None:
    """Up to three byte offsets that, with the length, tell `encodings` apart (greedily, the
    offset that splits most of them first); None when three do not."""
    offsets: list[int] = []
    widest = max((len(e) for e in encodings), default=0)
    while len({_key(e, offsets) for e in encodings}) < len(encodings):
        if len(offsets) == 3:
            return None
        offsets.append(
            max(range(widest), key=lambda o: len({_key(e, [*offsets, o]) for e in encodings}))
        )
    return offsets


def _equal(blob: bytes, starts: I64, ends: I64, key: bytes) -> I64:
    """Positions of the strings that are `key`."""
    raw = np.frombuffer(blob, dtype=np.uint8)
    found = np.flatnonzero(ends - starts == len(key))
    at = starts[found]
    for k, byte in enumerate(key):
        same = raw[at + k] == byte
        found, at = found[same], at[same]
    return found


def _distinct(blob: bytes, starts: I64, ends: I64) -> tuple[I64, list[bytes]]:
    """Per string its position among the distinct strings, and those (in first-seen order
    is not promised). Strings are hashed column by column in numpy, and every one checked
    against the first of its hash, so a collision falls back to Python, never merges two."""
    lengths = ends - starts
    if not len(lengths):
        return np.zeros(0, dtype=np.int64), []
    width = int(lengths.max())
    raw = np.frombuffer(blob, dtype=np.uint8)
    if width <= _PACKED:
        packed = lengths.astype(np.uint64) << np.uint64(8 * _PACKED)
        for k in range(width):
            live = lengths > k
            byte = raw[np.where(live, starts + k, 0)].astype(np.uint64)
            packed |= np.where(live, byte, np.uint64(0)) << np.uint64(8 * k)
        codes, first = _factorize(packed)
        return codes, [blob[a:b] for a, b in zip(starts[first], ends[first], strict=True)]
    if width <= _HASHED:
        hashes = lengths.astype(np.uint64)
        for k in range(width):
            live = lengths > k
            byte = raw[np.where(live, starts + k, 0)].astype(np.uint64) + np.uint64(1)
            hashes = hashes * _MULTIPLIER + np.where(live, byte, np.uint64(0))
        _, first, codes = np.unique(hashes, return_index=True, return_inverse=True)
        codes = codes.reshape(-1).astype(np.int64)
        if _same(raw, starts, lengths, first[codes], width):
            return codes, [blob[a:b] for a, b in zip(starts[first], ends[first], strict=True)]
    seen: dict[bytes, int] = {}
    found = np.fromiter(
        (
            seen.setdefault(blob[a:b], len(seen))
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        ),
        dtype=np.int64,
        count=len(starts),
    )
    return found, list(seen)


def _factorize(keys: U64) -> tuple[I64, I64]:
    """Per key its position among the distinct keys, and where each is first: a few
    comparisons of the whole column while they are few (a level has a handful of values),
    a sort past _FEW."""
    codes = np.full(len(keys), -1, dtype=np.int64)
    first: list[int] = []
    at = 0
    while len(first) < _FEW:
        codes[keys == keys[at]] = len(first)
        first.append(at)
        at = int(np.argmin(codes))
        if codes[at] >= 0:
            return codes, np.array(first, dtype=np.int64)
    _, found, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), found


def _same(raw: npt.NDArray[np.uint8], starts: I64, lengths: I64, reps: I64, width: int) -> bool:
    """Whether every string equals string `reps[i]`."""
    if not (lengths == lengths[reps]).all():
        return False
    for k in range(width):
        live = np.flatnonzero(lengths > k)
        if not (raw[starts[live] + k] == raw[starts[reps[live]] + k]).all():
            return False
    return True
