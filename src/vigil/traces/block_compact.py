"""Span block compaction: the blocks of one day, once no new block can fall into that day,
merged into one — pages copied as they are (CRC-checked), the trace lookup made anew from
their trace ids (blocks of an earlier lookup format are merged into the current one); a
store that closes stops it at its next page (CompactionCancelled, nothing written)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Sequence
from pathlib import Path

from vigil.logs.block import publish_block
from vigil.logs.compact import CompactionCancelled
from vigil.traces.block import BlockWriter, SpanBlock


def compact(
    parent: Path, group: Sequence[SpanBlock], closing: threading.Event | None = None
) -> Path:
    """Write the merged block; raises CorruptDataError when a page of the group fails its
    CRC and CompactionCancelled once `closing` is set (nothing written either way)."""
    writer = BlockWriter(parent)
    try:
        for block in group:
            for page in block.pages:
                if closing is not None and closing.is_set():
                    raise CompactionCancelled()
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
