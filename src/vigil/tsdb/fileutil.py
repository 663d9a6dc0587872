"""Files that survive a crash: written and fsynced, replaced by rename, and directories
fsynced so that a rename or a new file inside them survives a power loss too. Used by the
TSDB, the Alertmanager snapshots and the dashboard store."""

from __future__ import annotations

import contextlib
import os
import secrets


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make the entries of directory `path` (files created, renamed or removed) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_synced(path: str | os.PathLike[str], data: bytes) -> None:
    """Create or overwrite `path` with `data`, fsynced (the directory entry is not)."""
    with open(path, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` so that a crash leaves its old content or its new, never
    part of either (the temporary file beside it ends in `.tmp` and never stays)."""
    target = os.fspath(path)
    tmp = f"{target}.{secrets.token_hex(6)}.tmp"
    try:
        write_synced(tmp, data)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(os.path.dirname(os.path.abspath(target)))
