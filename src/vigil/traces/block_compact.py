"""Span block compaction: the blocks of one day, once no new block can fall into that day,
merged into one — pages copied as they are (CRC-checked), the trace lookup made anew from
their trace ids (blocks of an earlier lookup format are merged into the current one)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from vigil.logs.block import publish_block
from vigil.traces.block import BlockWriter, SpanBlock


def compact(parent: Path, group: Sequence[SpanBlock]) -> Path:
    """Write the merged block; raises CorruptDataError (nothing written) when a page of the
    group fails its CRC."""
    writer = BlockWriter(parent)
    try:
        for block in group:
            for page in block.pages:
                data = page.load()
                ids = page.trace_ids(data)
                writer.copy(data, dataclasses.replace(page.summary, trace_ids=ids))
        sources = sorted({s for block in group for s in block.meta.sources})
        level = max(block.meta.level for block in group) + 1
        tmp = writer.finish(level, sources, None)
    except BaseException:
        writer.abort()
        raise
    return publish_block(tmp)
