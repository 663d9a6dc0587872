"""Test helpers for the ingest endpoints: what a store holds, stores that fail, and a real
uvicorn server on a free 127.0.0.1 port serving some routes (stopped when the block ends)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from tests.conftest import PATIENCE_S, free_port
from vigil.logs import Entries, MemoryLogStore, PushResult
from vigil.logs.service import LogStorage
from vigil.logs.store import LogStoreOptions
from vigil.model import Labels, Matcher
from vigil.model.clock import ManualClock

Row = tuple[int, bytes, Labels]
ANY_STREAM = [Matcher.of("service_name", "=~", ".*")]


def stored(store: MemoryLogStore) -> dict[Labels, list[Row]]:
    """Every stream with its (ns timestamp, line, structured metadata) rows."""
    querier = store.querier(-(2**63), 2**63 - 1)
    found: dict[Labels, list[Row]] = {}
    for entries in querier.select(ANY_STREAM):
        meta = entries.metadata or (Labels(),) * len(entries)
        found.setdefault(entries.labels, []).extend(
            zip(entries.timestamps.tolist(), list(entries.lines), meta, strict=True)
        )
    return found


def as_sent(found: dict[Labels, list[Row]]) -> dict[Labels, list[Row]]:
    """`found` without what Loki 3 derives at ingest (`service_name`, `detected_level`)."""
    return {
        labels.without("service_name"): [
            (t, line, meta.without("detected_level")) for t, line, meta in rows
        ]
        for labels, rows in found.items()
    }


class Sent:
    """Every request a `requests` session sent, as sent, with the answer's status."""

    def __init__(self, session: requests.Session) -> None:
        self.bodies: list[tuple[bytes, str, int]] = []
        self._lock = threading.Lock()
        session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        body = response.request.body
        raw = body.encode() if isinstance(body, str) else bytes(body or b"")
        with self._lock:
            self.bodies.append(
                (raw, response.request.headers.get("Content-Encoding", ""), response.status_code)
            )

    def payloads(self) -> list[bytes]:
        """The bodies sent, gzip undone."""
        with self._lock:
            return [
                gzip.decompress(raw) if encoding == "gzip" else raw
                for raw, encoding, _ in self.bodies
            ]

    def documents(self) -> list[Any]:
        return [json.loads(raw) for raw in self.payloads()]

    def wait(self, requests_sent: int) -> None:
        deadline = time.monotonic() + PATIENCE_S
        while len(self.bodies) < requests_sent:
            assert time.monotonic() < deadline, f"{len(self.bodies)} requests sent"
            time.sleep(0.01)


def Opening() -> LogStorage:
    """The server's log store before it is open: every push raises StorageNotReady."""
    return LogStorage(Path("/data/logs"), LogStoreOptions(), ManualClock())


class FullDisk:
    """A store that cannot write: every push raises ENOSPC, as the seam allows."""

    def push(self, streams: Sequence[Entries]) -> PushResult:
        raise OSError(28, "No space left on device")


@contextmanager
def serving(routes: Sequence[BaseRoute] | ASGIApp) -> Iterator[str]:
    """A real HTTP server for `routes` (or an ASGI app); yields its base URL."""
    port = free_port()
    app = Starlette(routes=list(routes)) if isinstance(routes, Sequence) else routes
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="error",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + PATIENCE_S
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(PATIENCE_S)
