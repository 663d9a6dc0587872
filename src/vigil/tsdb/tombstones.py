"""A block's tombstones: deleted (series, [mint, maxt]) intervals, honoured by every read.
Written empty today, so deletion can come later without a format change."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.tsdb.index import CorruptBlockError

TOMBSTONES_VERSION = 1
TOMBSTONES_FILE = "tombstones"

_TOMBSTONES_MAGIC = b"VIGILTMB"
_TOMBSTONES_HEAD = struct.Struct("<8sII")  # magic, version, count
_TOMBSTONE = np.dtype([("series", "<u4"), ("mint", "<i8"), ("maxt", "<i8")])

EMPTY_TOMBSTONES = _TOMBSTONES_HEAD.pack(_TOMBSTONES_MAGIC, TOMBSTONES_VERSION, 0)


class Tombstones:
    """Deleted (series, [mint, maxt]) intervals of a block."""

    def __init__(self, block: Path) -> None:
        path = block / TOMBSTONES_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CorruptBlockError(block, TOMBSTONES_FILE, "missing") from None
        if len(data) < _TOMBSTONES_HEAD.size:
            raise CorruptBlockError(block, TOMBSTONES_FILE, "shorter than its header")
        magic, version, count = _TOMBSTONES_HEAD.unpack_from(data, 0)
        if magic != _TOMBSTONES_MAGIC or version != TOMBSTONES_VERSION:
            raise CorruptBlockError(block, TOMBSTONES_FILE, f"bad magic or version {version}")
        if len(data) != _TOMBSTONES_HEAD.size + count * _TOMBSTONE.itemsize:
            raise CorruptBlockError(block, TOMBSTONES_FILE, f"size does not fit {count} entries")
        self._entries = np.frombuffer(
            data, dtype=_TOMBSTONE, count=count, offset=_TOMBSTONES_HEAD.size
        )
        self._series = frozenset(self._entries["series"].tolist())

    def has(self, sid: int) -> bool:
        return sid in self._series

    def keep_mask(self, sid: int, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
        keep = np.ones(len(ts), dtype=bool)
        for entry in self._entries[self._entries["series"] == sid]:
            keep &= (ts < entry["mint"]) | (ts > entry["maxt"])
        return keep
