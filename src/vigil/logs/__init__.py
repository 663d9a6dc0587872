"""The log store: streams of lines by label set, WAL-backed head, zstd chunks, blocks; LogQL;
ingest adapters (Loki push, Elasticsearch `_bulk`, syslog, OTLP logs)."""

from vigil.logs._api import (
    BucketCounts,
    Discarded,
    Entries,
    IndexStats,
    Lines,
    LogAppender,
    LogQuerier,
    LogQueryable,
    MemoryLogStore,
    PushResult,
    SelectHints,
)

__all__ = [
    "BucketCounts",
    "Discarded",
    "Entries",
    "IndexStats",
    "Lines",
    "LogAppender",
    "LogQuerier",
    "LogQueryable",
    "MemoryLogStore",
    "PushResult",
    "SelectHints",
]
