"""RED metrics with the names Micrometer gives a Spring Boot app, so one dashboard reads
both: `http_server_requests_seconds{method, route, status, outcome}`, the route being the
template a framework matched, and one value for requests no route matched."""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder

NOT_FOUND = "NOT_FOUND"
REDIRECTION = "REDIRECTION"
UNKNOWN = "UNKNOWN"

_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, RedMetrics] = WeakKeyDictionary()


_OUTCOMES = ("INFORMATIONAL", "SUCCESS", "REDIRECTION", "CLIENT_ERROR", "SERVER_ERROR")


def outcome(status: int) -> str:
    """Micrometer's `Outcome.forStatus`."""
    return _OUTCOMES[status // 100 - 1] if 100 <= status < 600 else UNKNOWN


def route_label(route: str | None, status: int) -> str:
    """The matched template, else Micrometer's value for an unmatched request: bounded."""
    if route is not None:
        return route
    if status == 404:
        return NOT_FOUND
    return REDIRECTION if 300 <= status < 400 else UNKNOWN


class RedMetrics:
    """The request histogram and the health-check counter of one registry (two apps in
    one process share them, as they share the registry)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        # Children by (method, route, status): prometheus_client's labels() checks and locks
        # at every call; the label sets are few (methods × templates × statuses).
        self._children: dict[tuple[str, str | None, int], Any] = {}
        self.requests = Histogram(
            "http_server_requests_seconds",
            "Duration of HTTP server requests, by route template.",
            ("method", "route", "status", "outcome"),
            registry=registry,
        )
        self.health_checks = Counter(
            "http_server_health_checks",
            "Health-check requests, kept out of http_server_requests_seconds.",
            ("status",),
            registry=registry,
        )

    @classmethod
    def of(cls, registry: CollectorRegistry | None) -> RedMetrics:
        registry = REGISTRY if registry is None else registry
        metrics = _BY_REGISTRY.get(registry)
        if metrics is None:
            metrics = _BY_REGISTRY[registry] = cls(registry)
        return metrics

    def observe(self, method: str, route: str | None, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._children.get(key)
        if child is None:
            labels = (method, route_label(route, status), str(status), outcome(status))
            child = self._children[key] = self.requests.labels(*labels)
        child.observe(seconds)

    def render(self, accept: str) -> tuple[bytes, str]:
        """The registry's exposition in the format `accept` asks for (text or OpenMetrics)."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
