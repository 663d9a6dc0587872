"""Retention: which whole blocks to delete, by age and by the size of the data dir."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.tsdb.block import Block


def expired(
    blocks: Sequence[Block],
    now_ms: int,
    retention_ms: int | None,
    retention_bytes: int | None,
    other_bytes: int = 0,
) -> list[Block]:
    """Blocks to delete, oldest first: those wholly older than `now_ms - retention_ms`, and
    the oldest ones beyond `retention_bytes` once `other_bytes` (WAL, head) and every newer
    block are counted — Prometheus's rules; None or 0 turns a limit off."""
    newest_first = sorted(blocks, key=lambda b: (b.meta.maxt, b.meta.ulid), reverse=True)
    doomed: set[str] = set()
    if retention_ms:
        doomed |= {b.meta.ulid for b in newest_first if b.meta.maxt < now_ms - retention_ms}
    if retention_bytes:
        total = other_bytes
        for i, block in enumerate(newest_first):
            total += block.size_bytes
            if total > retention_bytes:
                doomed |= {b.meta.ulid for b in newest_first[i:]}
                break
    return [b for b in reversed(newest_first) if b.meta.ulid in doomed]
