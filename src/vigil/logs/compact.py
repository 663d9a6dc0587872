"""Log block compaction: the blocks of one day, once no new block can fall into that day,
merged into one (streams joined by label set; chunks CRC-checked and their lines compressed
again at chunk.COMPACTED_ZSTD when that makes them smaller, chunks compressed with a block's
dictionary copied as they are)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

from vigil.logs.block import LogBlock, write_block
from vigil.logs.chunk import COMPACTED_ZSTD, Chunk
from vigil.model import Labels
from vigil.tsdb.retention import B

DAY_NS = 86_400 * 10**9


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


def compact(parent: Path, group: Sequence[LogBlock]) -> Path:
    """Write the merged block (each stream's chunks in the group's order); raises
    CorruptDataError (nothing written) when a chunk of the group is corrupt."""
    streams: dict[Labels, list[Chunk]] = defaultdict(list)
    for block in group:
        for labels, chunks in block.streams():
            streams[labels].extend(
                c if c.dictionary is not None else c.recompressed(COMPACTED_ZSTD) for c in chunks
            )
    sources = sorted({s for block in group for s in block.meta.sources})
    level = max(block.meta.level for block in group) + 1
    return write_block(parent, streams.items(), level=level, sources=sources)
