"""What Grafana's Tempo data source asks the Prometheus data source for its Service Graph
tab (node graph and APM table), written from Grafana's source (`graphTransform.ts`, the
data source's service-map and APM queries with `$__range` as 5m), answered from the
series vigil generates for a small shop: the browser calls frontend, frontend calls shop,
shop calls its PostgreSQL database, orders."""

from __future__ import annotations

import pytest

from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine
from vigil.promql.value import Vector
from vigil.traces import (
    KIND_CLIENT,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_UNSET,
    Resource,
    Span,
    Spans,
)
from vigil.traces.spanmetrics_generator import MetricsGenerator
from vigil.tsdb._api import MemoryStorage

START = 1_700_000_000.0
SERVICE_MAP = [
    "traces_service_graph_request_server_seconds_sum",
    "traces_service_graph_request_total",
    "traces_service_graph_request_failed_total",
]
SERVER = 'span_kind="SPAN_KIND_SERVER"'


def _request(n: int) -> list[Span]:
    trace = (n + 1).to_bytes(16, "big")
    failed = n % 4 == 0

    def span(
        service: str, name: str, sid: int, parent: int, kind: int, ms: int, **attrs: str
    ) -> Span:
        return Span(
            trace_id=trace,
            span_id=sid.to_bytes(8, "big"),
            parent_span_id=parent.to_bytes(8, "big"),
            name=name,
            start_ns=0,
            end_ns=ms * 1_000_000,
            kind=kind,
            status_code=STATUS_ERROR if failed and service == "shop" else STATUS_UNSET,
            attributes=tuple(attrs.items()),
            resource=Resource((("service.name", service),)),
        )

    return [
        span(
            "frontend", "GET /", 1, 0, KIND_SERVER, 120, **{"http.route": "/", "http.method": "GET"}
        ),
        span("frontend", "GET", 2, 1, KIND_CLIENT, 100),
        span(
            "shop",
            "GET /items",
            3,
            2,
            KIND_SERVER,
            90,
            **{"http.route": "/items", "http.method": "GET"},
        ),
        span(
            "shop",
            "SELECT items",
            4,
            3,
            KIND_CLIENT,
            30,
            **{"db.system": "postgresql", "db.name": "orders"},
        ),
    ]


@pytest.fixture(scope="module")
def engine() -> Engine:
    storage, clock = MemoryStorage(), ManualClock(START)
    generator = MetricsGenerator(storage.appender, clock)
    for step in range(5):
        generator.observe(Spans.of([s for n in range(8) for s in _request(step * 8 + n)]))
        generator.collect()
        clock.advance(15)
    return Engine(storage.queryable)


def _ask(engine: Engine, expr: str) -> dict[tuple[str, ...], float]:
    value = engine.instant_query(expr, int((START + 60) * 1000)).value
    assert isinstance(value, Vector)
    return {
        tuple(v for k, v in s.labels if k != "__name__"): round(s.value, 4) for s in value.samples
    }


@pytest.mark.parametrize("metric", SERVICE_MAP)
def test_the_service_map_has_every_edge(engine: Engine, metric: str) -> None:
    found = _ask(engine, f"sum by (client, server) (rate({metric}[5m]))")
    edges = {("user", "frontend"), ("frontend", "shop"), ("shop", "orders")}
    if metric.endswith("failed_total"):  # a quarter of shop's requests fail
        edges = {("frontend", "shop"), ("shop", "orders")}
    assert set(found) == edges
    assert all(rate > 0 for rate in found.values())


def test_the_apm_table_rates_errors_and_durations(engine: Engine) -> None:
    rates = _ask(
        engine, f"topk(5, sum(rate(traces_spanmetrics_calls_total{{{SERVER}}}[5m])) by (span_name))"
    )
    errors = _ask(
        engine,
        "topk(5, sum(rate(traces_spanmetrics_calls_total"
        f'{{{SERVER},status_code="STATUS_CODE_ERROR"}}[5m])) by (span_name))',
    )
    duration = _ask(
        engine,
        f"histogram_quantile(.9, sum(rate(traces_spanmetrics_latency_bucket{{{SERVER}}}[5m])) by (le))",
    )
    assert set(rates) == {("GET /",), ("GET /items",)}
    assert rates[("GET /",)] == rates[("GET /items",)]
    assert errors == {("GET /items",): pytest.approx(rates[("GET /items",)] / 4, rel=1e-3)}
    (p90,) = duration.values()
    assert 0.064 < p90 <= 0.128


def test_the_service_map_edges_have_latency_percentiles(engine: Engine) -> None:
    found = _ask(
        engine,
        "histogram_quantile(0.9, sum(rate(traces_service_graph_request_server_seconds_bucket"
        "[5m])) by (le, client, server))",
    )
    # Within the first bucket (0.1 s) for the 90 ms and 30 ms calls, the second for 120 ms.
    assert found == {
        ("frontend", "shop"): 0.09,
        ("shop", "orders"): 0.09,
        ("user", "frontend"): 0.19,
    }
