"""The WSGI middleware (Flask, Django, any WSGI app)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import Any

from vigil.instrument._context import RequestContext, enter, leave
from vigil.instrument._recorder import Recorder

Environ = dict[str, Any]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]
RouteOf = Callable[[Environ], "str | None"]


class VigilWSGIMiddleware:
    """Client IP into `REMOTE_ADDR` and `environ["vigil.client_ip"]`, health checks counted
    and passed through, then the request timed in its context. The framework's hook sets
    the route (Flask's url_rule, Django's resolver route) in the context as it matches."""

    def __init__(self, app: WSGIApp, recorder: Recorder) -> None:
        self.app = app
        self.recorder = recorder

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        recorder = self.recorder
        path: str = environ.get("PATH_INFO", "")
        if path == recorder.settings.metrics_path:
            body, content_type = recorder.metrics.render(environ.get("HTTP_ACCEPT", ""))
            start_response(
                "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
            )
            return [body]
        peer: str = environ.get("REMOTE_ADDR", "")
        client_ip = recorder.client_ip(
            peer, environ.get("HTTP_X_FORWARDED_FOR", ""), environ.get("HTTP_FORWARDED", "")
        )
        environ["REMOTE_ADDR"] = environ["vigil.client_ip"] = client_ip
        method: str = environ.get("REQUEST_METHOD", "")
        if recorder.settings.health.matches(path, environ.get("HTTP_USER_AGENT", "")):
            health = RequestContext(client_ip, method, path)
            return self._health_check(environ, start_response, health)
        context = recorder.begin(method, path, client_ip, lambda: _headers(environ))
        status = [500]

        def start_status(line: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status[0] = _status(line)
            context.capture_span()
            return start_response(line, headers, *exc)

        token = enter(context)
        started = recorder.clock()
        try:
            return self.app(environ, start_status)
        finally:
            recorder.end(context, status[0], recorder.clock() - started)
            leave(token)

    def _health_check(
        self, environ: Environ, start_response: StartResponse, context: RequestContext
    ) -> Iterable[bytes]:
        status = [500]

        def start_status(line: str, headers: list[tuple[str, str]], *exc: Any) -> Any:
            status[0] = _status(line)
            return start_response(line, headers, *exc)

        token = enter(context)
        try:
            return self.app(environ, start_status)
        finally:
            self.recorder.health_check(status[0])
            leave(token)


def set_route(context: RequestContext | None, route: str | None) -> None:
    if context is not None:
        context.route = route
        context.capture_span()


def _status(line: str) -> int:
    try:
        return int(line[:3])
    except ValueError:
        return 500


def _headers(environ: Environ) -> dict[str, str]:
    headers = {
        key[5:].replace("_", "-").lower(): value
        for key, value in environ.items()
        if key.startswith("HTTP_")
    }
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers
