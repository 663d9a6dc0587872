"""A store from the server's start to its stop: opened (WAL replayed) in a worker thread
when the server starts, ticked once a minute off the event loop, closed when it stops;
asked for before it is open it raises StorageNotReady (503), so routers and receivers can
hold the service from the moment the server is built. The log and span stores both serve
through it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from vigil.model.clock import Clock
from vigil.tsdb import StorageNotReady
from vigil.tsdb.write_health import WriteHealth

log = logging.getLogger(__name__)

TICK_SECONDS = 60.0


class ServedStore(Protocol):
    """What the service needs of an open store: blocking calls, run off the event loop."""

    @property
    def write_health(self) -> WriteHealth: ...

    def tick(self) -> object: ...

    def close(self) -> None: ...


S = TypeVar("S", bound=ServedStore)


class StoreService(Generic[S]):
    """Holds the store `open_store` returns once `start` has run it; `name` says which
    store in errors, logs and `/-/ready` ("log store", "span store")."""

    def __init__(self, name: str, path: Path, open_store: Callable[[], S], clock: Clock) -> None:
        self.name = name
        self.path = path
        self._open_store = open_store
        self._clock = clock
        self._store: S | None = None

    async def start(self) -> None:
        self._store = await asyncio.to_thread(self._open_store)

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
                log.error("%s maintenance failed: %s", self.name, err)
            except Exception:
                log.exception("%s maintenance failed", self.name)

    def status(self) -> str | None:
        """None once open, else what `/-/ready` shows."""
        return None if self._store is not None else f"opening the {self.name} in {self.path}"

    @property
    def store(self) -> S:
        store = self._store
        if store is None:
            raise StorageNotReady(self.status() or "", store=self.name)
        return store

    def problem(self) -> str | None:
        """Why the store cannot write now (a full disk), or None."""
        store = self._store
        return None if store is None else store.write_health.problem()
