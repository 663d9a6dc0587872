"""Prometheus's lifecycle endpoints: `/-/healthy`, `/-/ready`, and behind
`--web.enable-lifecycle` `/-/reload` and `/-/quit`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

_WRITE = ["POST", "PUT"]
_READ = ["GET", "HEAD"]


class Lifecycle:
    """`not_ready()` says what keeps the server from serving queries (None once ready);
    `reload()` applies the config files again and returns why it failed, or None."""

    def __init__(
        self,
        *,
        enabled: bool,
        not_ready: Callable[[], str | None],
        reload: Callable[[], Awaitable[str | None]],
        quit_: Callable[[], None] | None = None,
    ) -> None:
        self.enabled = enabled
        self._not_ready = not_ready
        self._reload = reload
        self._quit = quit_

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/-/healthy", self.healthy, methods=_READ),
            Route("/-/ready", self.ready, methods=_READ),
            Route("/-/reload", self.reload, methods=_WRITE),
            Route("/-/quit", self.quit, methods=_WRITE),
        ]

    async def healthy(self, _: Request) -> Response:
        return PlainTextResponse("vigil is Healthy.\n")

    async def ready(self, _: Request) -> Response:
        problem = self._not_ready()
        if problem is None:
            return PlainTextResponse("vigil is Ready.\n")
        return PlainTextResponse(f"Service Unavailable: {problem}\n", status_code=503)

    async def reload(self, _: Request) -> Response:
        if not self.enabled:
            return _disabled()
        problem = await self._reload()
        if problem is None:
            return PlainTextResponse("")
        return PlainTextResponse(f"failed to reload config: {problem}", status_code=500)

    async def quit(self, _: Request) -> Response:
        if not self.enabled:
            return _disabled()
        if self._quit is not None:
            asyncio.get_running_loop().call_soon(self._quit)  # after this answer is sent
        return PlainTextResponse("Requesting termination... Goodbye!")


def _disabled() -> Response:
    return PlainTextResponse("Lifecycle API is not enabled.", status_code=403)
