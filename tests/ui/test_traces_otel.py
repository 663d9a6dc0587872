"""The Traces page over spans the OpenTelemetry Python SDK exported to vigil over OTLP/HTTP: the
search lists them and filters by service (suggesting its operations), by a tag picked in the
tag browser or by a written TraceQL query; a trace opens as a waterfall whose subtrees fold
and whose spans open onto their status and events, and whose logs link finds the line
carrying its id (which links back to the trace); the Services dashboard's Traces link opens
the search on its service and range; the slow-SQL table links the database call's trace; the
service map draws the calls; and with no traces the page says how to send them.

One vigil runs for the module; the SDK exports two traces to its /otlp/v1/traces.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import PATIENCE_S
from tests.ui.conftest import vigil_server, wait_for_data

pytestmark = pytest.mark.slow

STATEMENT = "SELECT * FROM orders WHERE id = 42"


def _provider(base: str, service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    exporter = OTLPSpanExporter(endpoint=f"{base}/otlp/v1/traces", timeout=PATIENCE_S)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def _export(base: str) -> str:
    """A checkout through two services and a database call (the payment fails), then a
    quick cart page; the checkout's trace id."""
    frontend, payments = _provider(base, "frontend"), _provider(base, "payments")
    shop, pay = frontend.get_tracer("shop"), payments.get_tracer("pay")
    with (
        shop.start_as_current_span("GET /checkout", kind=SpanKind.SERVER) as root,
        shop.start_as_current_span("POST /pay", kind=SpanKind.CLIENT) as call,
    ):
        context = trace.set_span_in_context(call)
        with pay.start_as_current_span(
            "POST /pay", context=context, kind=SpanKind.SERVER
        ) as served:
            served.add_event("declined", {"reason": "insufficient funds"})
            with pay.start_as_current_span(
                "SELECT orders",
                kind=SpanKind.CLIENT,
                attributes={"db.system": "postgresql", "db.query.text": STATEMENT},
            ):
                pass
            served.set_status(Status(StatusCode.ERROR, "card declined"))
    with shop.start_as_current_span("GET /cart", kind=SpanKind.SERVER):
        pass
    frontend.shutdown()
    payments.shutdown()
    return format(root.get_span_context().trace_id, "032x")


@pytest.fixture(scope="module")
def otel_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with vigil_server(tmp_path_factory.mktemp("vigil-otel"), "--agent.disable") as base:
        trace_id = _export(base)
        line = {
            "stream": {"service_name": "payments"},
            "values": [[str(time.time_ns()), f"payment refused trace_id={trace_id}"]],
        }
        pushed = httpx.post(f"{base}/loki/api/v1/push", json={"streams": [line]}, timeout=30)
        assert pushed.status_code == 204, pushed.text
        yield base, trace_id


def _done(page: Any, area: str) -> Any:
    from playwright.sync_api import expect

    located = page.locator(area)
    expect(located).to_have_attribute("data-state", "done", timeout=PATIENCE_S * 1000)
    return located


def test_search_lists_the_traces_and_filters_by_service(
    otel_server: tuple[str, str], page: Any
) -> None:
    from playwright.sync_api import expect

    base, trace_id = otel_server
    page.goto(f"{base}/traces")
    results = _done(page, ".traces-results")
    rows = results.locator("tbody tr")
    expect(rows.locator("td:nth-child(3)")).to_have_text(["GET /cart", "GET /checkout"])
    checkout = results.locator(f'tr[data-trace-id="{trace_id.lstrip("0")}"]')
    expect(checkout.locator("td")).to_have_text(
        [
            trace_id.lstrip("0"),
            "frontend",
            "GET /checkout",
            re.compile(r"\d"),
            re.compile(r"^[\d.]+(ns|µs|ms|s)$"),
            "4 1 error",
        ]
    )
    page.get_by_label("Service").fill("payments")
    query = page.get_by_label("TraceQL")
    expect(query).to_have_value('{resource.service.name="payments"}')
    query.press("Enter")
    expect(rows).to_have_count(1)
    expect(rows.locator("td").nth(2)).to_have_text("GET /checkout")
    operations = page.locator("#traces-operation-list option")
    expect(operations).to_have_count(2)
    assert operations.evaluate_all("os => os.map(o => o.value)") == ["POST /pay", "SELECT orders"]
    assert "service=payments" in page.url
    page.reload()
    expect(page.get_by_label("Service")).to_have_value("payments")
    expect(_done(page, ".traces-results").locator("tbody tr")).to_have_count(1)


def test_tag_browser_and_a_written_traceql_query(otel_server: tuple[str, str], page: Any) -> None:
    from playwright.sync_api import expect

    base, trace_id = otel_server
    page.goto(f"{base}/traces")
    results = _done(page, ".traces-results")
    page.get_by_text("Tag browser").click()
    page.get_by_role("group", name="Tag names").get_by_role("button", name="db.system").click()
    page.get_by_role("group", name="Tag values").get_by_role("button", name="postgresql").click()
    expect(page.get_by_label("Tags")).to_have_value("db.system=postgresql")
    expect(page.get_by_label("TraceQL")).to_have_value('{.db.system="postgresql"}')
    expect(results.locator("tbody tr")).to_have_count(1)
    query = page.get_by_label("TraceQL")
    query.fill("{status=error && kind=server}")
    query.press("Enter")
    expect(results.locator("tbody tr")).to_have_attribute("data-trace-id", trace_id.lstrip("0"))
    query.fill("{status=}")
    query.press("Enter")
    expect(results).to_have_attribute("data-state", "error")
    expect(results.get_by_role("alert")).to_contain_text("line 1")


