"""The server's log store from start to stop: opened (WAL replayed) when the server starts,
ticked once a minute (blocks, compaction, retention) off the event loop, closed when it
stops; pushes and queries before it is open are refused with StorageNotReady (503), so
routers can hold it from the moment the server is built."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from prometheus_client import CollectorRegistry

from vigil.logs._api import Entries, LogQuerier, PushResult
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model.clock import Clock
from vigil.tsdb import StorageNotReady

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0


class LogStorage:
    """Implements `LogAppender` and `LogQueryable` over the store once it is open."""

    def __init__(
        self,
        path: Path,
        options: LogStoreOptions,
        clock: Clock,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.path = path
        self.options = options
        self._args = (options, clock, registry)
        self._store: LogStore | None = None

    async def start(self) -> None:
        options, clock, registry = self._args
        self._store = await asyncio.to_thread(
            LogStore.open, self.path, options, clock.now, registry
        )

    async def stop(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await asyncio.to_thread(store.close)

    async def maintain(self) -> None:
        """Tick the store once a minute; a failing tick is logged and retried the next."""
        clock = self._args[1]
        while True:
            await clock.sleep_until(clock.now() + TICK_SECONDS)
            store = self._store
            if store is None:
                continue
            try:
                await asyncio.to_thread(store.tick)
            except OSError as err:
                log.error("log store maintenance failed: %s", err)
            except Exception:
                log.exception("log store maintenance failed")

    def status(self) -> str | None:
        """None once open, else what `/-/ready` shows."""
        return None if self._store is not None else f"opening the log store in {self.path}"

    @property
    def store(self) -> LogStore:
        store = self._store
        if store is None:
            raise StorageNotReady(self.status() or "", store="log store")
        return store

    def problem(self) -> str | None:
        """Why the log store cannot write now (a full disk), or None."""
        store = self._store
        return None if store is None else store.write_health.problem()

    def push(self, streams: Sequence[Entries]) -> PushResult:
        return self.store.push(streams)

    def querier(self, mint_ns: int, maxt_ns: int) -> LogQuerier:
        return self.store.querier(mint_ns, maxt_ns)
