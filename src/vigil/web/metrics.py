"""`GET /metrics` for any prometheus_client registry, negotiated by vigil.exposition."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from vigil.exposition import Exposition, expose, families_from_registry

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response


def exposition(registries: tuple[Any, ...], accept: str | None, encoding: str | None) -> Exposition:
    """Every registry collected now, in the format and encoding the request accepts."""
    families = [f for registry in registries for f in families_from_registry(registry)]
    return expose(families, accept, encoding)


def metrics_endpoint(*registries: Any) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette handler that collects every registry on each request."""
    from starlette.responses import Response

    async def handle(request: Request) -> Response:
        found = exposition(
            registries, request.headers.get("accept"), request.headers.get("accept-encoding")
        )
        headers = {"Content-Encoding": found.content_encoding} if found.content_encoding else {}
        return Response(found.body, media_type=found.content_type, headers=headers)

    return handle
