"""Span metrics from real instrumented apps: a FastAPI and a Flask app traced by the
OpenTelemetry SDK and its instrumentations, hit a known number of times (errors and health
checks among them); the SDK's OTLP/HTTP exporter sends the spans to the OTLP receiver on a
real server, whose appender stores them and shows them to the metrics generator."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from flask import Flask, abort
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import PATIENCE_S
from tests.logs.ingest.stores import serving
from tests.traces.test_spanmetrics import START, series
from vigil.model.clock import ManualClock
from vigil.traces import MemorySpanStore
from vigil.traces.spanmetrics import LATENCY_BUCKETS
from vigil.traces.spanmetrics_generator import MetricsGenerator, ObservingSpanAppender
from vigil.tsdb._api import MemoryStorage
from vigil.web.ingest.otlp_traces import OTLPTraces

pytestmark = pytest.mark.slow

# (path, headers, times): 7 good, 3 errors, 4 health checks (2 by path, 2 by user agent)
REQUESTS: list[tuple[str, dict[str, str], int]] = [
    ("/items/1", {}, 4),
    ("/items/2", {}, 3),
    ("/items/13", {}, 3),
    ("/healthz", {}, 1),
    ("/actuator/health", {}, 1),
    ("/items/3", {"user-agent": "kube-probe/1.29"}, 1),
    ("/items/4", {"user-agent": "ELB-HealthChecker/2.0"}, 1),
]


def _fastapi(provider: TracerProvider) -> Callable[[str, dict[str, str]], int]:
    app = FastAPI()

    @app.get("/items/{item_id}")
    def item(item_id: int) -> dict[str, int]:
        if item_id == 13:
            raise HTTPException(500, "unlucky")
        return {"id": item_id}

    @app.get("/healthz")
    @app.get("/actuator/health")
    def health() -> str:
        return "ok"

    FastAPIInstrumentor.instrument_app(app, tracer_provider=provider)
    client = TestClient(app)
    return lambda path, headers: client.get(path, headers=headers).status_code


def _flask(provider: TracerProvider) -> Callable[[str, dict[str, str]], int]:
    app = Flask("shop")

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> dict[str, int]:
        if item_id == 13:
            abort(500)
        return {"id": item_id}

    @app.get("/healthz")
    @app.get("/actuator/health")
    def health() -> str:
        return "ok"

    FlaskInstrumentor().instrument_app(app, tracer_provider=provider)
    client = app.test_client()
    return lambda path, headers: client.get(path, headers=headers).status_code


@pytest.mark.parametrize(
    ("build", "route"),
    [(_fastapi, "GET /items/{item_id}"), (_flask, "GET /items/<int:item_id>")],
    ids=["fastapi", "flask"],
)
def test_calls_equal_requests_and_buckets_hold_the_durations(
    build: Callable[[TracerProvider], Callable[[str, dict[str, str]], int]], route: str
) -> None:
    storage, clock = MemoryStorage(), ManualClock(START)
    generator = MetricsGenerator(storage.appender, clock)
    appender = ObservingSpanAppender(MemorySpanStore(), generator)
    kept = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    provider.add_span_processor(SimpleSpanProcessor(kept))
    with serving(OTLPTraces(lambda: appender).routes()) as url:
        exporter = OTLPSpanExporter(f"{url}/otlp/v1/traces", timeout=PATIENCE_S)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        get = build(provider)
        statuses = [get(path, headers) for path, headers, times in REQUESTS for _ in range(times)]
        provider.shutdown()
    assert statuses.count(500) == 3
    generator.collect()

    server = {"service": "shop", "span_kind": "SPAN_KIND_SERVER"}
    got = {
        (lb.get("span_name"), lb.get("status_code")): values[-1]
        for lb, values in series(storage, "traces_spanmetrics_calls_total", **server).items()
    }
    assert got == {(route, "STATUS_CODE_UNSET"): 7.0, (route, "STATUS_CODE_ERROR"): 3.0}

    sent = [
        s
        for s in kept.get_finished_spans()
        if s.kind == SpanKind.SERVER and not _health(s) and s.status.status_code != StatusCode.ERROR
    ]
    seconds = np.asarray([_seconds(s) for s in sent])
    want = {
        **{_le(b): float((seconds <= b).sum()) for b in LATENCY_BUCKETS},
        "+Inf": float(len(sent)),
    }
    labels = {**server, "span_name": route, "status_code": "STATUS_CODE_UNSET"}
    buckets = series(storage, "traces_spanmetrics_latency_bucket", **labels)
    assert {lb.get("le"): values[-1] for lb, values in buckets.items()} == want
    (total,) = series(storage, "traces_spanmetrics_latency_sum", **labels).values()
    assert total[-1] == pytest.approx(seconds.sum())


def _seconds(span: ReadableSpan) -> float:
    assert span.start_time is not None and span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


def _health(span: ReadableSpan) -> bool:
    values = dict(span.attributes or {})
    agent = str(values.get("http.user_agent") or values.get("user_agent.original") or "")
    target = str(values.get("http.target") or values.get("url.path") or "")
    return agent.startswith(("kube-probe", "ELB-HealthChecker")) or target in (
        "/healthz",
        "/actuator/health",
    )


def _le(bound: float) -> str:
    return f"{bound:.3f}"  # Tempo's bounds all have three decimals
