"""The route template Starlette (and FastAPI, a Starlette) matched, mounts included."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.routing import BaseRoute, Match, Mount

from vigil.instrument._asgi import Scope


class StarletteRoutes:
    """The router records the matched route in `scope["route"]`; below a Mount it is the
    inner route, so the template is rebuilt by matching again from the top."""

    def __init__(self, app: Any) -> None:
        self.routes: Sequence[BaseRoute] = app.routes

    def __call__(self, scope: Scope, root_path: str) -> str | None:
        route = scope.get("route")
        if route is None:
            return None
        if scope.get("root_path", "") == root_path:
            path = getattr(route, "path", None)
            return path if isinstance(path, str) else None
        return _template(self.routes, {**scope, "root_path": root_path})


def _template(routes: Sequence[BaseRoute], scope: Scope) -> str | None:
    """The router's choice: the first full match, else the first partial one (a 405)."""
    partial: tuple[BaseRoute, Scope] | None = None
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            return _path(route, {**scope, **child})
        if match is Match.PARTIAL and partial is None:
            partial = route, {**scope, **child}
    return None if partial is None else _path(*partial)


def _path(route: BaseRoute, scope: Scope) -> str | None:
    if isinstance(route, Mount):
        inner = _template(route.routes, scope)
        return None if inner is None else route.path + inner
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None
