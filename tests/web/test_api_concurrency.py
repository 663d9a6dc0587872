"""`--query.max-concurrency`: queries past the limit wait for a slot instead of running."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from starlette.applications import Starlette

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

    def instant_query(self, query: str, t_ms: int) -> QueryResult:
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
