"""vigil.instrument on the same shop in FastAPI, Starlette, Flask and Django, through each
framework's test client: RED metrics by route template, health checks kept out, the
client's address behind proxies, and the request's context and trace ids on log lines."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient
from werkzeug.test import Client

from tests.instrument.apps import ROUTES
from tests.instrument.shop import FRAMEWORKS, Shop, build
from tests.model.remote_ip import BALANCER, DIFFERENT, ROWS, tomcat_table
from vigil.instrument import instrument

ELB = {"User-Agent": "ELB-HealthChecker/2.0"}


@pytest.fixture(params=FRAMEWORKS)
def shop(request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture) -> Iterator[Shop]:
    caplog.set_level(logging.INFO)
    built = build(request.param, health_paths=["/health"])
    yield built
    built.records.extend(caplog.records)


@pytest.fixture(scope="module")
def tomcat(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], str]:
    return tomcat_table(tmp_path_factory.mktemp("remoteip"))


def test_requests_are_counted_by_route_template_and_outcome(shop: Shop) -> None:
    for path in ("/items/1", "/items/1", "/items/2", "/nope", "/boom"):
        shop.get(path)
    route = ROUTES[shop.framework]
    assert shop.requests() == {
        ("GET", route, "200", "SUCCESS"): 3.0,
        ("GET", "NOT_FOUND", "404", "CLIENT_ERROR"): 1.0,
        ("GET", "/boom", "500", "SERVER_ERROR"): 1.0,
    }


def test_health_checks_and_scrapes_are_kept_out(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    assert shop.get("/health")[0] == 200
    assert shop.get("/items/5", ELB)[0] == 200
    status, exposition = shop.get("/metrics")
    shop.records.extend(caplog.records)
    assert (status, shop.requests(), shop.health_checks()) == (200, {}, {("200",): 2.0})
    assert "# TYPE http_server_requests_seconds histogram" in exposition
    assert (shop.server_spans(), shop.lines("vigil.instrument.access")) == ([], [])


def test_log_lines_carry_the_request_context_and_its_trace(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    status, body = shop.get("/items/7", {"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}, BALANCER)
    shop.records.extend(caplog.records)
    [span] = shop.spans.get_finished_spans()  # the server span, no send/receive spans
    assert span.kind is SpanKind.SERVER
    trace_id, span_id = format(span.context.trace_id, "032x"), format(span.context.span_id, "016x")
    context = {
        "client_ip": "203.0.113.7",
        "method": "GET",
        "path": "/items/7",
        "route": ROUTES[shop.framework],
        "trace_id": trace_id,
        "span_id": span_id,
        "appointment_id": 7,
    }
    [line] = shop.lines("shop")
    [access] = shop.lines("vigil.instrument.access")
    assert (status, json.loads(body)) == (200, {"client_ip": "203.0.113.7", "state": "203.0.113.7"})
    assert {k: line.get(k) for k in context} == context
    assert {k: access.get(k) for k in context} == context
    assert access["status"] == 200 and isinstance(access["duration_ms"], float)
    assert access["message"].startswith('203.0.113.7 "GET /items/7" 200 ')
    assert span.attributes is not None and span.attributes["sampling.probability"] == 1.0


@pytest.mark.slow
def test_client_ip_is_tomcats_answer_on_the_shared_table(
    shop: Shop, tomcat: dict[tuple[str, str], str]
) -> None:
    got, want = {}, {}
    for peer, xff in ROWS:
        status, body = shop.get("/items/1", {"X-Forwarded-For": xff}, peer)
        got[peer, xff] = (status, json.loads(body))
        client = DIFFERENT[xff][2] if (peer, xff) == (BALANCER, xff) and xff in DIFFERENT else None
        answer = client or tomcat[peer, xff]
        want[peer, xff] = (200, {"client_ip": answer, "state": answer})
    assert got == want


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Forwarded-For": ", ,,"},
        {"X-Forwarded-For": "[::1"},
        {"X-Forwarded-For": "1.2.3.4:99999, ::::"},
        {"X-Forwarded-For": "x" * 10000},
        {"X-Forwarded-For": "unknown, 10.0.0.3"},
        {"Forwarded": 'for="[2001:db8::1'},
        {"Forwarded": "for=;;;,,"},
        {"User-Agent": ""},
    ],
)
def test_malformed_headers_never_raise(headers: dict[str, str]) -> None:
    for framework in FRAMEWORKS:
        for forwarded_header in ("x-forwarded-for", "forwarded"):
            shop = build(framework, forwarded_header=forwarded_header)
            status, body = shop.get("/items/1", headers, BALANCER)
            assert (status, json.loads(body)["client_ip"]) == (200, BALANCER), framework


def test_a_client_connecting_directly_cannot_choose_its_address() -> None:
    for framework in FRAMEWORKS:
        for option, header in (
            ("x-forwarded-for", {"X-Forwarded-For": "10.0.0.5", "Forwarded": "for=1.2.3.4"}),
            ("forwarded", {"Forwarded": "for=10.0.0.5", "X-Forwarded-For": "1.2.3.4"}),
        ):
            shop = build(framework, forwarded_header=option)
            direct = json.loads(shop.get("/items/1", header, "198.51.100.20")[1])
            behind = json.loads(shop.get("/items/1", header, BALANCER)[1])
            assert (direct["client_ip"], behind["client_ip"]) == ("198.51.100.20", "10.0.0.5")


def test_the_context_hook_adds_fields_from_the_request(
    shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    shop = build(shop.framework, context=lambda info: {"user_id": info.headers.get("x-user")})
    shop.get("/items/3", {"X-User": "u-42"})
    shop.records.extend(caplog.records)
    assert [line["user_id"] for line in shop.lines("shop")] == ["u-42"]


def test_a_starlette_mount_gives_its_template() -> None:
    shop = build("starlette")
    shop.get("/shops/north/items/4")
    assert shop.requests() == {("GET", "/shops/{shop}/items/{item_id:int}", "200", "SUCCESS"): 1.0}


def test_trusted_proxies_are_the_configured_ones() -> None:
    shop = build("flask", trusted_proxies=["192.0.2.0/24"])
    header = {"X-Forwarded-For": "203.0.113.7, 10.0.0.5"}
    answers = [
        json.loads(shop.get("/items/1", header, peer)[1])["client_ip"]
        for peer in ("192.0.2.1", BALANCER)
    ]
    assert answers == ["10.0.0.5", BALANCER]


def test_a_plain_asgi_or_wsgi_callable_is_measured_without_routes() -> None:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("302 Found", [("Location", "/")])
        return [b""]

    answers = []
    for app in (asgi, wsgi):
        registry = CollectorRegistry()
        served = instrument(app, service_name="plain", registry=registry, env={})
        client = TestClient(served) if app is asgi else Client(served)
        client.get("/anything/42", follow_redirects=False)
        answers.append(_counts(registry))
    assert answers == [
        {("GET", "UNKNOWN", "204", "SUCCESS"): 1.0},
        {("GET", "REDIRECTION", "302", "REDIRECTION"): 1.0},
    ]


def _counts(registry: CollectorRegistry) -> dict[tuple[str, ...], float]:
    return {
        tuple(sample.labels.values()): sample.value
        for family in registry.collect()
        for sample in family.samples
        if sample.name == "http_server_requests_seconds_count"
    }


def test_sampling_follows_the_caller_then_the_ratio(shop: Shop) -> None:
    shop = build(shop.framework, sample_ratio=0.0)
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    shop.get("/items/1")
    shop.get("/items/2", {"traceparent": f"00-{trace_id}-b7ad6b7169203331-01"})
    sampled = [(format(s.context.trace_id, "032x"), s.attributes) for s in shop.server_spans()]
    assert [(t, (a or {}).get("sampling.probability")) for t, a in sampled] == [(trace_id, None)]
    assert sum(shop.requests().values()) == 2.0
