"""TSDB snapshots (`POST /api/v1/admin/tsdb/snapshot`): `<data dir>/snapshots/<name>/` holds a
hard link of every persisted block (a copy where the file system cannot link) and, unless
`skip_head`, the head written as one more block, as Prometheus does. A snapshot dir is itself
a data dir: `vigil server --storage.tsdb.path=<it>` or `vigil tsdb dump <it>` read it.

Blocks are held (as a querier holds them) while they are linked, so compaction or retention
running meanwhile cannot delete one half-way; the snapshot appears under its name only once
complete (written under `<name>.tmp`, then renamed).
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from vigil.tsdb.block import TMP_DELETION, Block, write_block
from vigil.tsdb.db import TSDB
from vigil.tsdb.head_state import MAX_TIME, MIN_TIME

SNAPSHOTS_DIR = "snapshots"


def snapshot_name(now: float) -> str:
    """Prometheus's: UTC time to the second, a dash, 16 random hex digits."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now)) + "-" + os.urandom(8).hex()


def snapshot(tsdb: TSDB, with_head: bool, now: float) -> str:
    """Write a snapshot of `tsdb`; returns its name (a directory under data dir/snapshots)."""
    name = snapshot_name(now)
    final = tsdb.path / SNAPSHOTS_DIR / name
    tmp = final.with_name(name + ".tmp")
    tmp.mkdir(parents=True)
    try:
        blocks = _hold_blocks(tsdb)
        try:
            for block in blocks:
                _link_tree(_current_dir(block), tmp / block.meta.ulid)
        finally:
            for block in blocks:
                block.release()
        if with_head:
            _write_head(tsdb, tmp)
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return name


def _hold_blocks(tsdb: TSDB) -> list[Block]:
    """Acquire every listed block; a block finished (deleted) between listing and acquiring
    has been replaced by a newer listed one, so list again."""
    while True:
        held: list[Block] = []
        try:
            for block in tsdb.blocks:
                block.acquire()
                held.append(block)
        except RuntimeError:
            for block in held:
                block.release()
            continue
        return held


def _current_dir(block: Block) -> Path:
    """A block retired while held has been renamed aside; its files are intact until released."""
    if block.path.is_dir():
        return block.path
    return block.path.with_name(block.path.name + TMP_DELETION)


def _link_tree(source: Path, dest: Path) -> None:
    for path in sorted(source.rglob("*")):
        target = dest / path.relative_to(source)
        if path.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, target)
        except OSError:  # another file system, or one without hard links
            shutil.copy2(path, target)


def _write_head(tsdb: TSDB, dest: Path) -> None:
    head = tsdb.head
    mint, maxt = head.min_time, head.max_time
    if mint == MAX_TIME or maxt == MIN_TIME:
        return
    querier = head.querier(mint, maxt)
    try:
        write_block(dest, querier.select([]), mint, maxt)
    finally:
        querier.close()
