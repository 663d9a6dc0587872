"""A block store's directory (the log store's, the span store's) from open to close: the
dir locked, what a crash left among its blocks finished or dropped, the blocks a compaction
replaced deleted, the rest opened, the WAL replayed, and on the "batch" fsync policy a
thread that fsyncs the WAL while it is open. Each store brings its own blocks and records."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from prometheus_client import CollectorRegistry

from vigil.logs.block import TMP, publish_block
from vigil.tsdb._api import CorruptDataError
from vigil.tsdb.block import is_ulid
from vigil.tsdb.db import DirLock, prepare_dir
from vigil.tsdb.retention import BlockRange
from vigil.tsdb.wlog import (
    WAL,
    FsyncPolicy,
    LogReplayStats,
    WALMetrics,
    latest_checkpoint,
    remove_stale_temp_dirs,
)
from vigil.tsdb.write_health import WriteHealth

log = logging.getLogger(__name__)


class DirMeta(BlockRange, Protocol):
    """What loading needs of a block's meta.json besides its range."""

    @property
    def sources(self) -> tuple[str, ...]: ...
    @property
    def wal_checkpoint(self) -> int | None: ...


class DirBlock(Protocol):
    @property
    def meta(self) -> DirMeta: ...


M = TypeVar("M", bound=DirMeta)
B = TypeVar("B", bound=DirBlock)


def load_blocks(
    parent: Path,
    checkpoint: int | None,
    read_meta: Callable[[Path], M],
    open_block: Callable[[Path], B],
    noun: str,
) -> list[B]:
    """Finish or drop what a crash left (a complete `.tmp` head block whose checkpoint
    exists is renamed, any other `.tmp` deleted), drop blocks a compaction replaced, and
    open the rest, oldest first; a block that cannot be opened is left out with an error in
    the log naming it a `noun` block."""
    for tmp in sorted(parent.glob("*" + TMP)):
        wanted: int | None = None
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            wanted = read_meta(tmp).wal_checkpoint
        if wanted is not None and checkpoint is not None and checkpoint >= wanted:
            publish_block(tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    metas: dict[Path, M] = {}
    for path in sorted(parent.iterdir()):
        if not (path.is_dir() and is_ulid(path.name)):
            continue
        try:
            metas[path] = read_meta(path)
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.error("%s block %s left out: its meta.json cannot be read (%s)", noun, path, err)
    replaced = {
        path
        for path, meta in metas.items()
        for other in metas.values()
        if other.ulid != meta.ulid and set(meta.sources) < set(other.sources)
    }
    blocks: list[B] = []
    for path in metas:
        if path in replaced:
            shutil.rmtree(path, ignore_errors=True)
            continue
        try:
            blocks.append(open_block(path))
        except CorruptDataError as err:
            log.error("%s; it is left out", err)
    return sorted(blocks, key=lambda b: (b.meta.mint, b.meta.ulid))


class WALSettings(Protocol):
    """The stores' options for their WAL."""

    @property
    def wal_segment_size(self) -> int: ...
    @property
    def wal_fsync(self) -> FsyncPolicy: ...
    @property
    def wal_fsync_interval_s(self) -> float: ...
    @property
    def wal_repair(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class OpenedDir(Generic[B]):
    lock: DirLock
    blocks: list[B]
    replayed: LogReplayStats
    health: WriteHealth
    wal: WAL


def open_dir(
    path: Path,
    flag: str,
    options: WALSettings,
    clock: Callable[[], float],
    *,
    read_meta: Callable[[Path], M],
    open_block: Callable[[Path], B],
    noun: str,
    replay: Callable[[Path], LogReplayStats],
    compression: bool = True,
) -> OpenedDir[B]:
    """Lock the dir (`flag` names it in errors), load its blocks (`load_blocks`) given the
    WAL's last checkpoint, `replay` the WAL dir into the head, and open the WAL for writing;
    the dir is unlocked again if any of it fails."""
    prepare_dir(path, flag)
    lock = DirLock(path / "lock")
    try:
        wal_dir = path / "wal"
        remove_stale_temp_dirs(wal_dir)
        checkpoint = latest_checkpoint(wal_dir)
        blocks = load_blocks(
            path, None if checkpoint is None else checkpoint[0], read_meta, open_block, noun
        )
        replayed = replay(wal_dir)
        health = WriteHealth(clock)
        wal = WAL(
            wal_dir,
            options.wal_segment_size,
            options.wal_fsync,
            WALMetrics(CollectorRegistry()),
            sync_interval_s=options.wal_fsync_interval_s,
            health=health,
            compression=compression,
        )
    except BaseException:
        lock.release()
        raise
    return OpenedDir(lock, blocks, replayed, health, wal)


class WALFlusher:
    """The "batch" policy's timer: a thread named `name` fsyncs the WAL when due, asleep
    while nothing is written (a failing fsync is retried; the WAL logs and counts)."""

    def __init__(self, wal: WAL, options: WALSettings, name: str, noun: str) -> None:
        self._wal = wal
        self._noun = noun
        self._thread: threading.Thread | None = None
        if options.wal_fsync == "batch" and options.wal_fsync_interval_s > 0:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while self._wal.await_sync():
            try:
                self._wal.sync_if_due()
            except OSError as err:
                log.error(
                    "fsync of %s WAL segment in %s failed: %s", self._noun, self._wal.directory, err
                )

    def stop(self) -> None:
        self._wal.stop_waiting()
        if self._thread is not None:
            self._thread.join()
