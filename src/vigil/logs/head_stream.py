"""One stream in the head: its cut chunks and the open chunk it is filling (the pieces of
each push, kept as pushed until the chunk is cut: sorted and encoded once)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from vigil.logs._api import Entries, Lines
from vigil.logs.chunk import I64, Chunk
from vigil.logs.chunk_values import ChunkValues
from vigil.logs.metadata_column import MetadataColumn
from vigil.logs.stream_read import sort_entries
from vigil.logs.wal import Piece
from vigil.model import Labels

MAX_PIECES = 64  # then the open chunk's pieces become one (a slow stream's many pushes)
MIN_TIME = -(2**63)
MAX_TIME = 2**63 - 1


@dataclass(frozen=True, slots=True)
class OpenChunk:
    """A snapshot of a stream's open chunk: immutable, read without the head's lock."""

    pieces: tuple[Piece, ...]
    mint: int
    maxt: int
    lines: int
    raw_bytes: int

    def _sorted(self, labels: Labels) -> Entries:
        return sort_entries(
            [Entries(labels, p.timestamps, p.lines, p.metadata) for p in self.pieces]
        )

    def timestamps(self) -> I64:
        ts = np.concatenate([p.timestamps for p in self.pieces])
        return np.sort(ts, kind="stable")

    def sizes(self) -> I64:
        ts = np.concatenate([p.timestamps for p in self.pieces])
        sizes = np.concatenate([p.lines.sizes() for p in self.pieces])
        return sizes[np.argsort(ts, kind="stable")]

    def entries(self, labels: Labels, needles: Sequence[bytes] = ()) -> Entries | None:
        """None when no piece's lines hold one of `needles` (none could hold them all)."""
        for needle in needles:
            if not any(needle in piece.lines.data for piece in self.pieces):
                return None
        return self._sorted(labels)

    @property
    def has_metadata(self) -> bool:
        return any(p.metadata is not None for p in self.pieces)

    @property
    def values(self) -> ChunkValues | None:
        """Not counted while it fills: it is read instead (one chunk per stream)."""
        return None

    def counted(self) -> tuple[I64, I64, MetadataColumn | None]:
        """In push order (counting needs no order)."""
        joined = Piece.join(self.pieces)
        meta = None if joined.metadata is None else MetadataColumn.of(joined.metadata)
        return joined.timestamps, joined.lines.sizes(), meta

    def encode(self) -> Chunk:
        sorted_ = self._sorted(Labels())
        return Chunk.encode(sorted_.timestamps, sorted_.lines, sorted_.metadata)


@dataclass(slots=True)
class HeadStream:
    ref: int
    labels: Labels
    chunks: list[Chunk] = field(default_factory=list)
    pieces: list[Piece] = field(default_factory=list)
    open_mint: int = MAX_TIME
    open_maxt: int = MIN_TIME
    open_lines: int = 0
    open_bytes: int = 0
    max_t: int = MIN_TIME  # the newest entry ever accepted (the out-of-order window's end)
    newest_lines: set[bytes] = field(default_factory=set)  # the lines at max_t

    def without_repeats(self, piece: Piece) -> Piece:
        """The piece without entries equal (time and line) to one of the stream's newest."""
        at_newest = np.flatnonzero(piece.timestamps == self.max_t)
        repeats = [i for i in at_newest.tolist() if piece.lines[i] in self.newest_lines]
        if not repeats:
            return piece
        return piece.take(np.setdiff1d(np.arange(len(piece), dtype=np.int64), repeats))

    def _saw_newest(self, timestamps: I64, lines: Lines) -> None:
        hi = int(timestamps.max())
        if hi < self.max_t:
            return
        if hi > self.max_t:
            self.max_t, self.newest_lines = hi, set()
        self.newest_lines.update(lines[i] for i in np.flatnonzero(timestamps == hi).tolist())

    def add_chunk(self, chunk: Chunk) -> None:
        """A cut chunk as a checkpoint holds it."""
        chunk = chunk.with_values()
        self.chunks.append(chunk)
        if chunk.maxt >= self.max_t:
            entries = chunk.entries(self.labels)
            assert entries is not None
            self._saw_newest(entries.timestamps, entries.lines)

    def add(self, piece: Piece, target_bytes: int, max_span: int) -> None:
        """Append a push's entries, cutting the open chunk before the piece if it would
        stretch the chunk past `max_span`, after it once the chunk holds `target_bytes`."""
        lo, hi = int(piece.timestamps.min()), int(piece.timestamps.max())
        if self.pieces and max(hi, self.open_maxt) - min(lo, self.open_mint) > max_span:
            self.cut()
        self.pieces.append(piece)
        if len(self.pieces) >= MAX_PIECES:
            self.pieces = [Piece.join(self.pieces)]
        self.open_mint, self.open_maxt = min(self.open_mint, lo), max(self.open_maxt, hi)
        self.open_lines += len(piece)
        self.open_bytes += len(piece.lines.data)
        self._saw_newest(piece.timestamps, piece.lines)
        if self.open_bytes >= target_bytes:
            self.cut()

    def open_chunk(self) -> OpenChunk | None:
        if not self.pieces:
            return None
        return OpenChunk(
            tuple(self.pieces), self.open_mint, self.open_maxt, self.open_lines, self.open_bytes
        )

    def cut(self) -> Chunk | None:
        """Encode the open chunk and start a new one."""
        open_chunk = self.open_chunk()
        if open_chunk is None:
            return None
        chunk = open_chunk.encode()
        self.chunks.append(chunk)
        self.pieces = []
        self.open_mint, self.open_maxt, self.open_lines, self.open_bytes = MAX_TIME, MIN_TIME, 0, 0
        return chunk

    def readable(self) -> list[Chunk | OpenChunk]:
        """What a querier reads, in the order it was written."""
        open_chunk = self.open_chunk()
        return [*self.chunks, *([open_chunk] if open_chunk is not None else [])]
