"""The span store's WAL: its one record type on the generic write-ahead log (`tsdb.wlog`).

A spans record is the type byte and one page (block_page): an append's spans as the head
keeps them, so replay hands the head its pages without re-encoding. Pages are zstd frames
already, so the WAL's own compression is off.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from vigil.traces.block_page import decode_trace_ids
from vigil.tsdb import wlog
from vigil.tsdb.wlog import WALMetrics

SPANS = 1
RECORD_TYPES = frozenset((SPANS,))


def encode_spans_record(page: bytes) -> bytes:
    return bytes((SPANS,)) + page


def replay(
    wal_dir: Path, on_page: Callable[[bytes], None], metrics: WALMetrics | None, repair: bool
) -> wlog.LogReplayStats:
    """Feed every page of the checkpoint, then of every later segment, in write order; a
    page whose trace ids do not decode makes its record corrupt."""

    def on_record(payload: memoryview) -> None:
        page = bytes(payload[1:])
        decode_trace_ids(page)
        on_page(page)

    return wlog.replay_log(wal_dir, RECORD_TYPES, on_record, metrics, repair=repair)
