"""Drive an instrumented shop (apps.py) through its framework's test client and read back
what it recorded: RED samples, health checks, spans, log records as JSON."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry

from tests.instrument import apps
from vigil.instrument import LogstashFormatter

FRAMEWORKS = ("fastapi", "starlette", "flask", "django")
Get = Callable[[str, dict[str, str], str], tuple[int, str]]


@dataclass
class Shop:
    framework: str
    app: Any
    registry: CollectorRegistry
    spans: InMemorySpanExporter
    records: list[logging.LogRecord] = field(default_factory=list)

    def get(self, path: str, headers: dict[str, str] | None = None, peer: str = "203.0.113.50"):
        return _GETS[self.framework](self.app, path, headers or {}, peer)

    def requests(self) -> dict[tuple[str, ...], float]:
        return self._samples("http_server_requests_seconds_count")

    def health_checks(self) -> dict[tuple[str, ...], float]:
        return self._samples("http_server_health_checks_total")

    def server_spans(self) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if s.kind is SpanKind.SERVER]

    def lines(self, logger: str) -> list[dict[str, Any]]:
        formatter = LogstashFormatter()
        return [json.loads(formatter.format(r)) for r in self.records if r.name == logger]

    def _samples(self, name: str) -> dict[tuple[str, ...], float]:
        return {
            tuple(sample.labels.values()): sample.value
            for family in self.registry.collect()
            for sample in family.samples
            if sample.name == name
        }


def build(framework: str, **options: Any) -> Shop:
    registry, spans = CollectorRegistry(), InMemorySpanExporter()
    app = getattr(apps, f"{framework}_app")(registry=registry, span_exporter=spans, **options)
    return Shop(framework, app, registry, spans)


def _asgi_get(app: Any, path: str, headers: dict[str, str], peer: str) -> tuple[int, str]:
    from starlette.testclient import TestClient

    with TestClient(app, client=(peer, 4711), raise_server_exceptions=False) as client:
        response = client.get(path, headers=headers)
    return response.status_code, response.text


def _flask_get(app: Any, path: str, headers: dict[str, str], peer: str) -> tuple[int, str]:
    response = app.test_client().get(path, headers=headers, environ_base={"REMOTE_ADDR": peer})
    return response.status_code, response.get_data(as_text=True)


def _wsgi_get(app: Any, path: str, headers: dict[str, str], peer: str) -> tuple[int, str]:
    from werkzeug.test import Client

    response = Client(app).get(path, headers=headers, environ_base={"REMOTE_ADDR": peer})
    return response.status_code, response.get_data(as_text=True)


_GETS = {"fastapi": _asgi_get, "starlette": _asgi_get, "flask": _flask_get, "django": _wsgi_get}
