"""A store's published blocks, oldest first, under the lock its queries take: each finished
day's blocks merged into one, whole blocks deleted by retention. The log and span stores'
block lists are this with their own blocks, flush from the head and reads."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from vigil.logs.compact import CompactionCancelled, plan
from vigil.tsdb._api import CorruptDataError
from vigil.tsdb.retention import TimedBlock, expired
from vigil.tsdb.wlog import WAL

log = logging.getLogger(__name__)


class SetBlock(TimedBlock, Protocol):
    @property
    def path(self) -> Path: ...


B = TypeVar("B", bound=SetBlock)


@dataclass(frozen=True, slots=True)
class TickReport:
    """The block dirs a store's tick wrote from its head, compacted and deleted."""

    written: list[Path] = field(default_factory=list)
    compacted: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)


class BlockSet(Generic[B]):
    """`open_block` opens a published block dir; `merge` writes a group's merged block and
    returns its dir, raising CorruptDataError (nothing written) for a corrupt group and
    CompactionCancelled once `closing` (its third argument) is set; `noun` names the blocks
    in the log."""

    def __init__(
        self,
        path: Path,
        blocks: list[B],
        wal: WAL,
        open_block: Callable[[Path], B],
        merge: Callable[[Path, Sequence[B], threading.Event], Path],
        noun: str,
    ) -> None:
        self.path = path
        self._blocks = blocks
        self._wal = wal
        self._open_block = open_block
        self._merge = merge
        self._noun = noun
        self._lock = threading.Lock()
        self._uncompactable: set[str] = set()
        self.closing = threading.Event()
        """Set when the store closes: a compaction in progress stops at its next chunk."""

    @property
    def blocks(self) -> list[B]:
        return list(self._blocks)

    def size_bytes(self) -> int:
        return sum(b.size_bytes for b in self._blocks)

    def _add(self, block: B) -> None:
        self._blocks.append(block)
        self._blocks.sort(key=lambda b: (b.meta.mint, b.meta.ulid))

    def compact(self, cutoff: int, span: int) -> list[Path]:
        """Merge each finished `span`'s (a day's) blocks into one; a group with corrupt data
        is left as it is (logged), its blocks readable but never compacted again."""
        written: list[Path] = []
        usable = [b for b in self._blocks if b.meta.ulid not in self._uncompactable]
        for group in plan(usable, cutoff, span):
            try:
                path = self._merge(self.path, group, self.closing)
            except CompactionCancelled:
                log.info("%s compaction stopped: the store is closing", self._noun)
                break
            except CorruptDataError as err:
                names = [b.path.name for b in group]
                log.error("%s blocks %s not compacted: %s", self._noun, names, err)
                self._uncompactable |= {b.meta.ulid for b in group}
                continue
            merged = self._open_block(path)
            with self._lock:
                self._add(merged)
                for block in group:
                    self._blocks.remove(block)
            for block in group:
                shutil.rmtree(block.path, ignore_errors=True)
            written.append(path)
        return written

    def apply_retention(self, now_ns: int, retention_ns: int, retention_bytes: int) -> list[Path]:
        doomed = expired(
            self._blocks, now_ns, retention_ns, retention_bytes, self._wal.size_bytes()
        )
        with self._lock:
            for block in doomed:
                self._blocks.remove(block)
        for block in doomed:
            shutil.rmtree(block.path, ignore_errors=True)
        return [block.path for block in doomed]
