"""Optional listeners: a request goes to the app of the port it arrived on; lifespan and
every other port to the main app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from vigil.web.listeners import PortDispatch


def _app(name: str) -> Starlette:
    async def who(_: Request) -> PlainTextResponse:
        return PlainTextResponse(name)

    return Starlette(routes=[Route("/who", who)])


@pytest.mark.parametrize(
    ("base_url", "want"),
    [("http://vigil:3100", "loki"), ("http://vigil:9200", "es"), ("http://vigil:9090", "main")],
)
def test_requests_go_to_their_port_app(base_url: str, want: str) -> None:
    app = PortDispatch(_app("main"), {3100: _app("loki"), 9200: _app("es")})

    async def ask() -> str:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            return (await client.get("/who")).text

    assert asyncio.run(ask()) == want


def test_lifespan_goes_to_main_only() -> None:
    seen: list[str] = []

    def recording(name: str) -> Starlette:
        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            seen.append(name)
            yield

        return Starlette(lifespan=lifespan)

    app = PortDispatch(recording("main"), {3100: recording("loki")})
    messages = iter([{"type": "lifespan.startup"}])
    sent: list[str] = []

    async def receive() -> object:
        return next(messages, {"type": "lifespan.shutdown"})

    async def send(message: dict[str, object]) -> None:
        sent.append(str(message["type"]))

    asyncio.run(app({"type": "lifespan", "asgi": {"version": "3.0"}}, receive, send))  # type: ignore[arg-type]
    assert (seen, sent) == (["main"], ["lifespan.startup.complete", "lifespan.shutdown.complete"])
