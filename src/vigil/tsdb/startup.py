"""The server's storage while it starts: the WAL replays in a worker thread while HTTP is
already served, `/-/ready` says how far the replay got, and queries and appends are refused
with Prometheus's `unavailable` error (HTTP 503) until it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading

from vigil.tsdb import StorageNotReady
from vigil.tsdb.db import TSDB, TSDBLoader, TSDBQuerier
from vigil.tsdb.head_append import HeadAppender

log = logging.getLogger(__name__)

GRACE_S = 0.5
"""How long `begin` waits for the TSDB before the server answers HTTP without it: a quick
start never shows a 503."""


class _Abandoned(Exception):
    """Raised from the progress callback to stop a replay the server no longer waits for."""


class StorageStartup:
    """Owns the TSDB from the locked data dir (`TSDB.prepare`) to `close`."""

    def __init__(self, loader: TSDBLoader) -> None:
        self._loader = loader
        self._tsdb: TSDB | None = None
        self._error: BaseException | None = None
        self._progress = (0, 0)
        self._abandon = False
        self._thread: threading.Thread | None = None
        self._opened: asyncio.Event | None = None

    async def begin(self) -> None:
        """Start the replay in a worker thread; return when it is done or after GRACE_S."""
        loop = asyncio.get_running_loop()
        opened = self._opened = asyncio.Event()

        def load() -> None:
            try:
                self._tsdb = self._loader.load(self._on_progress)
                log.info("TSDB in %s is ready", self._loader.path)
            except _Abandoned:
                log.info("WAL replay abandoned: the server is stopping")
            except BaseException as err:  # reported by /-/ready and every API call
                self._error = err
                log.error("opening the TSDB in %s failed: %s", self._loader.path, err)
            finally:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(opened.set)

        self._thread = threading.Thread(target=load, name="vigil-tsdb-open", daemon=True)
        self._thread.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(opened.wait(), GRACE_S)

    def _on_progress(self, done: int, total: int) -> None:
        if self._abandon:
            raise _Abandoned
        self._progress = (done, total)

    async def wait(self) -> bool:
        """Wait until the TSDB is open (True) or opening it failed (False)."""
        if self._opened is not None:
            await self._opened.wait()
        return self._tsdb is not None

    def status(self) -> str | None:
        """None once ready, else what is in the way (as `/-/ready` shows it)."""
        if self._tsdb is not None:
            return None
        if self._error is not None:
            return f"opening the TSDB failed: {self._error}"
        done, total = self._progress
        if not total:
            return "loading blocks and WAL"
        return f"replaying WAL, segment {done} of {total} ({done * 100 // total}%)"

    @property
    def tsdb(self) -> TSDB:
        tsdb = self._tsdb
        if tsdb is None:
            raise StorageNotReady(self.status() or "")
        return tsdb

    def appender(self) -> HeadAppender:
        return self.tsdb.appender()

    def querier(self, mint: int, maxt: int) -> TSDBQuerier:
        return self.tsdb.querier(mint, maxt)

    def close(self) -> None:
        """Stop a replay still running (at its next segment), then close the TSDB or unlock
        the data dir. Blocks: call it off the event loop."""
        self._abandon = True
        if self._thread is not None:
            self._thread.join()
        if self._tsdb is not None:
            self._tsdb.close()
            self._tsdb = None
        elif self._thread is None:
            self._loader.abandon()
