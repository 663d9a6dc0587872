"""`--query.max-concurrency`: queries past the limit wait for a slot instead of running, and
the wait counts against their timeout."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.promql.engine import Engine, EngineOptions
from vigil.promql.value import QueryResult, Scalar
from vigil.tsdb import MemoryStorage
from vigil.web.api import APIContext, PrometheusAPI


class _GatedEngine:
    """Counts queries running at once; each waits until the test opens the gate."""

    in_process = False

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.started = threading.Semaphore(0)
        self.timeouts: list[float | None] = []

    def instant_query(
        self, query: str, t_ms: int, *, timeout_s: float | None = None, queued_s: float = 0.0
    ) -> QueryResult:
        self.timeouts.append(timeout_s)
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        self.started.release()
        self.gate.wait(10)
        with self.lock:
            self.running -= 1
        return QueryResult(Scalar(t_ms, 1.0))


def test_queries_past_the_limit_wait() -> None:
    engine = _GatedEngine()
    storage = MemoryStorage()
    ctx = APIContext(engine=engine, queryable=storage.queryable, max_concurrency=1)  # type: ignore[arg-type]
    app = Starlette(routes=PrometheusAPI(ctx).routes())

    async def run() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://vigil") as client:
            calls = [
                asyncio.ensure_future(
                    client.get("/api/v1/query", params={"query": "1", "time": "1"})
                )
                for _ in range(3)
            ]
            await asyncio.to_thread(engine.started.acquire, True, 10)
            await asyncio.sleep(0)  # let the other requests reach the semaphore
            assert engine.running == 1
            engine.gate.set()
            return [r.json()["status"] for r in await asyncio.gather(*calls)]

    assert asyncio.run(run()) == ["success"] * 3
    assert engine.most == 1


def test_time_waited_for_a_slot_counts_against_the_timeout() -> None:
    """The API's clock says 11 s passed between the request's arrival and its run: with
    --query.timeout=10s that is Prometheus's 503 "query timed out in query queue"."""
    readings = iter([0.0, 11.0, 100.0, 100.5])
    storage = MemoryStorage()
    ctx = APIContext(
        engine=Engine(storage.queryable, EngineOptions(timeout_s=10)),
        queryable=storage.queryable,
        monotonic=lambda: next(readings),
    )
    client = TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))
    late = client.get("/api/v1/query", params={"query": "1", "time": "1"})
    assert (late.status_code, late.json()["errorType"], late.json()["error"]) == (
        503,
        "timeout",
        "query timed out in query queue",
    )
    assert client.get("/api/v1/query", params={"query": "1", "time": "1"}).status_code == 200


def test_a_requests_own_timeout_reaches_the_engine() -> None:
    engine = _GatedEngine()
    engine.gate.set()
    ctx = APIContext(engine=engine, queryable=MemoryStorage().queryable)  # type: ignore[arg-type]
    client = TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))
    client.get("/api/v1/query", params={"query": "1", "time": "1", "timeout": "2500ms"})
    assert engine.timeouts == [2.5]
