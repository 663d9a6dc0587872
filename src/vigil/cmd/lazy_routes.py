"""Routes whose modules a process imports when they are first asked for, not at start.

`vigil server` serves Loki, Elasticsearch, OTLP, Zipkin, Jaeger and Tempo APIs that most
servers never receive a request for; importing them (TraceQL, protobuf decoders, ingest
adapters) was a large part of the CPU it spent becoming ready.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette._utils import get_route_path
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound, Router
from starlette.types import Receive, Scope, Send


class LazyRoutes(BaseRoute):
    """Stands in the route list for the routes `build` returns, all of them at or below one
    of `paths`. The first request for one of those paths builds them (it waits, on the event
    loop, for the import: nothing is refused meanwhile) and every request goes to them."""

    def __init__(self, paths: Sequence[str], build: Callable[[], Sequence[BaseRoute]]) -> None:
        self.paths = tuple(path.rstrip("/") for path in paths)
        self._build = build
        self._router: Router | None = None

    def covers(self, path: str) -> bool:
        return any(path == own or path.startswith(own + "/") for own in self.paths)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket") and self.covers(get_route_path(scope)):
            return Match.FULL, {}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: object) -> URLPath:
        raise NoMatchFound(name, path_params)

    @property
    def built(self) -> bool:
        return self._router is not None

    def routes(self) -> Sequence[BaseRoute]:
        """The stood-in routes, built now if no request has built them yet."""
        if self._router is None:
            self._router = Router(routes=list(self._build()))
        return self._router.routes

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.routes()
        assert self._router is not None
        await self._router(scope, receive, send)
