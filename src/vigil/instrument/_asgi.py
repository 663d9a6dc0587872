"""The ASGI middleware (Starlette, FastAPI, any ASGI app)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from vigil.instrument._context import RequestContext, enter, leave
from vigil.instrument._recorder import Recorder

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
RouteOf = Callable[[Scope, str], "str | None"]
SpanNamer = Callable[[str, str], None]


class VigilASGIMiddleware:
    """Client IP into `scope["client"]` and `request.state.client_ip`, health checks
    counted and passed through, then the request timed in its context."""

    def __init__(
        self,
        app: ASGIApp,
        recorder: Recorder,
        route_of: RouteOf,
        name_span: SpanNamer | None = None,
    ) -> None:
        self.app = app
        self.recorder = recorder
        self.route_of = route_of
        self.name_span = name_span

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        recorder = self.recorder
        path: str = scope["path"]
        if path == recorder.settings.metrics_path:
            await self._metrics(scope, send)
            return
        user_agent = x_forwarded_for = forwarded = ""
        for name, value in scope["headers"]:
            if name == b"user-agent":
                user_agent = value.decode("latin-1")
            elif name == b"x-forwarded-for":
                text = value.decode("latin-1")
                x_forwarded_for = f"{x_forwarded_for},{text}" if x_forwarded_for else text
            elif name == b"forwarded":
                text = value.decode("latin-1")
                forwarded = f"{forwarded},{text}" if forwarded else text
        client = scope.get("client")
        peer = client[0] if client else ""
        client_ip = recorder.client_ip(peer, x_forwarded_for, forwarded)
        if client_ip != peer:
            scope["client"] = (client_ip, 0)
        scope.setdefault("state", {})["client_ip"] = client_ip
        method: str = scope["method"]
        if recorder.settings.health.matches(path, user_agent):
            await self._health_check(scope, receive, send, RequestContext(client_ip, method, path))
            return
        context = recorder.begin(method, path, client_ip, lambda: _headers(scope))
        root_path = scope.get("root_path", "")
        context.route_source = lambda: self.route_of(scope, root_path) if "route" in scope else None
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                context.route = self.route_of(scope, root_path)
                context.capture_span()
                if self.name_span is not None and context.route is not None:
                    self.name_span(method, context.route)
            await send(message)

        token = enter(context)
        started = recorder.clock()
        try:
            await self.app(scope, receive, send_status)
        finally:
            if context.route is None:
                context.route = self.route_of(scope, root_path)
            recorder.end(context, status, recorder.clock() - started)
            leave(token)

    async def _health_check(
        self, scope: Scope, receive: Receive, send: Send, context: RequestContext
    ) -> None:
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        token = enter(context)
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.recorder.health_check(status)
            leave(token)

    async def _metrics(self, scope: Scope, send: Send) -> None:
        accept = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"accept"), "")
        body, content_type = self.recorder.metrics.render(accept)
        headers = [(b"content-type", content_type.encode()), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _headers(scope: Scope) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in scope["headers"]:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        headers[key] = f"{headers[key]},{text}" if key in headers else text
    return headers


def no_route(scope: Scope, root_path: str) -> str | None:
    """A plain ASGI app has no routes: every request is one unmatched value."""
    return None
