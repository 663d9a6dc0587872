"""The span store's blocks and their life: cut from the head (spans older than the flush
boundary, per block-range window, with the WAL checkpointed), merged per day, deleted by
retention; and the one place queries take pages from (blocks, a flush in progress, the
head), under one lock, so a page moving from the head to a block is never seen twice or
missed."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from vigil.logs.block import publish_block
from vigil.logs.block_set import BlockSet
from vigil.traces.block import SpanBlock, write_block
from vigil.traces.block_compact import compact
from vigil.traces.head import Head, HeadPage
from vigil.traces.page_table import PageTable
from vigil.traces.store_querier import PageRef
from vigil.tsdb.wlog import WAL

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Flush:
    """Pages taken from the head, not yet in published blocks (retried until they are)."""

    windows: dict[int, list[HeadPage]]
    checkpoint: int
    records: list[bytes]


def _batches(pages: Sequence[HeadPage], page_spans: int) -> Iterator[PageTable]:
    """Head pages joined into batches of at least `page_spans` (the last may be smaller),
    read as columns a batch at a time."""
    batch: list[HeadPage] = []
    for page in pages:
        batch.append(page)
        if sum(p.summary.spans for p in batch) >= page_spans:
            yield PageTable.concat([p.table() for p in batch])
            batch = []
    if batch:
        yield PageTable.concat([p.table() for p in batch])


class BlockList(BlockSet[SpanBlock]):
    def __init__(self, path: Path, blocks: list[SpanBlock], head: Head, wal: WAL) -> None:
        super().__init__(path, blocks, wal, SpanBlock.open, compact, "span")
        self._head = head
        self._flush: _Flush | None = None

    def num_spans(self) -> int:
        return sum(b.meta.spans for b in self._blocks)

    def pages(self, mint: int, maxt: int) -> list[PageRef]:
        """Pages that may hold spans starting in [mint, maxt], oldest source first."""
        with self._lock:
            found: list[PageRef] = [
                p
                for b in self._blocks
                if b.overlaps(mint, maxt)
                for p in b.pages
                if p.summary.mint <= maxt and p.summary.maxt >= mint
            ]
            pending = [] if self._flush is None else self._flush.windows.values()
            head = [*(p for pages in pending for p in pages), *self._head.pages]
        found.extend(p for p in head if p.summary.mint <= maxt and p.summary.maxt >= mint)
        return found

    def trace_pages(self, trace_id: bytes, mint: int, maxt: int) -> list[PageRef]:
        with self._lock:
            found: list[PageRef] = [
                p for b in self._blocks if b.overlaps(mint, maxt) for p in b.trace_pages(trace_id)
            ]
            pending = [] if self._flush is None else self._flush.windows.values()
            head = [*(p for pages in pending for p in pages), *self._head.pages]
        found.extend(
            p
            for p in head
            if p.summary.mint <= maxt and p.summary.maxt >= mint and p.may_hold(trace_id)
        )
        return found

    def flush(self, cutoff: int, block_range: int, page_spans: int) -> list[Path]:
        """Move the head's spans older than `cutoff` into a block per window (or finish a
        flush that failed before): blocks written as `.tmp`, WAL checkpointed, renamed."""
        with self._lock:
            if self._flush is None:
                windows, upto, records = self._head.flush_before(
                    cutoff, block_range, self._wal.cut_segment
                )
                if not windows:
                    return []
                self._flush = _Flush(windows, upto, records)
            flush = self._flush
        tmps: list[Path] = []
        try:
            for _, pages in sorted(flush.windows.items()):
                tmps.append(
                    write_block(
                        self.path,
                        _batches(pages, page_spans),
                        wal_checkpoint=flush.checkpoint,
                        publish=False,
                    )
                )
            self._wal.write_checkpoint(flush.checkpoint, flush.records)
        except BaseException:
            for tmp in tmps:
                shutil.rmtree(tmp, ignore_errors=True)
            raise
        blocks = [SpanBlock.open(publish_block(tmp)) for tmp in tmps]
        with self._lock:
            for block in blocks:
                self._add(block)
            self._flush = None
        return [b.path for b in blocks]
