"""What happens around every request, whatever the framework: the client's address, the
health-check test, the context, then the RED metric and the access log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vigil.instrument._context import RequestContext, RequestInfo, SpanIds
from vigil.instrument._health import HealthChecks
from vigil.model.forwarded import TrustedProxies, forwarded_hops, x_forwarded_for_hops

if TYPE_CHECKING:
    from vigil.instrument._red import RedMetrics

ContextHook = Callable[[RequestInfo], Mapping[str, object]]
Clock = Callable[[], float]

# RFC 9110's methods and PATCH; anything else is one label value, as OTel's `_OTHER`.
_METHODS = frozenset(
    ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
)
ACCESS_LOGGER = "vigil.instrument.access"
_REMEMBERED_CLIENTS = 4096


@dataclass(frozen=True, slots=True)
class Settings:
    """One instrumented app's choices (see `instrument`)."""

    proxies: TrustedProxies
    forwarded_header: str
    health: HealthChecks
    context: ContextHook | None
    metrics_path: str | None
    access_log: bool


class Recorder:
    def __init__(
        self, settings: Settings, metrics: RedMetrics, span_ids: SpanIds | None, clock: Clock
    ) -> None:
        self.settings = settings
        self.metrics = metrics
        self.span_ids = span_ids
        self.clock = clock
        self._access = logging.getLogger(ACCESS_LOGGER)
        self._clients: dict[tuple[str, str], str] = {}

    def client_ip(self, peer: str, x_forwarded_for: str, forwarded: str) -> str:
        """The client's address, remembered for the last few thousand (peer, header)s."""
        header = forwarded if self.settings.forwarded_header == "forwarded" else x_forwarded_for
        key = (peer, header)
        client = self._clients.get(key)
        if client is None:
            if not header:
                hops = []
            elif self.settings.forwarded_header == "forwarded":
                hops = forwarded_hops(header)
            else:
                hops = x_forwarded_for_hops(header)
            client = self.settings.proxies.client_behind(peer, hops)
            if len(self._clients) >= _REMEMBERED_CLIENTS:
                self._clients.clear()
            self._clients[key] = client
        return client

    def begin(
        self, method: str, path: str, client_ip: str, headers: Callable[[], Mapping[str, str]]
    ) -> RequestContext:
        context = RequestContext(
            client_ip=client_ip, method=method, path=path, span_ids=self.span_ids
        )
        if self.settings.context is not None:
            fields = self.settings.context(RequestInfo(method, path, headers(), client_ip))
            context.fields.update(fields)
        return context

    def end(self, context: RequestContext, status: int, seconds: float) -> None:
        """The RED metric and the access log, written in the request's context."""
        method = context.method if context.method in _METHODS else None
        self.metrics.observe(method or "UNKNOWN", context.route, status, seconds)
        context.status = status
        context.duration_s = seconds
        if self.settings.access_log and self._access.isEnabledFor(logging.INFO):
            self._access.info(
                '%s "%s %s" %d %.1fms',
                context.client_ip,
                context.method,
                context.path,
                status,
                seconds * 1000,
            )

    def health_check(self, status: int) -> None:
        self.metrics.health_checks.labels(str(status)).inc()
