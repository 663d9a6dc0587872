"""Follows a write-ahead log (`wlog`) as its writer appends to it, the way Prometheus's WAL
watcher does, for any store's records: index records (those that name refs: the metrics
WAL's series, the log store's streams) go to `on_index` as they are met, every other record
comes back from `read` with the position just after it.

The follower only reads. A position (segment, byte offset of the next unread record) says
where to go on; a forwarder persists the position of the oldest record not yet delivered,
so a restart or an outage of the far end resends from the WAL instead of losing data.
Segments deleted by a checkpoint while the follower was behind are skipped with a warning:
their records are gone from the WAL (Prometheus's remote write loses them the same way).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import crc32c

from vigil.tsdb.wlog import (
    HEADER,
    decompress,
    latest_checkpoint,
    list_segments,
    segment_index,
    stored_types,
)

log = logging.getLogger(__name__)

READ_CHUNK = 4 * 1024 * 1024
T = TypeVar("T")
IndexSink = Callable[[memoryview], None]


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """The next unread record: WAL segment index and byte offset in it."""

    segment: int
    offset: int

    def to_json(self) -> str:
        return json.dumps({"version": 1, "segment": self.segment, "offset": self.offset})

    @classmethod
    def load(cls, path: Path) -> Position | None:
        """The saved position, or None when there is none or it cannot be read (logged)."""
        try:
            data = json.loads(path.read_text())
            return cls(int(data["segment"]), int(data["offset"]))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("ignoring unreadable WAL position %s: %s", path, err)
            return None

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename): a crash leaves the old or the new position."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(path.name + ".tmp")
        temp.write_text(self.to_json())
        os.replace(temp, path)


@dataclass(frozen=True, slots=True)
class Record:
    """A data record's payload (decompressed; its first byte is its type) and the position
    just after it."""

    payload: memoryview
    end: Position


class WALFollower:
    """Reads the records of `wal_dir` (of the store's `types`) from `start` on, or from the
    end of the WAL when `start` is None; `who` names the reader in warnings."""

    def __init__(
        self,
        wal_dir: Path,
        types: frozenset[int],
        index_types: frozenset[int],
        on_index: IndexSink,
        start: Position | None,
        who: str,
    ) -> None:
        self.wal_dir = wal_dir
        self._stored = stored_types(types)
        self._index_types = index_types
        self._on_index = on_index
        self._who = who
        self.skipped_segments = 0
        checkpoint = latest_checkpoint(wal_dir)
        first = -1
        if checkpoint is not None:
            first = checkpoint[0]
            for path in list_segments(checkpoint[1]):
                self._scan_index(path, 0, None)
        segments = [segment_index(p) for p in list_segments(wal_dir) if segment_index(p) > first]
        if start is None:
            # Like Prometheus: a new reader sends what is written from now on.
            last = segments[-1] if segments else first + 1
            start = Position(last, self._size(last))
        elif segments and start.segment < segments[0]:
            log.warning(
                "%s position %s is in a WAL segment already checkpointed away; "
                "records between it and segment %d are lost",
                who,
                start,
                segments[0],
            )
            self.skipped_segments += segments[0] - start.segment
            start = Position(segments[0], 0)
        elif segments and (
            start.segment > segments[-1] or start.offset > self._size(start.segment)
        ):
            log.warning(
                "%s position %s is past the end of the WAL in %s (was it replaced "
                "or repaired?); starting at segment %d",
                who,
                start,
                wal_dir,
                segments[-1],
            )
            start = Position(min(start.segment, segments[-1]), 0)
        for index in segments:
            if index > start.segment:
                break
            self._scan_index(self._path(index), 0, start.offset if index == start.segment else None)
        self.position = start

    def _path(self, index: int) -> Path:
        return self.wal_dir / f"{index:08d}"

    def _size(self, index: int) -> int:
        try:
            return self._path(index).stat().st_size
        except FileNotFoundError:
            return 0

    def _scan_index(self, path: Path, offset: int, end: int | None) -> None:
        """Feed the index records of path[offset:end] (the whole file if end is None)."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return
        if end is not None:
            data = data[:end]
        for payload, _ in self._records(data, offset):
            if payload[0] in self._index_types:
                self._on_index(payload)

    def read(self, budget: int, decode: Callable[[Record], tuple[T, int]]) -> list[T]:
        """Data records after the position, each as `decode` makes it (with its weight),
        until the weights add up to `budget`; advances the position. Index records met on
        the way go to `on_index` at once."""
        out: list[T] = []
        while budget > 0:
            pos = self.position
            data = self._read_at(pos)
            consumed = 0
            for payload, end in self._records(data, 0):
                consumed = end
                if payload[0] in self._index_types:
                    self._on_index(payload)
                    continue
                item, weight = decode(Record(payload, Position(pos.segment, pos.offset + end)))
                out.append(item)
                budget -= weight
                if budget <= 0:
                    break
            if consumed:
                self.position = Position(pos.segment, pos.offset + consumed)
                if budget > 0 and len(data) >= READ_CHUNK:
                    continue
            if budget > 0 and self._next_segment_ready(pos.segment):
                continue
            break
        return out

    def _read_at(self, pos: Position) -> bytes:
        try:
            with self._path(pos.segment).open("rb") as handle:
                handle.seek(pos.offset)
                data = handle.read(READ_CHUNK)
                if len(data) >= HEADER.size:
                    length = HEADER.unpack_from(data, 0)[0]
                    if HEADER.size + length > len(data):  # one record bigger than the chunk
                        handle.seek(pos.offset)
                        data = handle.read(HEADER.size + length)
                return data
        except FileNotFoundError:
            return b""

    def _next_segment_ready(self, current: int) -> bool:
        """Move to the next segment once the writer has started one and this one is read to
        its end (what remains unreadable there is a torn tail, dropped like replay does)."""
        later = [segment_index(p) for p in list_segments(self.wal_dir)]
        later = [i for i in later if i > current]
        if not later:
            return False
        size = self._size(current)
        if self.position.segment == current and self.position.offset < size:
            # Re-read now that the segment is final: whatever still does not parse is torn.
            if self._records_end(self._read_all(current, self.position.offset)) > 0:
                return True  # more readable records: let read() take them first
            log.warning(
                "WAL segment %s: %d unreadable bytes at offset %d skipped by %s",
                self._path(current),
                size - self.position.offset,
                self.position.offset,
                self._who,
            )
        if later[0] != current + 1 or not self._path(current).exists():
            # A checkpoint deleted segments under us: its index records name the refs that
            # were created in them and that the next segments' records still use.
            self.skipped_segments += later[0] - current - 1
            checkpoint = latest_checkpoint(self.wal_dir)
            if checkpoint is not None:
                for path in list_segments(checkpoint[1]):
                    self._scan_index(path, 0, None)
        self.position = Position(later[0], 0)
        return True

    def _read_all(self, index: int, offset: int) -> bytes:
        with self._path(index).open("rb") as handle:
            handle.seek(offset)
            return handle.read()

    def _records(self, data: bytes, offset: int) -> list[tuple[memoryview, int]]:
        """(payload, end offset) of each complete, valid record from offset; stops at the
        first that is incomplete or invalid (the writer may be in the middle of it)."""
        out: list[tuple[memoryview, int]] = []
        view = memoryview(data)
        size = len(data)
        while offset + HEADER.size <= size:
            length, crc = HEADER.unpack_from(data, offset)
            start = offset + HEADER.size
            end = start + length
            if length == 0 or end > size or data[start] not in self._stored:
                break
            payload = view[start:end]
            if crc32c.crc32c(payload) != crc:
                break
            out.append((decompress(payload), end))
            offset = end
        return out

    def _records_end(self, data: bytes) -> int:
        found = self._records(data, 0)
        return found[-1][1] if found else 0
