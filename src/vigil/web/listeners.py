"""Optional listeners (`--loki.listen-address=:3100`, ...): one uvicorn server takes every
listening socket, and each request goes to the app of the port it arrived on, so a
shipper's or Grafana's config written for the real program (Loki on :3100) works unchanged
while the routers stay the main port's own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class Listener:
    """An extra listening address (`flag`'s value) and how to build the app it serves."""

    flag: str
    address: str
    build: Callable[[], ASGIApp]


class PortDispatch:
    """HTTP and WebSocket requests go to the app of the local port they arrived on, others to
    `main`; lifespan events go to `main` only (the process starts and stops once)."""

    def __init__(self, main: ASGIApp, by_port: Mapping[int, ASGIApp]) -> None:
        self._main = main
        self._by_port = dict(by_port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            server = scope.get("server")
            app = self._by_port.get(server[1]) if server else None
            if app is not None:
                await app(scope, receive, send)
                return
        await self._main(scope, receive, send)
