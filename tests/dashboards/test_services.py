"""The built-in Services dashboard answers from span metrics, and from Micrometer's
http_server_requests_seconds_* for an app that only exposes the actuator (the seed's Spring
Boot scrape; or vigil.instrument's same series, with `route` for Micrometer's `uri`), with
span metrics winning for a service that has both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES
from tests.dashboards.test_builtin import _panels, _substitute
from vigil.dashboards import DashboardStore
from vigil.exposition.text import parse_text
from vigil.model import METRIC_NAME
from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine
from vigil.promql.value import Vector
from vigil.traces import KIND_SERVER, STATUS_ERROR, STATUS_OK, Resource, Span, Spans
from vigil.traces.spanmetrics_generator import MetricsGenerator
from vigil.tsdb._api import MemoryStorage

SPRING = FIXTURES / "exposition" / "spring-boot-actuator.txt"
T0_S = 1_700_000_000.0
STEP_S = 15


def _targets() -> list[tuple[str, str, str]]:
    store = DashboardStore(Path(__file__).parent / "never-created")  # built-ins need no dir
    dashboard = store.builtins()["vigil-services"]
    names = {v["name"] for v in dashboard.model["templating"]["list"]}
    return [
        (panel["title"], target["legendFormat"], _substitute(target["expr"], names))
        for panel in _panels(dashboard.model["panels"])
        for target in panel.get("targets", [])
    ]


def _micrometer(storage: MemoryStorage, job: str, route_label: str = "uri") -> None:
    """The Spring Boot scrape as `job`, five scrapes 15 s apart, its counters growing;
    `route_label="route"` gives vigil.instrument's shape of the same series."""
    samples = [s for f in parse_text(SPRING.read_text()) for s in f.samples]
    for n in range(5):
        for s in samples:
            if s.name.startswith("http_server_requests_seconds"):
                labels = s.labels.with_label(METRIC_NAME, s.name).with_label("job", job)
                if route_label != "uri":
                    labels = labels.without("uri").with_label(route_label, labels.get("uri"))
                storage.add(labels, int((T0_S + n * STEP_S) * 1000), s.value * (n + 1))


def _spans(storage: MemoryStorage, service: str) -> None:
    clock = ManualClock(T0_S)
    generator = MetricsGenerator(storage.appender, clock)
    for n in range(5):
        batch = [
            Span(
                trace_id=(i + 1).to_bytes(16, "big"),
                span_id=(i + 1).to_bytes(8, "big"),
                name="GET /orders/{id}",
                start_ns=0,
                end_ns=(i + 1) * 10_000_000,
                kind=KIND_SERVER,
                status_code=STATUS_ERROR if i % 5 == 0 else STATUS_OK,
                resource=Resource((("service.name", service),)),
                attributes=(("http.route", "/orders/{id}"), ("http.method", "GET")),
            )
            for i in range(20 * (n + 1))
        ]
        generator.observe(Spans.of(batch))
        generator.collect()
        clock.advance(STEP_S)


def _answer(storage: MemoryStorage, expr: str) -> list[dict[str, str]]:
    engine = Engine(storage.queryable)
    value = engine.instant_query(expr, int((T0_S + 4 * STEP_S) * 1000)).value
    assert isinstance(value, Vector)
    return [dict(s.labels) for s in value.samples]


@pytest.mark.parametrize("route_label", ["uri", "route"])
@pytest.mark.parametrize(("title", "legend", "expr"), _targets(), ids=lambda v: str(v)[:40])
def test_micrometer_only_apps_fill_every_panel(
    title: str, legend: str, expr: str, route_label: str
) -> None:
    storage = MemoryStorage()
    _micrometer(storage, "petclinic", route_label)
    found = _answer(storage, expr)
    assert found, f"{title} ({legend}) has no data from Micrometer's metrics"
    assert {s["service"] for s in found} == {"petclinic"}
    if "route" in legend:
        assert "GET /api/v1/appointments/{appointmentId}" in {s["route"] for s in found}


@pytest.mark.parametrize(("title", "legend", "expr"), _targets(), ids=lambda v: str(v)[:40])
def test_span_metrics_fill_every_panel_and_win_over_micrometer(
    title: str, legend: str, expr: str
) -> None:
    storage = MemoryStorage()
    _micrometer(storage, "petclinic")
    _micrometer(storage, "shop")
    _spans(storage, "shop")
    found: list[dict[str, Any]] = _answer(storage, expr)
    shop = [s for s in found if s["service"] == "shop"]
    if "route" in legend:
        assert [s["route"] for s in shop] == ["GET /orders/{id}"], title
    else:
        assert len(shop) == 1, title
    assert {s["service"] for s in found} == {"petclinic", "shop"}
