"""Replacing a file so that a crash leaves its old content or its new, never part of either:
the data goes to a temporary file beside it, is fsynced and renamed over the old file, and
the directory is fsynced so the rename itself survives a power loss."""

from __future__ import annotations

import contextlib
import os
import secrets


def write_atomically(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace `path` with `data` (the temporary file ends in `.tmp` and never stays)."""
    target = os.fspath(path)
    tmp = f"{target}.{secrets.token_hex(6)}.tmp"
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    directory = os.open(os.path.dirname(os.path.abspath(target)), os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
