"""The Traces page's service map, drawn from the service-graph series in vigil's TSDB (pushed
here by remote write as span metrics would write them), and the Logs page over the fixed
window a trace's "Logs for this trace" link asks for.

One vigil runs for the module.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import cramjam
import httpx
import pytest

from tests.conftest import PATIENCE_S
from tests.ui.conftest import vigil_server
from vigil.remote.prompb import Label, Sample, TimeSeries, WriteRequest

pytestmark = pytest.mark.slow

# (metric, client, server, increase over the minute pushed)
GRAPH = [
    ("traces_service_graph_request_total", "web", "shop", 120.0),
    ("traces_service_graph_request_total", "shop", "postgres", 40.0),
    ("traces_service_graph_request_failed_total", "shop", "postgres", 10.0),
    ("traces_service_graph_request_total", "cron", "shop", 6.0),
]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _graph_write() -> bytes:
    now_ms = int(time.time() * 1000)
    series = [
        TimeSeries(
            labels=[
                Label(name="__name__", value=name),
                Label(name="client", value=client),
                Label(name="connection_type", value=""),
                Label(name="server", value=server),
            ],
            samples=[
                Sample(value=0.0, timestamp=now_ms - 60_000),
                Sample(value=increase, timestamp=now_ms),
            ],
        )
        for name, client, server, increase in GRAPH
    ]
    return bytes(cramjam.snappy.compress_raw(WriteRequest(timeseries=series).SerializeToString()))


@pytest.fixture(scope="module")
def traces_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with vigil_server(
        tmp_path_factory.mktemp("vigil-traces"),
        "--agent.disable",
        "--web.enable-remote-write-receiver",
    ) as base:
        pushed = httpx.post(f"{base}/api/v1/write", content=_graph_write(), timeout=30)
        assert pushed.status_code == 204, pushed.text
        yield base


def _done(page: Any, area: str) -> Any:
    from playwright.sync_api import expect

    located = page.locator(area)
    expect(located).to_have_attribute("data-state", "done", timeout=PATIENCE_S * 1000)
    return located


def test_service_map_lays_callers_left_and_marks_failing_calls(
    traces_server: str, page: Any
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{traces_server}/traces/map")
    area = _done(page, ".map-area")
    nodes = area.locator(".map-node")
    expect(nodes).to_have_count(4)
    x = nodes.evaluate_all(
        "ns => Object.fromEntries(ns.map(n => "
        "[n.getAttribute('data-service'), Number(n.querySelector('rect').getAttribute('x'))]))"
    )
    assert x["cron"] == x["web"] < x["shop"] < x["postgres"], x
    expect(area.locator(".map-node.failing")).to_have_attribute("data-service", "postgres")
    expect(area.locator(".map-edge")).to_have_count(3)
    expect(area.locator(".map-edge.failing text")).to_contain_text("25% err")
    rows = area.locator("table.map-calls tbody tr")
    expect(rows).to_have_count(3)
    calls = [row.locator("td").all_text_contents() for row in rows.all()]
    assert [c[:2] for c in calls] == [["web", "shop"], ["shop", "postgres"], ["cron", "shop"]]
    assert [c[4] for c in calls] == ["0%", "25%", "0%"]
    expect(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Traces")
    ).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("link", name="Service map")).to_have_attribute("aria-current", "page")


def test_an_empty_service_map_says_where_it_comes_from(tmp_path: Any, page: Any) -> None:
    from playwright.sync_api import expect

    with vigil_server(tmp_path, "--agent.disable") as base:
        page.goto(f"{base}/traces/map?range=15m")
        area = page.locator(".map-area")
        expect(area).to_have_attribute("data-state", "empty", timeout=PATIENCE_S * 1000)
        expect(area.get_by_role("status")).to_contain_text("traces_service_graph_request_total")
        expect(page.get_by_label("Time range")).to_have_value("15m")


def test_logs_page_opens_on_a_traces_window(traces_server: str, page: Any) -> None:
    """The window is two hours back, outside every preset range that ends now."""
    from playwright.sync_api import expect

    when_ns = time.time_ns() - 7200 * 10**9
    stream = {
        "stream": {"service_name": "shop"},
        "values": [
            [str(when_ns), f"checkout failed trace_id={TRACE_ID}"],
            [str(when_ns + 10**9), "unrelated"],
        ],
    }
    pushed = httpx.post(f"{traces_server}/loki/api/v1/push", json={"streams": [stream]}, timeout=30)
    assert pushed.status_code == 204, pushed.text
    from_ms = when_ns // 10**6 - 60_000
    query = f'{{service_name="shop"}} |= "{TRACE_ID}"'
    page.goto(
        f"{traces_server}/logs?"
        + urlencode({"query": query, "from": from_ms, "to": from_ms + 120_000})
    )
    results = _done(page, ".logs-results")
    expect(results.locator(".log-line")).to_have_text([f"checkout failed trace_id={TRACE_ID}"])
    expect(page.get_by_label("Time range")).to_have_value("window")
    page.get_by_label("Time range").select_option("1h")
    expect(results).to_have_attribute("data-state", "empty")
    assert "from=" not in page.url and "range=1h" in page.url
