"""A log block's index: its streams (label sets, in label order), per chunk the stream,
min/max time, line count, raw line bytes, where its bytes are in the chunk file with
their CRC32C, flags (FLAG_METADATA: some line has structured metadata), the block
dictionary its lines need (-1: none) and its metadata's counted values (see chunk_values: the
set of its metadata names and how many rows of value counts it has; -1: not counted), the
value rows (a value set, lines, bytes) and the value sets (name sets are label sets of empty
values), and the postings (per label pair, the streams that have it) — columns of
little-endian numpy arrays and 0xff-ended strings, zstd-compressed as one frame, after a magic
and the CRC32C of that frame. Earlier formats still read: VLI4 (no counted values), VLI3 (no
dictionaries either) and VLI2 (no flags either: its chunks may all have metadata)."""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass, field, replace

import crc32c
import numpy as np
import numpy.typing as npt
import zstandard

from vigil.logs.chunk_values import ChunkValues
from vigil.logs.lines import decode_metadata, encode_metadata
from vigil.model import Labels

I64 = npt.NDArray[np.int64]

MAGIC = b"VLI5"
FLAG_METADATA = 1
NO_DICTIONARY = -1
NOT_COUNTED = -1
# columns each format holds (the ones after them take their defaults)
_FORMATS = {b"VLI2": 8, b"VLI3": 9, b"VLI4": 10, MAGIC: 12}
_HEAD = struct.Struct("<4sI")  # magic, crc32c of the compressed body
_COUNTS = struct.Struct("<IIII")  # streams, chunks, label pairs, stream label bytes
_VALUE_COUNTS = struct.Struct("<III")  # value rows, value sets, their label bytes
_INT_COLUMNS = (
    "stream",
    "mint",
    "maxt",
    "lines",
    "raw_bytes",
    "offset",
    "length",
    "crc",
    "flags",
    "dictionary",
    "names",
    "values",
)
_DEFAULTS = {
    "flags": FLAG_METADATA,
    "dictionary": NO_DICTIONARY,
    "names": NOT_COUNTED,
    "values": NOT_COUNTED,
}


