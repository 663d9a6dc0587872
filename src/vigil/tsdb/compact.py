"""Compaction: which blocks to merge (Prometheus's leveled planner) and the merge itself.

Blocks of 2 h are merged into the next range (6 h, then 18 h, ... as given by the caller)
once that range is full or lies wholly before the newest block; blocks whose time ranges
overlap (a backfill, an out-of-order write) are merged first, whatever their size.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vigil.tsdb.block import Block, write_block
from vigil.tsdb.series import merge_series

HOUR_MS = 3600 * 1000
MAX_BLOCK_MS = 31 * 24 * HOUR_MS


def block_ranges(retention_ms: int | None, min_ms: int = 2 * HOUR_MS) -> list[int]:
    """Prometheus's block ranges: `min_ms` times powers of 3, the largest no longer than
    10% of retention (and 31 days)."""
    limit = MAX_BLOCK_MS if not retention_ms else min(MAX_BLOCK_MS, retention_ms // 10)
    ranges = [min_ms]
    while len(ranges) < 10 and ranges[-1] * 3 <= limit:
        ranges.append(ranges[-1] * 3)
    return ranges


def plan(blocks: Sequence[Block], ranges_ms: Sequence[int]) -> list[list[Block]]:
    """Groups of blocks to compact, each group into one block; disjoint, oldest first.

    The caller compacts every group, deletes the sources, and plans again until nothing
    is left. The newest block is never chosen for leveled compaction (Prometheus keeps it,
    so a freshly persisted head block can be backed up alone)."""
    ordered = sorted(blocks, key=lambda b: (b.meta.mint, b.meta.ulid))
    overlapping = _overlapping(ordered)
    if overlapping:
        return overlapping
    return _leveled(ordered[:-1], ranges_ms)


def _overlapping(ordered: list[Block]) -> list[list[Block]]:
    groups: list[list[Block]] = []
    if not ordered:
        return groups
    group = [ordered[0]]
    group_maxt = ordered[0].meta.maxt
    for block in ordered[1:]:
        if block.meta.mint <= group_maxt:
            group.append(block)
        else:
            if len(group) > 1:
                groups.append(group)
            group = [block]
        group_maxt = max(group_maxt, block.meta.maxt)
    if len(group) > 1:
        groups.append(group)
    return groups


def _leveled(ordered: list[Block], ranges_ms: Sequence[int]) -> list[list[Block]]:
    if len(ranges_ms) < 2 or not ordered:
        return []
    newest_mint = ordered[-1].meta.mint
    for width in ranges_ms[1:]:
        chosen = [
            part
            for part in _split_by_range(ordered, width)
            if len(part) > 1
            and (
                part[-1].meta.maxt + 1 - part[0].meta.mint == width
                or part[-1].meta.maxt + 1 <= newest_mint
            )
        ]
        if chosen:
            return chosen
    return []


def _split_by_range(ordered: list[Block], width: int) -> list[list[Block]]:
    """Consecutive blocks grouped by the aligned `width` window that wholly holds them;
    blocks that fit in no window of this width are left out."""
    parts: list[list[Block]] = []
    i = 0
    while i < len(ordered):
        start = (ordered[i].meta.mint // width) * width
        if ordered[i].meta.maxt + 1 > start + width:
            i += 1
            continue
        part = []
        while i < len(ordered) and ordered[i].meta.maxt + 1 <= start + width:
            part.append(ordered[i])
            i += 1
        parts.append(part)
    return parts


def compact(parent_dir: Path, blocks: Sequence[Block]) -> Path:
    """Merge blocks into one new block under `parent_dir` (series by labels, samples by
    time; a timestamp in several blocks keeps the newest block's sample); the caller
    deletes the sources afterwards."""
    if not blocks:
        raise ValueError("nothing to compact")
    ordered = sorted(blocks, key=lambda b: (b.meta.mint, b.meta.ulid))
    sources = sorted({s for b in ordered for s in b.meta.sources})
    return write_block(
        parent_dir,
        merge_series([b.all_series() for b in ordered]),
        min(b.meta.mint for b in ordered),
        max(b.meta.maxt for b in ordered),
        level=max(b.meta.level for b in ordered) + 1,
        sources=sources,
    )