def test_a_trace_opens_as_a_waterfall_linking_its_logs(
    otel_server: tuple[str, str], page: Any, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    base, trace_id = otel_server
    page.goto(f"{base}/traces")
    _done(page, ".traces-results").get_by_role("link", name=trace_id.lstrip("0")).click()
    view = _done(page, ".trace-area")
    expect(page.get_by_role("heading", level=1)).to_have_text("frontend: GET /checkout")
    spans = view.locator(".wf-row .wf-name")
    expect(spans).to_have_text(
        [
            "frontend GET /checkout",
            "frontend POST /pay",
            "payments POST /pay error",
            "payments SELECT orders",
        ]
    )
    indents = spans.evaluate_all("ns => ns.map(n => parseInt(n.style.paddingLeft))")
    assert indents == sorted(indents) and len(set(indents)) == 4, indents
    fold = view.get_by_role("button", name="Spans under frontend POST /pay")
    fold.click()
    expect(fold).to_have_attribute("aria-expanded", "false")
    expect(view.locator(".wf-row:visible .wf-name")).to_have_text(
        ["frontend GET /checkout", "frontend POST /pay"]
    )
    fold.click()
    expect(view.locator(".wf-row:visible")).to_have_count(4)
    served = view.locator(".wf-row").nth(2)
    served.focus()
    served.press("Enter")
    expect(served).to_have_attribute("aria-expanded", "true")
    detail = view.get_by_role("region", name="Span POST /pay")
    expect(detail).to_contain_text("error: card declined")
    expect(detail.locator(".span-events")).to_contain_text("declined")
    expect(detail.locator(".span-events")).to_contain_text("insufficient funds")
    expect(view.get_by_role("link", name="frontend on the Services dashboard")).to_have_attribute(
        "href", "/d/vigil-services?var-service=frontend"
    )
    page.get_by_role("link", name="Logs for this trace").click()
    results = _done(page, ".logs-results")
    expect(results.locator(".log-line")).to_have_text([f"payment refused trace_id={trace_id}"])
    expect(page.get_by_role("combobox", name="LogQL query")).to_have_value(
        f'{{service_name=~"frontend|payments"}} |= "{trace_id}"'
    )
    results.locator(".log-row summary").click()
    results.get_by_role("link", name=f"Open trace {trace_id}").click()
    expect(page).to_have_url(f"{base}/traces/{trace_id}")
    expect(_done(page, ".trace-area").locator(".wf-row")).to_have_count(4)


def test_the_services_dashboard_links_a_services_traces_over_its_range(
    otel_server: tuple[str, str], page: Any
) -> None:
    from playwright.sync_api import expect

    base, trace_id = otel_server
    # The dashboard's service variable lists the services span metrics have written (on
    # their interval): before that, payments is not an option and the choice falls back.
    wait_for_data(
        base, 'traces_spanmetrics_calls_total{service="payments",span_kind="SPAN_KIND_SERVER"}'
    )
    page.goto(f"{base}/d/vigil-services?var-service=payments&from=now-30m&to=now")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
    )
    page.get_by_role("navigation", name="Dashboard links").get_by_role(
        "link", name="Traces"
    ).click()
    expect(page.get_by_label("Service")).to_have_value("payments")
    expect(page.get_by_label("Time range")).to_have_value("window")
    results = _done(page, ".traces-results")
    expect(results.locator("tbody tr")).to_have_attribute("data-trace-id", trace_id.lstrip("0"))
    assert "from=" in page.url and "to=" in page.url


def test_slow_sql_links_the_database_calls_trace(otel_server: tuple[str, str], page: Any) -> None:
    from playwright.sync_api import expect

    base, trace_id = otel_server
    page.goto(f"{base}/traces/sql")
    table = _done(page, ".sql-area")
    row = table.locator("tbody tr")
    expect(row).to_have_count(1)
    expect(row.locator("td").nth(0)).to_have_text("payments")
    expect(row.locator("td").nth(1)).to_have_text("postgresql")
    expect(row.locator("td").nth(2)).to_have_text("SELECT * FROM orders WHERE id = ?")
    row.locator("td").nth(6).get_by_role("link").click()
    expect(page).to_have_url(f"{base}/traces/{trace_id}")
    _done(page, ".trace-area")


def test_service_map_draws_the_calls(otel_server: tuple[str, str], page: Any) -> None:
    from playwright.sync_api import expect

    base, _ = otel_server
    wait_for_data(base, "rate(traces_service_graph_request_total[1h])")
    page.goto(f"{base}/traces/map")
    area = _done(page, ".map-area")
    calls = area.locator("table.map-calls tbody tr")
    pairs = {tuple(row.locator("td").all_text_contents()[:2]) for row in calls.all()}
    assert ("frontend", "payments") in pairs, pairs
    expect(area.locator('.map-node[data-service="payments"]')).to_have_class("map-node failing")


def test_with_no_traces_the_page_says_how_to_send_them(tmp_path: Path, page: Any) -> None:
    from playwright.sync_api import expect

    with vigil_server(tmp_path, "--agent.disable") as base:
        page.goto(f"{base}/traces")
        expect(page.locator(".traces-results")).to_have_attribute(
            "data-state", "empty", timeout=PATIENCE_S * 1000
        )
        howto = page.get_by_role("status").filter(has_text="No traces yet")
        expect(howto.locator("pre")).to_contain_text(
            f"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={base}/otlp/v1/traces"
        )
