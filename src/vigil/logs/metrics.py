"""The log store's self-metrics: what was ingested, what was discarded and why (Loki's
reasons), the head's size and the blocks'."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.logs._api import Discarded


class LogStoreMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ingested_lines = Counter(
            "vigil_logs_ingested_lines", "Log lines stored.", registry=registry
        )
        self.ingested_bytes = Counter(
            "vigil_logs_ingested_bytes", "Bytes of log lines stored.", registry=registry
        )
        self.discarded_lines = Counter(
            "vigil_logs_discarded_lines",
            "Log lines refused, by Loki's reason (a limit, or a time out of bounds).",
            ["reason"],
            registry=registry,
        )
        self.discarded_bytes = Counter(
            "vigil_logs_discarded_bytes",
            "Bytes of log lines refused, by Loki's reason.",
            ["reason"],
            registry=registry,
        )
        self.head_streams = Gauge(
            "vigil_logs_head_streams", "Streams in the log head.", registry=registry
        )
        self.head_chunks = Gauge(
            "vigil_logs_head_chunks",
            "Chunks in the log head, open ones included.",
            registry=registry,
        )
        self.max_streams = Gauge(
            "vigil_logs_head_max_streams",
            "Streams the log head accepts before refusing new ones (0: no limit).",
            registry=registry,
        )

        self.blocks = Gauge(
            "vigil_logs_blocks_loaded",
            "Log blocks loaded (cut from the head or compacted).",
            registry=registry,
        )
        self.blocks_bytes = Gauge(
            "vigil_logs_blocks_bytes",
            "Bytes of log blocks on disk (what size retention counts, with the WAL).",
            registry=registry,
        )

    def watch(
        self,
        streams: Callable[[], int],
        chunks: Callable[[], int],
        blocks: Callable[[], int],
        blocks_bytes: Callable[[], int],
    ) -> None:
        self.head_streams.set_function(streams)
        self.head_chunks.set_function(chunks)
        self.blocks.set_function(blocks)
        self.blocks_bytes.set_function(blocks_bytes)

    def count(self, lines: int, size: int, discarded: Sequence[Discarded]) -> None:
        self.ingested_lines.inc(lines)
        self.ingested_bytes.inc(size)
        for refused in discarded:
            self.discarded_lines.labels(refused.reason).inc(refused.lines)
            self.discarded_bytes.labels(refused.reason).inc(refused.bytes)
