"""Embedded time-series storage: WAL-backed head, immutable compressed blocks."""

from vigil.tsdb._api import (
    STALE_NAN,
    STALE_NAN_BITS,
    Appender,
    MemoryStorage,
    Querier,
    SelectHints,
    SeriesRef,
    StorageNotReady,
    is_stale_marker,
)
from vigil.tsdb.series import SeriesBatch, SeriesData, merge_batches, merge_series

__all__ = [
    "STALE_NAN",
    "STALE_NAN_BITS",
    "Appender",
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
