"""The server's span store from start to stop; appends and queries before it is open are
refused with StorageNotReady, so receivers and query APIs can hold it from the moment the
server is built."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from vigil.logs.store_service import StoreService
from vigil.model.clock import Clock
from vigil.traces._api import AppendResult, SpanQuerier, Spans
from vigil.traces.store import TraceStore, TraceStoreOptions


class TraceStorage(StoreService[TraceStore]):
    """Implements `SpanAppender` and `SpanQueryable` over the store once it is open."""

    def __init__(
        self,
        path: Path,
        options: TraceStoreOptions,
        clock: Clock,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(
            "span store", path, lambda: TraceStore.open(path, options, clock.now, registry), clock
        )
        self.options = options

    def append(self, spans: Spans) -> AppendResult:
        return self.store.append(spans)

    def querier(self, mint_ns: int, maxt_ns: int) -> SpanQuerier:
        return self.store.querier(mint_ns, maxt_ns)