@dataclass(frozen=True, slots=True)
class BlockIndex:
    """`stream[i]` is chunk i's index into `streams`; chunks are grouped by stream, each
    stream's in the order they were written."""

    streams: list[Labels]
    stream: I64
    mint: I64
    maxt: I64
    lines: I64
    raw_bytes: I64
    offset: I64
    length: I64
    crc: I64
    flags: I64
    dictionary: I64
    names: I64
    values: I64
    value_set: I64 = field(kw_only=True, default_factory=lambda: np.zeros(0, dtype=np.int64))
    value_lines: I64 = field(kw_only=True, default_factory=lambda: np.zeros(0, dtype=np.int64))
    value_bytes: I64 = field(kw_only=True, default_factory=lambda: np.zeros(0, dtype=np.int64))
    sets: list[Labels] = field(kw_only=True, default_factory=list)

    @classmethod
    def build(
        cls, streams: list[Labels], rows: list[tuple[int, ...]], values: list[ChunkValues | None]
    ) -> BlockIndex:
        """From each chunk's row of the columns before `names` and its counted values."""
        table: dict[Labels, int] = {}
        names, counts, value_rows = [], [], []
        for counted in values:
            if counted is None:
                names.append(NOT_COUNTED)
                counts.append(NOT_COUNTED)
                continue
            name_set = Labels((name, "") for name in sorted(counted.names))
            names.append(table.setdefault(name_set, len(table)))
            counts.append(len(counted.sets))
            for labels, lines, size in zip(counted.sets, counted.lines, counted.bytes, strict=True):
                value_rows.append((table.setdefault(labels, len(table)), lines, size))
        columns = np.array(rows, dtype=np.int64).reshape(len(rows), -1).T
        found = np.array(value_rows, dtype=np.int64).reshape(len(value_rows), 3).T
        index = cls(streams, *columns, *(np.array(c, dtype=np.int64) for c in (names, counts)))
        return index.with_values(found[0], found[1], found[2], list(table))

    def with_values(
        self, value_set: I64, value_lines: I64, value_bytes: I64, sets: list[Labels]
    ) -> BlockIndex:
        return replace(
            self, value_set=value_set, value_lines=value_lines, value_bytes=value_bytes, sets=sets
        )

    def value_starts(self) -> I64:
        """Per chunk, its first value row."""
        return np.concatenate(([0], np.cumsum(np.maximum(self.values, 0))[:-1])).astype(np.int64)

    def chunk_values(self, chunk: int, start: int) -> ChunkValues | None:
        """Chunk `chunk`'s counted values, its rows from `start` (see value_starts)."""
        count = int(self.values[chunk])
        if count == NOT_COUNTED:
            return None
        rows = slice(start, start + count)
        name_set = self.sets[int(self.names[chunk])]
        return ChunkValues(
            frozenset(name_set.names()),
            tuple(self.sets[k] for k in self.value_set[rows].tolist()),
            tuple(self.value_lines[rows].tolist()),
            tuple(self.value_bytes[rows].tolist()),
        )

    def postings(self) -> list[tuple[str, str, I64]]:
        """Per label pair (sorted), the ascending streams that have it."""
        found: dict[tuple[str, str], list[int]] = defaultdict(list)
        for ref, labels in enumerate(self.streams):
            for pair in labels:
                found[pair].append(ref)
        return [(n, v, np.array(refs, dtype=np.int64)) for (n, v), refs in sorted(found.items())]

    def encode(self) -> bytes:
        counts, blob = encode_metadata(self.streams)
        postings = self.postings()
        sizes = np.array([len(refs) for _, _, refs in postings], dtype="<i8")
        pairs = Labels([(name, value) for name, value, _ in postings])
        _, pair_blob = encode_metadata([pairs])
        refs = [r.astype("<i4") for _, _, r in postings]
        set_counts, set_blob = encode_metadata(self.sets)
        body = b"".join(
            (
                _COUNTS.pack(len(self.streams), len(self.stream), len(postings), len(blob)),
                _VALUE_COUNTS.pack(len(self.value_set), len(self.sets), len(set_blob)),
                counts.astype("<u2").tobytes(),
                *(getattr(self, name).astype("<i8").tobytes() for name in _INT_COLUMNS),
                sizes.tobytes(),
                *(r.tobytes() for r in refs),
                self.value_set.astype("<i4").tobytes(),
                self.value_lines.astype("<i8").tobytes(),
                self.value_bytes.astype("<i8").tobytes(),
                set_counts.astype("<u2").tobytes(),
                set_blob,
                blob,
                pair_blob,
            )
        )
        frame = zstandard.ZstdCompressor(level=3).compress(body)
        return _HEAD.pack(MAGIC, crc32c.crc32c(frame)) + frame

    @classmethod
    def decode(cls, data: bytes) -> tuple[BlockIndex, list[tuple[str, str, I64]]]:
        """ValueError naming what is wrong when the bytes are not an intact index."""
        if len(data) < _HEAD.size:
            raise ValueError(f"index of {len(data)} bytes has no header")
        magic, crc = _HEAD.unpack_from(data)
        frame = data[_HEAD.size :]
        if magic not in _FORMATS:
            raise ValueError("index does not start with its magic")
        if crc32c.crc32c(frame) != crc:
            raise ValueError("index checksum mismatch")
        body = zstandard.ZstdDecompressor().decompress(frame)
        n_streams, n_chunks, n_pairs, labels_size = _COUNTS.unpack_from(body)
        at = _COUNTS.size
        n_rows = n_sets = sets_size = 0
        if magic == MAGIC:
            n_rows, n_sets, sets_size = _VALUE_COUNTS.unpack_from(body, at)
            at += _VALUE_COUNTS.size
        counts = np.frombuffer(body, dtype="<u2", count=n_streams, offset=at).astype(np.int64)
        at += 2 * n_streams
        columns = []
        for k, name in enumerate(_INT_COLUMNS):
            if k >= _FORMATS[magic]:
                columns.append(np.full(n_chunks, _DEFAULTS[name], dtype=np.int64))
                continue
            columns.append(np.frombuffer(body, dtype="<i8", count=n_chunks, offset=at).copy())
            at += 8 * n_chunks
        sizes = np.frombuffer(body, dtype="<i8", count=n_pairs, offset=at)
        at += 8 * n_pairs
        total = int(sizes.sum())
        refs = np.frombuffer(body, dtype="<i4", count=total, offset=at).astype(np.int64)
        at += 4 * total
        value_set = np.frombuffer(body, dtype="<i4", count=n_rows, offset=at).astype(np.int64)
        at += 4 * n_rows
        value_lines = np.frombuffer(body, dtype="<i8", count=n_rows, offset=at).copy()
        value_bytes = np.frombuffer(body, dtype="<i8", count=n_rows, offset=at + 8 * n_rows).copy()
        at += 16 * n_rows
        set_counts = np.frombuffer(body, dtype="<u2", count=n_sets, offset=at).astype(np.int64)
        at += 2 * n_sets
        sets = list(decode_metadata(set_counts, body[at : at + sets_size]))
        at += sets_size
        streams = list(decode_metadata(counts, body[at : at + labels_size]))
        (pairs,) = decode_metadata(np.array([n_pairs], dtype=np.int64), body[at + labels_size :])
        if len(refs) and (int(refs.min()) < 0 or int(refs.max()) >= n_streams):
            raise ValueError("index postings name streams it does not have")
        names, values = columns[-2], columns[-1]
        if (
            int(np.maximum(values, 0).sum()) != n_rows
            or int(names.max(initial=NOT_COUNTED)) >= n_sets
            or (len(value_set) and not 0 <= int(value_set.min()) <= int(value_set.max()) < n_sets)
        ):
            raise ValueError("index value counts name rows or sets it does not have")
        bounds = np.concatenate(([0], np.cumsum(sizes))).tolist()
        postings = [
            (name, value, refs[bounds[i] : bounds[i + 1]]) for i, (name, value) in enumerate(pairs)
        ]
        index = cls(streams, *columns).with_values(value_set, value_lines, value_bytes, sets)
        return index, postings
