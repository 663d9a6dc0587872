"""Embedded time-series storage: WAL-backed head, immutable compressed blocks."""

from vigil.tsdb._api import (
    STALE_NAN,
    STALE_NAN_BITS,
    Appender,
    Querier,
    SelectHints,
    SeriesData,
    SeriesRef,
    is_stale_marker,
)

__all__ = [
    "STALE_NAN",
    "STALE_NAN_BITS",
    "Appender",
    "Querier",
    "SelectHints",
    "SeriesData",
    "SeriesRef",
    "is_stale_marker",
]
