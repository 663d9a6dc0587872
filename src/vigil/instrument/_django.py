"""Django's side: a middleware reading the resolver's route and giving the request its
`client_ip`; instrument() appends it to settings.MIDDLEWARE (innermost, so it runs inside
OpenTelemetry's)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vigil.instrument._context import current
from vigil.instrument._wsgi import set_route

PATH = "vigil.instrument._django.RouteMiddleware"


class RouteMiddleware:
    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response

    def __call__(self, request: Any) -> Any:
        context = current()
        if context is not None:
            request.client_ip = context.client_ip
        return self.get_response(request)

    def process_view(self, request: Any, view: object, args: object, kwargs: object) -> None:
        """Called once the URL is resolved, before the view (inside OpenTelemetry's span)."""
        route = getattr(request.resolver_match, "route", None)
        set_route(current(), None if not route else "/" + route.lstrip("/"))


def install(handler: Any) -> None:
    from django.conf import settings

    middleware = list(settings.MIDDLEWARE)
    if PATH not in middleware:
        settings.MIDDLEWARE = [*middleware, PATH]
    handler.load_middleware()
