"""The store's blocks and their life: cut from the head (chunks older than the flush
boundary, with the WAL checkpointed), merged per day, deleted by retention; and the one
place queries take every chunk of a stream from (blocks, a flush in progress, the head),
under one lock, so a chunk moving from the head to a block is never seen twice or missed."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.logs.block import LogBlock, publish_block, write_block
from vigil.logs.block_set import BlockSet
from vigil.logs.chunk import BLOCK_ZSTD_LEVEL, Chunk
from vigil.logs.compact import compact
from vigil.logs.dictionaries import compress_for_block
from vigil.logs.head import Head
from vigil.logs.stream_read import ReadableChunk
from vigil.model import Labels, Matcher, matches_all
from vigil.tsdb.wlog import WAL

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Flush:
    """Chunks taken from the head, not yet in a published block (retried until they are)."""

    chunks: list[tuple[Labels, list[Chunk]]]
    checkpoint: int
    records: list[bytes]


class BlockList(BlockSet[LogBlock]):
    def __init__(self, path: Path, blocks: list[LogBlock], head: Head, wal: WAL) -> None:
        super().__init__(path, blocks, wal, LogBlock.open, compact, "log")
        self._head = head
        self._flush: _Flush | None = None

    def chunks(self, matchers: Sequence[Matcher]) -> list[tuple[Labels, list[ReadableChunk]]]:
        """Every matching stream's chunks, oldest source first."""
        with self._lock:
            found: list[tuple[Labels, list[ReadableChunk]]] = []
            for block in self._blocks:
                found.extend(block.select(matchers))
            if self._flush is not None:
                wanted = list(matchers)
                found.extend(
                    (labels, list[ReadableChunk](chunks))
                    for labels, chunks in self._flush.chunks
                    if matches_all(wanted, labels)
                )
            found.extend(self._head.select(matchers))
            return found

    def flush(self, cutoff: int) -> Path | None:
        """Move the head's chunks older than `cutoff` into a block (or finish a flush that
        failed before), their lines compressed again harder (outside the lock): block
        written as `.tmp`, WAL checkpointed, block renamed."""
        with self._lock:
            if self._flush is None:
                chunks, upto, records = self._head.flush_before(cutoff, self._wal.cut_segment)
                if not chunks:
                    return None
                self._flush = _Flush(chunks, upto, records)
            flush = self._flush
        smaller = compress_for_block(flush.chunks, BLOCK_ZSTD_LEVEL)
        tmp = write_block(self.path, smaller, wal_checkpoint=flush.checkpoint, publish=False)
        try:
            self._wal.write_checkpoint(flush.checkpoint, flush.records)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        block = LogBlock.open(publish_block(tmp))
        with self._lock:
            self._add(block)
            self._flush = None
        return block.path
