"""Retention: which whole blocks to delete, by age and by the size of the data dir
(Prometheus's rules). The TSDB counts time in milliseconds, the log and span stores in
nanoseconds; their blocks go by the same rules."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class BlockRange(Protocol):
    """What retention and compaction read of a block's meta."""

    @property
    def ulid(self) -> str: ...

    @property
    def mint(self) -> int: ...

    @property
    def maxt(self) -> int: ...


class TimedBlock(Protocol):
    @property
    def meta(self) -> BlockRange: ...

    @property
    def size_bytes(self) -> int: ...


B = TypeVar("B", bound=TimedBlock)


def expired(
    blocks: Sequence[B],
    now: int,
    retention: int | None,
    retention_bytes: int | None,
    other_bytes: int = 0,
) -> list[B]:
    """Blocks to delete, oldest first: those wholly older than `now - retention` (in the
    blocks' unit of time), and the oldest ones beyond `retention_bytes` once `other_bytes`
    (WAL, head) and every newer block are counted; None or 0 turns a limit off."""
    newest_first = sorted(blocks, key=lambda b: (b.meta.maxt, b.meta.ulid), reverse=True)
    doomed: set[str] = set()
    if retention:
        doomed |= {b.meta.ulid for b in newest_first if b.meta.maxt < now - retention}
    if retention_bytes:
        total = other_bytes
        for i, block in enumerate(newest_first):
            total += block.size_bytes
            if total > retention_bytes:
                doomed |= {b.meta.ulid for b in newest_first[i:]}
                break
    return [b for b in reversed(newest_first) if b.meta.ulid in doomed]
