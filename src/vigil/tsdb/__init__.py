"""Embedded time-series storage: WAL-backed head, immutable compressed blocks.

The names below load on first use, so a command that needs only a leaf module (the file
helpers, the WAL) does not pay for numpy."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.tsdb._api import (
        STALE_NAN,
        STALE_NAN_BITS,
        Appender,
        CorruptDataError,
        MemoryAppender,
        MemoryStorage,
        Querier,
        SelectHints,
        SeriesRef,
        StorageNotReady,
        is_stale_marker,
    )
    from vigil.tsdb.series import SeriesBatch, SeriesData, merge_batches, merge_series

_HOMES = {
    "STALE_NAN": "_api",
    "STALE_NAN_BITS": "_api",
    "Appender": "_api",
    "CorruptDataError": "_api",
    "MemoryAppender": "_api",
    "MemoryStorage": "_api",
    "Querier": "_api",
    "SelectHints": "_api",
    "SeriesRef": "_api",
    "StorageNotReady": "_api",
    "is_stale_marker": "_api",
    "SeriesBatch": "series",
    "SeriesData": "series",
    "merge_batches": "series",
    "merge_series": "series",
}

__all__ = [
    "STALE_NAN",
    "STALE_NAN_BITS",
    "Appender",
    "CorruptDataError",
    "MemoryAppender",
    "MemoryStorage",
    "Querier",
    "SelectHints",
    "SeriesBatch",
    "SeriesData",
    "SeriesRef",
    "StorageNotReady",
    "is_stale_marker",
    "merge_batches",
    "merge_series",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'vigil.tsdb' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"vigil.tsdb.{home}"), name)
    globals()[name] = value
    return value
