"""The server's log store from start to stop (blocks, compaction and retention on its
minute tick); pushes and queries before it is open are refused with StorageNotReady."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from vigil.logs._api import Entries, LogQuerier, PushResult
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.logs.store_service import StoreService
from vigil.model.clock import Clock


class LogStorage(StoreService[LogStore]):
    """Implements `LogAppender` and `LogQueryable` over the store once it is open."""

    def __init__(
        self,
        path: Path,
        options: LogStoreOptions,
        clock: Clock,
        registry: CollectorRegistry | None = None,
    ) -> None:
        super().__init__(
            "log store", path, lambda: LogStore.open(path, options, clock.now, registry), clock
        )
        self.options = options

    def push(self, streams: Sequence[Entries]) -> PushResult:
        return self.store.push(streams)

    def querier(self, mint_ns: int, maxt_ns: int) -> LogQuerier:
        return self.store.querier(mint_ns, maxt_ns)
