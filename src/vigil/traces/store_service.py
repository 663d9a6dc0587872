"""The server's span store from start to stop: opened (WAL replayed) when the server
starts, ticked once a minute off the event loop, closed when it stops; appends and queries
before it is open are refused with StorageNotReady (503), so receivers and query APIs can
hold it from the moment the server is built."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from prometheus_client import CollectorRegistry

from vigil.model.clock import Clock
from vigil.traces._api import AppendResult, SpanQuerier, Spans
from vigil.traces.store import TraceStore, TraceStoreOptions
from vigil.tsdb import StorageNotReady

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0


class TraceStorage:
    """Implements `SpanAppender` and `SpanQueryable` over the store once it is open."""

    def __init__(
        self,
        path: Path,
        options: TraceStoreOptions,
        clock: Clock,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.path = path
        self.options = options
        self._clock = clock
        self._registry = registry
        self._store: TraceStore | None = None

    async def start(self) -> None:
        self._store = await asyncio.to_thread(
            TraceStore.open, self.path, self.options, self._clock.now, self._registry
        )

    async def stop(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            await asyncio.to_thread(store.close)

    async def maintain(self) -> None:
        """Tick the store once a minute; a failing tick is logged and retried the next."""
        while True:
            await self._clock.sleep_until(self._clock.now() + TICK_SECONDS)
            store = self._store
            if store is None:
                continue
            try:
                await asyncio.to_thread(store.tick)
            except OSError as err:
                log.error("span store maintenance failed: %s", err)
            except Exception:
                log.exception("span store maintenance failed")

    def status(self) -> str | None:
        """None once open, else what `/-/ready` shows."""
        return None if self._store is not None else f"opening the span store in {self.path}"

    @property
    def store(self) -> TraceStore:
        store = self._store
        if store is None:
            raise StorageNotReady(self.status() or "")
        return store

    def problem(self) -> str | None:
        """Why the span store cannot write now (a full disk), or None."""
        store = self._store
        return None if store is None else store.write_health.problem()

    def append(self, spans: Spans) -> AppendResult:
        return self.store.append(spans)

    def querier(self, mint_ns: int, maxt_ns: int) -> SpanQuerier:
        return self.store.querier(mint_ns, maxt_ns)
