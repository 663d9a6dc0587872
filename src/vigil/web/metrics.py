"""`GET /metrics` for any prometheus_client registry, negotiated by vigil.exposition."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from vigil.exposition import expose, families_from_registry


def metrics_endpoint(*registries: Any) -> Callable[[Request], Awaitable[Response]]:
    """A handler that collects every registry on each request."""

    async def handle(request: Request) -> Response:
        families = [f for registry in registries for f in families_from_registry(registry)]
        exposition = expose(
            families, request.headers.get("accept"), request.headers.get("accept-encoding")
        )
        headers = (
            {"Content-Encoding": exposition.content_encoding} if exposition.content_encoding else {}
        )
        return Response(exposition.body, media_type=exposition.content_type, headers=headers)

    return handle
