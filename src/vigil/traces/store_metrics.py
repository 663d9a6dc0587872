"""The span store's self-metrics: spans and bytes appended, the head's size and the
blocks'."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge


class TraceStoreMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.appended_spans = Counter(
            "vigil_traces_appended_spans", "Spans stored.", registry=registry
        )
        self.appended_bytes = Counter(
            "vigil_traces_appended_bytes",
            "Bytes of spans stored, as encoded in the WAL.",
            registry=registry,
        )
        self.head_spans = Gauge("vigil_traces_head_spans", "Spans in the head.", registry=registry)
        self.head_pages = Gauge(
            "vigil_traces_head_pages", "Pages of spans in the head.", registry=registry
        )
        self.blocks = Gauge(
            "vigil_traces_blocks_loaded",
            "Span blocks loaded (cut from the head or compacted).",
            registry=registry,
        )
        self.blocks_bytes = Gauge(
            "vigil_traces_blocks_bytes",
            "Bytes of span blocks on disk (what size retention counts, with the WAL).",
            registry=registry,
        )
        self.blocks_spans = Gauge(
            "vigil_traces_blocks_spans", "Spans in the loaded blocks.", registry=registry
        )

    def watch(
        self,
        head_spans: Callable[[], int],
        head_pages: Callable[[], int],
        blocks: Callable[[], int],
        blocks_bytes: Callable[[], int],
        blocks_spans: Callable[[], int],
    ) -> None:
        self.head_spans.set_function(head_spans)
        self.head_pages.set_function(head_pages)
        self.blocks.set_function(blocks)
        self.blocks_bytes.set_function(blocks_bytes)
        self.blocks_spans.set_function(blocks_spans)

    def count(self, spans: int, size: int) -> None:
        self.appended_spans.inc(spans)
        self.appended_bytes.inc(size)
