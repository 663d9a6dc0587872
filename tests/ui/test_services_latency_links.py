"""From a latency panel of the built-in Services dashboard to the traces behind it: a click on
the p95-by-route graph offers a data link for the series under the pointer, which opens the
Traces page searching that service and route over the dashboard's time window, listing the
trace the OpenTelemetry SDK exported."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind

from tests.conftest import PATIENCE_S
from tests.ui.conftest import vigil_server, wait_for_data

pytestmark = pytest.mark.slow

QUANTILE = (
    "histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket"
    '{service="payments",span_kind="SPAN_KIND_SERVER",span_name="POST /pay"}[1m]))) > 0'
)


def _pay(base: str) -> str:
    """One "POST /pay" request served by payments; its trace id."""
    provider = TracerProvider(resource=Resource.create({"service.name": "payments"}))
    exporter = OTLPSpanExporter(endpoint=f"{base}/otlp/v1/traces", timeout=PATIENCE_S)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("pay").start_as_current_span(
        "POST /pay", kind=SpanKind.SERVER
    ) as span:
        trace_id = format(span.get_span_context().trace_id, "032x")
    provider.shutdown()
    return trace_id


@pytest.fixture(scope="module")
def paid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """A server whose span metrics show payments' POST /pay latency (two requests: the
    second after the first's series exists, so its rate is above 0)."""
    data = tmp_path_factory.mktemp("vigil-latency-links")
    with vigil_server(data, "--agent.disable", "--traces.spanmetrics.interval=1s") as base:
        first = _pay(base)
        wait_for_data(base, 'traces_spanmetrics_latency_count{service="payments"}')
        second = _pay(base)
        wait_for_data(base, QUANTILE)
        yield base, [first, second]


def test_a_latency_series_links_to_its_traces_over_the_window(
    paid: tuple[str, list[str]], page: Any
) -> None:
    from playwright.sync_api import expect

    base, trace_ids = paid
    page.goto(f"{base}/d/vigil-services?var-service=payments&from=now-15m&to=now")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
    )
    panel = page.locator('.dash-grid section.panel[data-panel-title="p95 latency by route"]')
    expect(panel).to_have_attribute("data-panel-state", "rendered")
    panel.locator(".u-over").click()
    link = panel.get_by_role("navigation", name="Data links").get_by_role(
        "link", name="Traces of payments POST /pay"
    )
    href = parse_qs(urlparse(link.get_attribute("href") or "").query)
    window = (int(href["from"][0]), int(href["to"][0]))
    assert window[1] - window[0] == 15 * 60 * 1000
    link.click()
    expect(page).to_have_url(re.compile(r"/traces\?"))
    expect(page.get_by_label("Service")).to_have_value("payments")
    expect(page.get_by_label("Operation")).to_have_value("POST /pay")
    expect(page.get_by_label("Time range")).to_have_value("window")
    results = page.locator(".traces-results")
    expect(results).to_have_attribute("data-state", "done", timeout=PATIENCE_S * 1000)
    rows = results.locator("tbody tr")
    expect(rows).to_have_count(2)
    shown = {rows.nth(i).get_attribute("data-trace-id") for i in range(2)}
    assert shown == {t.lstrip("0") for t in trace_ids}
