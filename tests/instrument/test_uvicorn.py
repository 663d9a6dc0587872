"""The four shops served by a real uvicorn on 127.0.0.1 (WSGI ones through its WSGI
interface), read back over HTTP from their own /metrics."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import PATIENCE_S, free_port
from tests.instrument.apps import ROUTES
from tests.instrument.shop import FRAMEWORKS, build

pytestmark = pytest.mark.slow
ORDER = ("method", "route", "status", "outcome")


@contextmanager
def serving(app: Any, interface: str) -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, interface=interface, lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + PATIENCE_S
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(PATIENCE_S)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_real_uvicorn_serves_the_instrumented_shop(framework: str) -> None:
    shop = build(framework, health_paths=["/health"])
    interface = "wsgi" if framework in ("flask", "django") else "asgi3"
    behind = {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}
    with serving(shop.app, interface) as url, httpx.Client(base_url=url) as client:
        answers = [client.get("/items/1", headers=behind).json() for _ in range(3)]
        statuses = [
            client.get("/nope").status_code,
            client.get("/health").status_code,
            client.get("/items/2", headers={"User-Agent": "ELB-HealthChecker/2.0"}).status_code,
        ]
        exposition = client.get("/metrics").text
    counts = {
        tuple(s.labels[k] for k in ORDER if k in s.labels): s.value
        for family in text_string_to_metric_families(exposition)
        for s in family.samples
        if s.name in ("http_server_requests_seconds_count", "http_server_health_checks_total")
    }
    assert answers == [{"client_ip": "203.0.113.7", "state": "203.0.113.7"}] * 3
    assert statuses == [404, 200, 200]
    assert counts == {
        ("GET", ROUTES[framework], "200", "SUCCESS"): 3.0,
        ("GET", "NOT_FOUND", "404", "CLIENT_ERROR"): 1.0,
        ("200",): 2.0,
    }
    assert len(shop.server_spans()) == 4  # the items and the 404; no health check
