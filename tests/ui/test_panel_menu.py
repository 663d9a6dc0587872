"""A dashboard panel's menu, as Grafana's: View (full screen, in the URL as viewPanel), Open in
Query (the panel's PromQL, variables filled in, on the Query page), Inspect → Data (the returned
series as a table) and Query (the PromQL after interpolation, the request and its timing), and
Copy link. The dashboard is served by Playwright's request routing; its queries run against the
real vigil server."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

pytestmark = pytest.mark.slow

UID = "menu-test"
XSS = "<img src=x onerror=alert(1)>"
EXPR = 'label_replace(vector($n), "name", "$name", "", "")'
DONE = 'label_replace(vector(3), "name", "' + XSS + '", "", "")'

DASHBOARD: dict[str, Any] = {
    "uid": UID,
    "title": "Menu",
    "time": {"from": "now-15m", "to": "now"},
    "templating": {
        "list": [
            {"type": "custom", "name": "n", "query": "3", "current": {"value": "3", "text": "3"}},
            {"type": "constant", "name": "name", "query": XSS},
        ]
    },
    "panels": [
        {
            "id": 7,
            "type": "timeseries",
            "title": "Three",
            "gridPos": {"x": 0, "y": 0, "w": 8, "h": 5},
            "targets": [{"refId": "A", "expr": EXPR, "legendFormat": "{{name}}"}],
        },
        {
            "id": 8,
            "type": "stat",
            "title": "Other",
            "gridPos": {"x": 8, "y": 0, "w": 8, "h": 5},
            "targets": [{"refId": "A", "expr": "vector(4)"}],
        },
    ],
}


@pytest.fixture
def shown(page: Any, server: str, no_dialogs: list[str]) -> Any:
    from playwright.sync_api import expect

    body = json.dumps({"status": "success", "data": {"uid": UID, "dashboard": DASHBOARD}})
    page.route(
        f"**/api/vigil/v1/dashboards/{UID}",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    page.goto(f"{server}/d/{UID}")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )
    expect(_panel(page)).to_have_attribute("data-panel-state", "rendered")
    return page


def _panel(page: Any) -> Any:
    return page.locator('.dash-grid section.panel[data-panel-title="Three"]')


def _menu(page: Any, item: str) -> None:
    _panel(page).get_by_role("button", name="Panel menu").click()
    page.get_by_role("menuitem", name=item).click()


def test_inspect_shows_the_interpolated_query_its_request_and_the_data(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _menu(page, "Inspect query")
    dialog = page.get_by_role("dialog", name="Inspect: Three")
    expect(dialog).to_be_visible()
    query = dialog.locator('.inspect-query[data-ref-id="A"]')
    expect(query.locator(".inspect-expr")).to_have_text(DONE)
    request = query.locator(".inspect-request")
    expect(request).to_contain_text("POST /api/v1/query_range")
    form = parse_qs(request.inner_text().split("\n", 1)[1])
    assert form["query"] == [DONE]
    assert float(form["end"][0]) - float(form["start"][0]) >= 15 * 60 - float(form["step"][0])
    expect(query.locator(".inspect-time")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(query).to_contain_text("1 series")

    dialog.get_by_role("tab", name="Data").click()
    table = dialog.locator("table.inspect-data")
    expect(table.locator("thead th")).to_have_text(["Time", XSS])
    values = table.locator("tbody td.num").all_inner_texts()
    assert values and set(values) <= {"3", ""} and "3" in values
    assert dialog.locator("img").count() == 0
    dialog.get_by_role("button", name="Close").click()
    expect(page.locator("dialog")).to_have_count(0)


def test_open_in_query_runs_the_panel_query_there(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _menu(page, "Open in Query")
    expect(page).to_have_url(re.compile(r"/query\?"))
    params = parse_qs(urlparse(page.url).query)
    assert params["g0.expr"] == [DONE]
    assert params["g0.range_input"] == ["15m"]
    panel = page.locator(".query-panel")
    expect(panel).to_have_attribute("data-query-state", "done")
    expect(page.get_by_role("combobox", name="Expression")).to_have_value(DONE)


def test_view_shows_the_panel_alone_and_escape_returns(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    small = _panel(page).locator("canvas").bounding_box()
    assert small is not None
    _menu(page, "View")
    viewer = page.locator(".panel-viewer")
    expect(viewer.locator("section.panel")).to_have_attribute("data-panel-state", "rendered")
    expect(page).to_have_url(re.compile(r"viewPanel=7"))
    big = viewer.locator("canvas").bounding_box()
    assert big is not None and big["width"] > 2 * small["width"]
    page.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    expect(page).not_to_have_url(re.compile(r"viewPanel"))
    # Back returns to the full-screen view: it is a history entry, and the URL opens it.
    page.go_back()
    expect(page.locator(".panel-viewer section.panel")).to_have_attribute(
        "data-panel-state", "rendered", timeout=30_000
    )


def test_copy_link_puts_a_link_to_the_panel_on_the_clipboard(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    _menu(page, "Copy link")
    expect(_panel(page).locator(".panel-copied")).to_have_text("Link copied")
    link = page.evaluate("navigator.clipboard.readText()")
    url = urlparse(link)
    params = parse_qs(url.query)
    assert url.path == f"/d/{UID}"
    assert params["viewPanel"] == ["7"]
    assert int(params["to"][0]) - int(params["from"][0]) == 15 * 60_000
    page.goto(link)
    expect(page.locator(".panel-viewer section.panel")).to_have_attribute(
        "data-panel-state", "rendered", timeout=30_000
    )
