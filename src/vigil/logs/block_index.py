"""A log block's index: its streams (label sets, in label order) and per chunk the stream,
min/max time, line count, raw line bytes, and where its bytes are in the chunk file with
their CRC32C — columns of little-endian numpy arrays, zstd-compressed as one frame, after a
magic and the CRC32C of that frame."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import crc32c
import numpy as np
import numpy.typing as npt
import zstandard

from vigil.logs.lines import decode_metadata, encode_metadata
from vigil.model import Labels

I64 = npt.NDArray[np.int64]

MAGIC = b"VLI1"
_HEAD = struct.Struct("<4sI")  # magic, crc32c of the compressed body
_COUNTS = struct.Struct("<II")  # streams, chunks
_INT_COLUMNS = ("stream", "mint", "maxt", "lines", "raw_bytes", "offset", "length", "crc")


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

    def encode(self) -> bytes:
        counts, blob = encode_metadata(self.streams)
        body = b"".join(
            (
                _COUNTS.pack(len(self.streams), len(self.stream)),
                counts.astype("<u2").tobytes(),
                *(getattr(self, name).astype("<i8").tobytes() for name in _INT_COLUMNS),
                blob,
            )
        )
        frame = zstandard.ZstdCompressor(level=3).compress(body)
        return _HEAD.pack(MAGIC, crc32c.crc32c(frame)) + frame

    @classmethod
    def decode(cls, data: bytes) -> BlockIndex:
        """ValueError naming what is wrong when the bytes are not an intact index."""
        if len(data) < _HEAD.size:
            raise ValueError(f"index of {len(data)} bytes has no header")
        magic, crc = _HEAD.unpack_from(data)
        frame = data[_HEAD.size :]
        if magic != MAGIC:
            raise ValueError("index does not start with its magic")
        if crc32c.crc32c(frame) != crc:
            raise ValueError("index checksum mismatch")
        body = zstandard.ZstdDecompressor().decompress(frame)
        n_streams, n_chunks = _COUNTS.unpack_from(body)
        at = _COUNTS.size
        counts = np.frombuffer(body, dtype="<u2", count=n_streams, offset=at).astype(np.int64)
        at += 2 * n_streams
        columns = []
        for _ in _INT_COLUMNS:
            columns.append(np.frombuffer(body, dtype="<i8", count=n_chunks, offset=at).copy())
            at += 8 * n_chunks
        streams = list(decode_metadata(counts, body[at:]))
        return cls(streams, *columns)
