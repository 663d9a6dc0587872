"""Log block compaction: the blocks of one day, once no new block can fall into that day,
merged into one (streams joined by label set; chunks CRC-checked; a stream's chunks that
follow one another in time joined into chunks of up to JOINED_BYTES of lines when that is
smaller, as the small chunks of a quiet stream are; lines compressed again at
chunk.COMPACTED_ZSTD when that makes them smaller, chunks compressed with a block's
dictionary and not joined copied as they are). The merged block is written as its
chunks are read, so a compaction holds about one run of a stream's chunks in memory, not a
day of them; a store that closes stops it (CompactionCancelled, nothing written)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from vigil.logs.block import LogBlock, write_block
from vigil.logs.chunk import COMPACTED_ZSTD, Chunk
from vigil.logs.lines import NO_LABELS, concat_lines, concat_metadata
from vigil.model import Labels
from vigil.tsdb.retention import B

DAY_NS = 86_400 * 10**9
JOINED_BYTES = 1 << 20
"""Line bytes a chunk joined from smaller ones holds at most (the head cuts chunks at that)."""


def plan(blocks: Sequence[B], cutoff: int, span: int) -> list[list[B]]:
    """Groups of blocks to merge: per `span`-aligned window (by each block's mint) that ends
    before `cutoff` (the head's flush boundary), when it holds more than one block."""
    windows: dict[int, list[B]] = defaultdict(list)
    for block in blocks:
        windows[block.meta.mint // span].append(block)
    return [
        sorted(group, key=lambda b: (b.meta.mint, b.meta.ulid))
        for window, group in sorted(windows.items())
        if len(group) > 1 and (window + 1) * span <= cutoff
    ]


class CompactionCancelled(Exception):
    """The store is closing: the compaction stopped, its unfinished block removed."""


def compact(
    parent: Path, group: Sequence[LogBlock], closing: threading.Event | None = None
) -> Path:
    """Write the merged block (each stream's chunks in the group's order); raises
    CorruptDataError when a chunk of the group is corrupt and CompactionCancelled once
    `closing` is set (nothing written either way)."""
    streams: dict[Labels, list[Iterator[Chunk]]] = defaultdict(list)
    for block in group:
        for labels, chunks in block.streams():
            streams[labels].append(chunks)

    def written(parts: list[Iterator[Chunk]]) -> Iterator[Chunk]:
        for chunk in _joined(chain.from_iterable(parts)):
            if closing is not None and closing.is_set():
                raise CompactionCancelled()
            yield chunk

    sources = sorted({s for block in group for s in block.meta.sources})
    level = max(block.meta.level for block in group) + 1
    merged = ((labels, written(parts)) for labels, parts in streams.items())
    return write_block(parent, merged, level=level, sources=sources)


def _joined(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """Runs of chunks each starting after the previous one ends, up to JOINED_BYTES of lines,
    each as one chunk when that is smaller than the run's chunks compressed again."""
    run: list[Chunk] = []
    for chunk in chunks:
        if run and (
            chunk.mint <= run[-1].maxt
            or sum(c.raw_bytes for c in run) + chunk.raw_bytes > JOINED_BYTES
        ):
            yield from _join(run)
            run = []
        run.append(chunk)
    if run:
        yield from _join(run)


def _join(run: list[Chunk]) -> list[Chunk]:
    alone = [c if c.dictionary is not None else c.recompressed(COMPACTED_ZSTD) for c in run]
    if len(run) == 1:
        return alone
    parts = [c.entries(NO_LABELS) for c in run]
    entries = [e for e in parts if e is not None]
    one = Chunk.encode(
        np.concatenate([e.timestamps for e in entries]),
        concat_lines([e.lines for e in entries]),
        concat_metadata([e.metadata for e in entries], [len(e.timestamps) for e in entries]),
    ).recompressed(COMPACTED_ZSTD)
    return [one] if len(one.data) < sum(len(c.data) for c in alone) else alone
