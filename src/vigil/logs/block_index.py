"""A log block's index: its streams (label sets, in label order), per chunk the stream,
min/max time, line count, raw line bytes, where its bytes are in the chunk file with
their CRC32C, flags (FLAG_METADATA: some line has structured metadata) and the block
dictionary its lines need (-1: none), and the postings (per label pair, the streams that have
it) — columns of little-endian numpy arrays and 0xff-ended strings, zstd-compressed as one
frame, after a magic and the CRC32C of that frame. Earlier formats still read: VLI3 (no
dictionaries) and VLI2 (no flags either: its chunks may all have metadata)."""

from __future__ import annotations

import struct
from collections import defaultdict
from dataclasses import dataclass

import crc32c
import numpy as np
import numpy.typing as npt
import zstandard

from vigil.logs.lines import decode_metadata, encode_metadata
from vigil.model import Labels

I64 = npt.NDArray[np.int64]

MAGIC = b"VLI4"
FLAG_METADATA = 1
NO_DICTIONARY = -1
# columns each format holds (the ones after them take their defaults)
_FORMATS = {b"VLI2": 8, b"VLI3": 9, MAGIC: 10}
_HEAD = struct.Struct("<4sI")  # magic, crc32c of the compressed body
_COUNTS = struct.Struct("<IIII")  # streams, chunks, label pairs, stream label bytes
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
)
_DEFAULTS = {"flags": FLAG_METADATA, "dictionary": NO_DICTIONARY}


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
        body = b"".join(
            (
                _COUNTS.pack(len(self.streams), len(self.stream), len(postings), len(blob)),
                counts.astype("<u2").tobytes(),
                *(getattr(self, name).astype("<i8").tobytes() for name in _INT_COLUMNS),
                sizes.tobytes(),
                *(r.tobytes() for r in refs),
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
        streams = list(decode_metadata(counts, body[at : at + labels_size]))
        (pairs,) = decode_metadata(np.array([n_pairs], dtype=np.int64), body[at + labels_size :])
        if len(refs) and (int(refs.min()) < 0 or int(refs.max()) >= n_streams):
            raise ValueError("index postings name streams it does not have")
        bounds = np.concatenate(([0], np.cumsum(sizes))).tolist()
        postings = [
            (name, value, refs[bounds[i] : bounds[i + 1]]) for i, (name, value) in enumerate(pairs)
        ]
        return cls(streams, *columns), postings
