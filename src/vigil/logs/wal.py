"""The log store's WAL: its record types on the generic write-ahead log (`tsdb.wlog`).

A stream record maps refs to label sets (label counts, then every name and value ended by
0xff). An entries record holds one push: per stream its ref and line count, then every
line's timestamp (int64), size (u32) and metadata pair count (u16) as little-endian
columns, the metadata strings (ended by 0xff) and the line bytes, so a record is written
and read with a few numpy calls whatever its line count. A chunk record holds a stream's
head chunk as encoded (checkpoints keep what the head holds without re-encoding it).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vigil.logs._api import Lines
from vigil.logs.chunk import Chunk
from vigil.logs.lines import (
    I64,
    Metadata,
    concat_lines,
    concat_metadata,
    decode_metadata,
    encode_metadata,
    gather_lines,
    take_metadata,
)
from vigil.model import Labels
from vigil.tsdb import wlog
from vigil.tsdb.wlog import WALMetrics

STREAMS = 1
ENTRIES = 2
CHUNK = 3
RECORD_TYPES = frozenset((STREAMS, ENTRIES, CHUNK))
_STREAMS_HEAD = struct.Struct("<BI")  # type, streams
_ENTRIES_HEAD = struct.Struct("<BIII")  # type, groups, lines, metadata bytes
_CHUNK_HEAD = struct.Struct("<BqqqII")  # type, ref, mint, maxt, lines, raw bytes


@dataclass(frozen=True, slots=True)
class Piece:
    """Entries of one stream as pushed: timestamps in push order (not necessarily sorted)."""

    timestamps: I64
    lines: Lines
    metadata: Metadata

    def __len__(self) -> int:
        return len(self.timestamps)

    @classmethod
    def join(cls, pieces: Sequence[Piece]) -> Piece:
        """One piece of several, in their order."""
        if len(pieces) == 1:
            return pieces[0]
        return cls(
            np.concatenate([p.timestamps for p in pieces]),
            concat_lines([p.lines for p in pieces]),
            concat_metadata([p.metadata for p in pieces], [len(p) for p in pieces]),
        )

    def take(self, indices: I64) -> Piece:
        return Piece(
            self.timestamps[indices],
            gather_lines(self.lines, indices),
            take_metadata(self.metadata, indices),
        )


def encode_streams(streams: Sequence[tuple[int, Labels]]) -> bytes:
    refs = np.array([ref for ref, _ in streams], dtype="<i8")
    counts, blob = encode_metadata([labels for _, labels in streams])
    return b"".join(
        (
            _STREAMS_HEAD.pack(STREAMS, len(streams)),
            refs.tobytes(),
            counts.astype("<u2").tobytes(),
            blob,
        )
    )


def decode_streams(payload: bytes | memoryview) -> list[tuple[int, Labels]]:
    _, count = _STREAMS_HEAD.unpack_from(payload, 0)
    start = _STREAMS_HEAD.size
    if len(payload) < start + 10 * count:
        raise ValueError(f"stream record of {count} streams has only {len(payload)} bytes")
    refs = np.frombuffer(payload, dtype="<i8", count=count, offset=start)
    counts = np.frombuffer(payload, dtype="<u2", count=count, offset=start + 8 * count)
    labels = decode_metadata(counts.astype(np.int64), payload[start + 10 * count :])
    return list(zip(refs.tolist(), labels, strict=True))


def encode_entries(groups: Sequence[tuple[int, Piece]]) -> bytes:
    pieces = [piece for _, piece in groups]
    lines = sum(len(p) for p in pieces)
    meta_counts = np.zeros(lines, dtype="<u2")
    blobs: list[bytes] = []
    at = 0
    for piece in pieces:
        if piece.metadata is not None:  # lines without metadata cost no Python step each
            counts, blob = encode_metadata(piece.metadata)
            meta_counts[at : at + len(piece)] = counts
            blobs.append(blob)
        at += len(piece)
    meta_blob = b"".join(blobs)
    columns = [
        _ENTRIES_HEAD.pack(ENTRIES, len(groups), lines, len(meta_blob)),
        np.array([ref for ref, _ in groups], dtype="<i8").tobytes(),
        np.array([len(p) for p in pieces], dtype="<i8").tobytes(),
        *(p.timestamps.astype("<i8", copy=False).tobytes() for p in pieces),
        *(p.lines.sizes().astype("<u4").tobytes() for p in pieces),
        meta_counts.tobytes(),
        meta_blob,
        *(p.lines.data for p in pieces),
    ]
    return b"".join(columns)


def decode_entries(payload: bytes | memoryview) -> list[tuple[int, Piece]]:
    _, groups, lines, meta_bytes = _ENTRIES_HEAD.unpack_from(payload, 0)
    at = _ENTRIES_HEAD.size
    fixed = at + 16 * groups + 14 * lines + meta_bytes
    if len(payload) < fixed:
        raise ValueError(f"entries record of {lines} lines has only {len(payload)} bytes")
    refs = np.frombuffer(payload, dtype="<i8", count=groups, offset=at)
    counts = np.frombuffer(payload, dtype="<i8", count=groups, offset=at + 8 * groups)
    at += 16 * groups
    if int(counts.sum()) != lines or (groups and int(counts.min()) < 0):
        raise ValueError(f"entries record's stream counts do not add up to {lines} lines")
    ts = np.frombuffer(payload, dtype="<i8", count=lines, offset=at).astype(np.int64)
    sizes = np.frombuffer(payload, dtype="<u4", count=lines, offset=at + 8 * lines)
    meta_counts = np.frombuffer(payload, dtype="<u2", count=lines, offset=at + 12 * lines)
    at += 14 * lines
    meta = decode_metadata(meta_counts.astype(np.int64), payload[at : at + meta_bytes])
    at += meta_bytes
    offsets = np.zeros(lines + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    if len(payload) - at != offsets[-1]:
        raise ValueError(f"entries record holds {len(payload) - at} line bytes, not {offsets[-1]}")
    data = bytes(payload[at:])
    found: list[tuple[int, Piece]] = []
    end = 0
    for ref, count in zip(refs.tolist(), counts.tolist(), strict=True):
        begin, end = end, end + count
        low, high = int(offsets[begin]), int(offsets[end])
        piece_meta = meta[begin:end]
        found.append(
            (
                ref,
                Piece(
                    ts[begin:end],
                    Lines(data[low:high], offsets[begin : end + 1] - low),
                    piece_meta if any(piece_meta) else None,
                ),
            )
        )
    return found


def encode_chunk(ref: int, chunk: Chunk) -> bytes:
    head = _CHUNK_HEAD.pack(CHUNK, ref, chunk.mint, chunk.maxt, chunk.lines, chunk.raw_bytes)
    return head + chunk.data


def decode_chunk(payload: bytes | memoryview) -> tuple[int, Chunk]:
    _, ref, mint, maxt, lines, raw_bytes = _CHUNK_HEAD.unpack_from(payload, 0)
    chunk = Chunk(mint, maxt, lines, raw_bytes, bytes(payload[_CHUNK_HEAD.size :]))
    chunk.timestamps()  # the chunk's own framing must hold
    return ref, chunk


@dataclass(frozen=True, slots=True)
class LogReplaySinks:
    streams: Callable[[list[tuple[int, Labels]]], None]
    entries: Callable[[list[tuple[int, Piece]]], None]
    chunk: Callable[[int, Chunk], None]


def replay(
    wal_dir: Path, sinks: LogReplaySinks, metrics: WALMetrics | None, repair: bool
) -> wlog.LogReplayStats:
    """Feed the checkpoint, then every later segment, to the sinks in write order."""

    def on_record(payload: memoryview) -> None:
        kind = payload[0]
        if kind == STREAMS:
            sinks.streams(decode_streams(payload))
        elif kind == ENTRIES:
            sinks.entries(decode_entries(payload))
        else:
            sinks.chunk(*decode_chunk(payload))

    return wlog.replay_log(wal_dir, RECORD_TYPES, on_record, metrics, repair=repair)
