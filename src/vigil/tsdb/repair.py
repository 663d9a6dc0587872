"""`vigil tsdb repair DATA_DIR [--yes]`: what a server that cannot read its data needs, done
with the server stopped. Every block is read whole (each index table and series record); a
corrupt one is moved to `DATA_DIR/quarantine/` (kept for a post-mortem, never served). The
WAL is truncated at its first unreadable record, later segments deleted (what a server does
at start-up by default). Without `--yes` it only says what it would do."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from vigil.tsdb.block import Block, BlockMeta, is_ulid, read_meta
from vigil.tsdb.db import DataDirError, DirLock
from vigil.tsdb.fileutil import fsync_dir
from vigil.tsdb.index import CorruptBlockError
from vigil.tsdb.wal import repair

QUARANTINE_DIR = "quarantine"


@dataclass(frozen=True, slots=True)
class CorruptBlock:
    """A block `check_blocks` found corrupt; `meta` is None when meta.json is what is broken."""

    path: Path
    error: CorruptBlockError
    meta: BlockMeta | None

    @property
    def dropped(self) -> str:
        if self.meta is None:
            return "all its samples (its meta.json does not say how many)"
        m = self.meta
        return f"its {m.num_samples} samples of {m.num_series} series in [{m.mint}, {m.maxt}]"


def check_block(path: Path) -> CorruptBlock | None:
    """Open the block and read all of it: None if every part reads back as written."""
    try:
        block = Block.open(path)
    except CorruptBlockError as err:
        try:
            meta: BlockMeta | None = read_meta(path)
        except CorruptBlockError:
            meta = None
        return CorruptBlock(path, err, meta)
    with block:
        found = block.verify()
    return None if found is None else CorruptBlock(path, found, block.meta)


def quarantine(data_dir: Path, block: Path) -> Path:
    """Move a block directory to DATA_DIR/quarantine/ (under a free name); returns where."""
    target_dir = data_dir / QUARANTINE_DIR
    target_dir.mkdir(exist_ok=True)
    target = target_dir / block.name
    n = 1
    while target.exists():
        n += 1
        target = target_dir / f"{block.name}.{n}"
    block.rename(target)
    fsync_dir(target_dir)
    fsync_dir(data_dir)
    return target


def repair_command(data_dir: Path, apply: bool, out: TextIO, err: TextIO) -> int:
    """Check the blocks and the WAL of `data_dir`; report what quarantining corrupt blocks and
    truncating the WAL drops, and do it only when `apply` (exit 1 if needed and not done)."""
    if not data_dir.is_dir():
        err.write(f"vigil tsdb repair: {data_dir} does not exist\n")
        return 2
    try:
        lock = DirLock(data_dir / "lock")
    except DataDirError as busy:
        err.write(f"vigil tsdb repair: {busy}; stop the server first\n")
        return 2
    try:
        blocks_done = _repair_blocks(data_dir, apply, out)
        wal_done = _repair_wal(data_dir, apply, out)
    finally:
        lock.release()
    if blocks_done and wal_done:
        return 0
    out.write(f"Re-run with --yes to do it: `vigil tsdb repair {data_dir} --yes`\n")
    return 1


def _repair_blocks(data_dir: Path, apply: bool, out: TextIO) -> bool:
    """True when no corrupt block is left in place."""
    paths = sorted(p for p in data_dir.iterdir() if p.is_dir() and is_ulid(p.name))
    corrupt = [found for path in paths if (found := check_block(path)) is not None]
    if not corrupt:
        out.write(f"{len(paths)} block(s) in {data_dir} read back whole: nothing to repair\n")
        return True
    for found in corrupt:
        if apply:
            target = quarantine(data_dir, found.path)
            out.write(f"Moved {found.error} to {target}; it drops {found.dropped}.\n")
        else:
            out.write(
                f"{found.error}.\nMoving it to {data_dir / QUARANTINE_DIR} would drop "
                f"{found.dropped}.\n"
            )
    return apply


def _repair_wal(data_dir: Path, apply: bool, out: TextIO) -> bool:
    """True when the WAL reads through (or there is none)."""
    wal_dir = data_dir / "wal"
    if not wal_dir.is_dir():
        out.write(f"No WAL in {data_dir}: nothing to repair\n")
        return True
    report = repair(wal_dir, apply)
    if report is None:
        out.write(f"WAL in {wal_dir} is intact: nothing to repair\n")
        return True
    where = f"{report.path} at offset {report.offset} ({report.reason})"
    if not report.applied:
        out.write(f"WAL corruption in {where}.\nTruncating there would drop {report.dropped}.\n")
        return False
    out.write(f"Truncated the WAL at {where}; dropped {report.dropped}.\n")
    for path in report.dropped_segments:
        out.write(f"  deleted {path}\n")
    return True
