"""The log head: every stream's recent entries in memory, WAL-backed.

A push is checked against the out-of-order window, stripped of entries that repeat a
stream's newest ones (same time, same line: a shipper's retry of a push whose answer it
lost, which Loki stores once too), logged to the WAL as one record (plus
one for the streams it creates), then applied; all under one lock, so a failed WAL write
applies nothing. Streams are found by label set through postings per label pair (the
TSDB's `MemPostings` and its selection of refs for matchers).
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from vigil.logs._api import Discarded, Entries
from vigil.logs.chunk import Chunk
from vigil.logs.head_stream import MIN_TIME, HeadStream
from vigil.logs.stream_read import ReadableChunk
from vigil.logs.wal import Piece, encode_chunk, encode_entries, encode_streams
from vigil.model import Labels, Matcher
from vigil.tsdb.postings import MemPostings, select_refs
from vigil.tsdb.wlog import WAL

HOUR_NS = 3600 * 10**9
_CHECKPOINT_STREAMS = 1000


@dataclass(frozen=True, slots=True)
class HeadOptions:
    """Chunks are cut at `chunk_target_bytes` of lines or `chunk_max_span_ns` of time; an
    entry older than its stream's newest minus `out_of_order_window_ns` is refused
    (`too_far_behind`), as Loki 3 does; past `max_streams` (0: no limit) new streams are
    refused (`stream_limit`)."""

    chunk_target_bytes: int = 1 << 20
    chunk_max_span_ns: int = HOUR_NS
    out_of_order_window_ns: int = HOUR_NS
    max_streams: int = 0


@dataclass(frozen=True, slots=True)
class Appended:
    lines: int
    bytes: int
    discarded: tuple[Discarded, ...]


def rfc3339(t_ns: int) -> str:
    seconds, nanos = divmod(t_ns, 10**9)
    when = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return f"{when:%Y-%m-%dT%H:%M:%S}.{nanos:09d}Z"


def as_piece(parts: Sequence[Entries]) -> Piece:
    """Entries of one stream from several batches of a push, in push order."""
    return Piece.join(
        [Piece(p.timestamps.astype(np.int64, copy=False), p.lines, p.metadata) for p in parts]
    )


class Head:
    def __init__(self, options: HeadOptions | None = None) -> None:
        self.options = options or HeadOptions()
        self.wal: WAL | None = None
        self._lock = threading.Lock()
        self._streams: dict[int, HeadStream] = {}
        self._by_labels: dict[Labels, HeadStream] = {}
        self._postings = MemPostings()
        self._next_ref = 0

    @property
    def num_streams(self) -> int:
        return len(self._streams)

    def num_chunks(self) -> int:
        with self._lock:
            return sum(len(s.chunks) + bool(s.pieces) for s in self._streams.values())

    # ----- appending -----

    def _window(self, labels: Labels, piece: Piece, newest: int) -> tuple[Piece, Discarded | None]:
        """The piece without the entries older than the stream's newest (so far, this push
        included) minus the out-of-order window."""
        window = self.options.out_of_order_window_ns
        ts = piece.timestamps
        start = max(newest, MIN_TIME + window)
        running = np.maximum.accumulate(np.maximum(ts, start))
        bound = np.empty(len(ts), dtype=np.int64)
        bound[0] = start
        bound[1:] = running[:-1]
        behind = ts < bound - window
        if not behind.any():
            return piece, None
        oldest = int(bound[behind][-1]) - window
        dropped = piece.lines.sizes()[behind]
        discarded = Discarded(
            "too_far_behind",
            labels,
            int(behind.sum()),
            int(dropped.sum()),
            f"entry too far behind for stream {labels}: entry timestamp is "
            f"{rfc3339(int(ts[behind][0]))}, oldest acceptable timestamp is {rfc3339(oldest)}",
        )
        return piece.take(np.flatnonzero(~behind)), discarded

    def append(self, groups: dict[Labels, list[Entries]]) -> tuple[Appended, int]:
        """Check, log and apply one push; returns what was stored and the WAL token to wait on
        (outside the lock). Raises the WAL's OSError, having applied nothing."""
        discarded: list[Discarded] = []
        with self._lock:
            new: list[tuple[int, Labels]] = []
            pieces: list[tuple[int, Piece]] = []
            next_ref = self._next_ref
            for labels, parts in groups.items():
                stream = self._by_labels.get(labels)
                if stream is None and self._full(len(new)):
                    discarded.append(self._stream_limit(labels, parts))
                    continue
                piece, refused = self._window(
                    labels, as_piece(parts), stream.max_t if stream else MIN_TIME
                )
                if refused is not None:
                    discarded.append(refused)
                if stream is not None:
                    piece = stream.without_repeats(piece)
                if not len(piece):
                    continue
                if stream is None:
                    new.append((next_ref, labels))
                    pieces.append((next_ref, piece))
                    next_ref += 1
                else:
                    pieces.append((stream.ref, piece))
            token = 0
            if pieces and self.wal is not None:
                records = [encode_streams(new)] if new else []
                token = self.wal.log([*records, encode_entries(pieces)])
            self._add_streams(new)
            self._add_pieces(pieces)
        stored = Appended(
            sum(len(p) for _, p in pieces),
            sum(len(p.lines.data) for _, p in pieces),
            tuple(discarded),
        )
        return stored, token

    def _full(self, adding: int) -> bool:
        limit = self.options.max_streams
        return bool(limit) and len(self._streams) + adding >= limit

    def _stream_limit(self, labels: Labels, parts: Sequence[Entries]) -> Discarded:
        return Discarded(
            "stream_limit",
            labels,
            sum(len(p) for p in parts),
            sum(len(p.lines.data) for p in parts),
            f"Maximum active stream limit exceeded when trying to create stream '{labels}', "
            "reduce the number of active streams (reduce labels or reduce label values), or "
            f"raise max_global_streams_per_user ({self.options.max_streams})",
        )

    def _add_streams(self, streams: Sequence[tuple[int, Labels]]) -> None:
        for ref, labels in streams:
            stream = HeadStream(ref, labels)
            self._streams[ref] = stream
            self._by_labels[labels] = stream
            self._postings.add(ref, labels)
            self._next_ref = max(self._next_ref, ref + 1)

    def _add_pieces(self, pieces: Sequence[tuple[int, Piece]]) -> None:
        target, span = self.options.chunk_target_bytes, self.options.chunk_max_span_ns
        for ref, piece in pieces:
            if len(piece):
                self._streams[ref].add(piece, target, span)

    # ----- WAL replay (nothing is logged again) -----

    def replay_streams(self, streams: list[tuple[int, Labels]]) -> None:
        with self._lock:
            self._add_streams(
                [(ref, labels) for ref, labels in streams if ref not in self._streams]
            )

    def replay_entries(self, pieces: list[tuple[int, Piece]]) -> None:
        with self._lock:
            unknown = [ref for ref, _ in pieces if ref not in self._streams]
            if unknown:
                raise ValueError(f"entries record for unknown stream refs {unknown[:5]}")
            self._add_pieces(pieces)

    def replay_chunk(self, ref: int, chunk: Chunk) -> None:
        with self._lock:
            stream = self._streams.get(ref)
            if stream is None:
                raise ValueError(f"chunk record for unknown stream ref {ref}")
            stream.add_chunk(chunk)

    # ----- cutting blocks -----

    def flush_before(
        self, cutoff: int, cut_wal: Callable[[], int]
    ) -> tuple[list[tuple[Labels, list[Chunk]]], int, list[bytes]]:
        """Take every chunk whose entries are all older than `cutoff` out of the head (open
        chunks cut first; streams left empty go), then, still under the lock, cut the WAL's
        segment (`cut_wal`, its index returned) and snapshot what stays as checkpoint
        records. Nothing taken: nothing cut, ([], -1, [])."""
        with self._lock:
            taken: list[tuple[Labels, list[Chunk]]] = []
            emptied: list[tuple[int, Labels]] = []
            for stream in self._streams.values():
                if stream.pieces and stream.open_maxt < cutoff:
                    stream.cut()
                old = [c for c in stream.chunks if c.maxt < cutoff]
                if not old:
                    continue
                taken.append((stream.labels, old))
                stream.chunks = [c for c in stream.chunks if c.maxt >= cutoff]
                if not stream.chunks and not stream.pieces:
                    emptied.append((stream.ref, stream.labels))
            if not taken:
                return [], -1, []
            for ref, labels in emptied:
                del self._streams[ref]
                del self._by_labels[labels]
            self._postings.remove(emptied)
            return taken, cut_wal(), self._checkpoint_records()

    def _checkpoint_records(self) -> list[bytes]:
        streams = list(self._streams.values())
        records: list[bytes] = []
        for start in range(0, len(streams), _CHECKPOINT_STREAMS):
            part = streams[start : start + _CHECKPOINT_STREAMS]
            records.append(encode_streams([(s.ref, s.labels) for s in part]))
            open_pieces = [(s.ref, p) for s in part for p in s.pieces]
            if open_pieces:
                records.append(encode_entries(open_pieces))
        records.extend(encode_chunk(s.ref, c) for s in streams for c in s.chunks)
        return records

    # ----- reading -----

    def select(self, matchers: Sequence[Matcher]) -> list[tuple[Labels, list[ReadableChunk]]]:
        """Matching streams and a snapshot of their chunks (read without the lock)."""
        with self._lock:
            refs = select_refs(
                self._postings,
                matchers,
                lambda: np.array(sorted(self._streams), dtype=np.int64),
            )
            found: list[tuple[Labels, list[ReadableChunk]]] = []
            for ref in refs.tolist():
                stream = self._streams[ref]
                found.append((stream.labels, list(stream.readable())))
            return found
