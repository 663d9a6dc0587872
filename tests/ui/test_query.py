"""The Query page: results equal the API's, autocomplete comes from the API, keyboard-only use.

Each test opens a Prometheus-style URL (`g0.expr`, `g0.tab`, `g0.moment_input`, ...) with an
explicit time, then asks `/api/v1/query` or `/api/v1/query_range` the same question, so the page
is checked against the server's own answer rather than hard-coded values.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.ui.conftest import ARTIFACTS, start_server, wait_for_data

pytestmark = pytest.mark.slow

# Several series on any host: one per CPU and mode, from vigil's own host collectors.
MULTI = "node_cpu_seconds_total"
EVIL = "<img src=x onerror=alert(1)>"


def series_name(metric: dict[str, str]) -> str:
    """dom.ts's seriesName(): `name{k="v", ...}` with JSON-quoted values."""
    name = metric.get("__name__", "")
    labels = [
        f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in metric.items() if k != "__name__"
    ]
    return f"{name}{{{', '.join(labels)}}}" if labels or not name else name


def api(base: str, path: str, **params: Any) -> Any:
    body = httpx.get(f"{base}{path}", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return body["data"]


def query_url(base: str, **panel: str) -> str:
    return f"{base}/query?" + urlencode({f"g0.{k}": v for k, v in panel.items()})


def now_with_data(base: str, expr: str = MULTI) -> float:
    """The current time once `expr` has samples: an evaluation time both the page and the API see data at."""
    wait_for_data(base, expr)
    return round(time.time(), 3)


def table_rows(page: Any) -> list[tuple[str, str]]:
    rows = page.locator(".query-panel table.query-table tbody tr")
    return [
        (row.locator("td").nth(0).inner_text(), row.locator("td").nth(1).inner_text())
        for row in rows.all()
    ]


def test_table_rows_equal_the_api_at_the_same_time(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    at = now_with_data(server)
    page.goto(query_url(server, expr=MULTI, tab="1", moment_input=str(at)))
    panel = page.locator(".query-panel")
    expect(panel).to_have_attribute("data-query-state", "done")
    want = api(server, "/api/v1/query", query=MULTI, time=str(at))
    assert want["resultType"] == "vector" and len(want["result"]) > 1
    expected = [(series_name(s["metric"]), s["value"][1]) for s in want["result"]]
    assert table_rows(page) == expected
    expect(panel.get_by_role("tabpanel").locator(".query-stats")).to_contain_text(
        f"Result series: {len(expected)}"
    )
    expect(panel.get_by_role("tabpanel").locator(".query-stats")).to_contain_text("Load time:")


@pytest.mark.parametrize(
    "expr",
    [
        pytest.param("scalar(count(up)) * 2", id="scalar"),
        pytest.param('up{job="no-such-job"}', id="empty"),
    ],
)
def test_table_shows_scalars_and_empty_results(server: str, page: Any, expr: str) -> None:
    from playwright.sync_api import expect

    at = now_with_data(server, "up")
    page.goto(query_url(server, expr=expr, tab="table", moment_input=str(at)))
    want = api(server, "/api/v1/query", query=expr, time=str(at))
    panel = page.locator(".query-panel")
    if want["resultType"] == "scalar":
        expect(panel).to_have_attribute("data-query-state", "done")
        assert table_rows(page) == [("scalar", want["result"][1])]
    else:
        assert want["result"] == []
        expect(panel).to_have_attribute("data-query-state", "empty")
        expect(panel.get_by_role("status")).to_have_text("Empty query result")


def test_graph_draws_one_series_per_api_series(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    end = round(now_with_data(server))
    page.goto(query_url(server, expr=MULTI, tab="0", range_input="5m", end_input=str(end)))
    panel = page.locator(".query-panel")
    expect(panel).to_have_attribute("data-query-state", "done")
    # The page's automatic step for 5m is Prometheus's max(floor(300 / 250), 1) = 1 s.
    want = api(server, "/api/v1/query_range", query=MULTI, start=end - 300, end=end, step=1)
    names = [series_name(s["metric"]) for s in want["result"]]
    assert len(names) > 1
    # uPlot's legend: the first row is the time axis, then one row per series.
    legend = panel.locator(".u-legend .u-series .u-label")
    expect(legend).to_have_count(len(names) + 1)
    assert legend.all_inner_texts()[1:] == names
    expect(panel.get_by_role("tabpanel").locator(".query-stats")).to_contain_text(
        f"Result series: {len(names)}"
    )
    # Columns of the plot canvas holding a pixel in a series colour (grid and axes are grey):
    # the lines must span the part of the window the API has data for, however little data a
    # busy machine's server has scraped by now.
    drawn = page.evaluate(
        """() => {
          const canvas = document.querySelector('.query-chart canvas');
          const ctx = canvas.getContext('2d');
          const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const columns = new Set();
          for (let i = 0; i < data.length; i += 4) {
            const [r, g, b, a] = [data[i], data[i + 1], data[i + 2], data[i + 3]];
            if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 40) {
              columns.add((i / 4) % canvas.width);
            }
          }
          return { columns: columns.size, width: canvas.width };
        }"""
    )
    times = [float(t) for s in want["result"] for t, _ in s["values"]]
    covered = (max(times) - min(times)) / 300
    assert drawn["columns"] >= max(1, 0.5 * covered * drawn["width"]), (drawn, covered)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "query-graph.png"), full_page=True)


def test_stacked_toggle_and_range_buttons_write_the_url(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(query_url(server, expr="up", tab="graph", range_input="1h"))
    panel = page.locator(".query-panel")
    expect(panel).to_have_attribute("data-query-state", "done")
    panel.get_by_role("button", name="Longer range").click()
    expect(panel.get_by_role("textbox", name="Range")).to_have_value("2h")
    panel.get_by_role("button", name="Shorter range").click()
    panel.get_by_role("button", name="Shorter range").click()
    expect(panel.get_by_role("textbox", name="Range")).to_have_value("30m")
    panel.get_by_role("checkbox", name="Stacked").check()
    expect(page).to_have_url(
        re.compile(r"g0\.range_input=30m.*g0\.stacked=1|g0\.stacked=1.*g0\.range_input=30m")
    )
    expect(panel).to_have_attribute("data-query-state", "done")


def test_panels_from_the_url_run_and_can_be_added_and_removed(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    at = now_with_data(server)
    exprs = ["up", f"count({MULTI}) by (mode)"]
    params = {
        f"g{i}.{k}": v
        for i, e in enumerate(exprs)
        for k, v in [("expr", e), ("tab", "1"), ("moment_input", str(at))]
    }
    page.goto(f"{server}/query?{urlencode(params)}")
    panels = page.locator(".query-panel")
    expect(panels).to_have_count(2)
    for i, expr in enumerate(exprs):
        expect(panels.nth(i)).to_have_attribute("data-query-state", "done")
        want = api(server, "/api/v1/query", query=expr, time=str(at))
        expected = [(series_name(s["metric"]), s["value"][1]) for s in want["result"]]
        rows = panels.nth(i).locator("table.query-table tbody tr")
        assert [tuple(r.locator("td").all_inner_texts()) for r in rows.all()] == expected

    page.get_by_role("button", name="Add query").click()
    expect(panels).to_have_count(3)
    expect(page.get_by_role("region", name="Query 3").get_by_role("combobox")).to_be_focused()
    page.keyboard.type("vector(1)")
    page.keyboard.press("Enter")
    expect(panels.nth(2)).to_have_attribute("data-query-state", "done")
    expect(page).to_have_url(re.compile(r"g2\.expr=vector%281%29"))
    page.get_by_role("region", name="Query 1").get_by_role("button", name="Remove query").click()
    expect(panels).to_have_count(2)
    expect(page).not_to_have_url(re.compile(r"g2\."))
    expect(page).to_have_url(re.compile(r"g0\.expr=count"))


def test_autocomplete_offers_metric_names_and_label_values(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(server + "/query")
    editor = page.get_by_role("combobox", name="Expression")
    prefix = "node_cpu_"
    editor.press_sequentially(prefix)
    expect(editor).to_have_attribute("aria-expanded", "true")
    metrics = [m for m in api(server, "/api/v1/label/__name__/values") if m.startswith(prefix)]
    assert MULTI in metrics
    options = page.get_by_role("listbox").locator(".completion.metric .completion-text")
    expect(options).to_have_text(metrics)

    editor.fill("")
    editor.press_sequentially(MULTI + '{mode="')
    values = api(server, "/api/v1/label/mode/values", **{"match[]": MULTI})
    assert len(values) > 1
    expect(page.get_by_role("listbox").locator(".completion-text")).to_have_text(values)
    editor.press("ArrowDown")
    expect(editor).to_have_attribute("aria-activedescendant", re.compile(r"-opt-1$"))
    editor.press("Enter")
    expect(editor).to_have_value(f'{MULTI}{{mode="{values[1]}"')
    expect(editor).to_have_attribute("aria-expanded", "false")

    # Label names inside the braces, for the metric before them.
    editor.press_sequentially(",")
    labels = [n for n in api(server, "/api/v1/labels", **{"match[]": MULTI}) if n != "__name__"]
    expect(page.get_by_role("listbox").locator(".completion-text")).to_have_text(labels)
    editor.press("Escape")
    expect(page.get_by_role("listbox")).to_be_hidden()


@pytest.mark.parametrize("tab", ["table", "graph"])
def test_an_api_error_is_shown_as_its_message(server: str, browser: Any, tab: str) -> None:
    """Its own page: Chromium logs the API's 400 as a console error, which `page` would fail on."""
    from playwright.sync_api import expect

    expr = "rate(up[5m]"
    # The instant query names its parameter in the message, the range query does not.
    path, params = (
        ("query", {})
        if tab == "table"
        else ("query_range", {"start": "0", "end": "60", "step": "15"})
    )
    response = httpx.get(f"{server}/api/v1/{path}", params={"query": expr, **params}).json()
    assert response["status"] == "error"
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page.goto(query_url(server, expr=expr, tab=tab))
        panel = page.locator(".query-panel")
        expect(panel).to_have_attribute("data-query-state", "error")
        expect(panel.get_by_role("alert")).to_have_text(response["error"])
    finally:
        context.close()
    assert [e for e in errors if "status of 400" not in e] == []


def test_keyboard_only_query_from_nav_to_table_and_graph(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    keys = page.keyboard
    page.goto(server + "/query")
    editor = page.get_by_role("combobox", name="Expression")
    expect(editor).to_be_focused()
    keys.press("Shift+Tab")
    expect(page.get_by_label("Time zone")).to_be_focused()
    keys.press("Shift+Tab")
    expect(page.get_by_role("link", name="Status")).to_be_focused()
    keys.press("Tab")
    keys.press("Tab")
    expect(editor).to_be_focused()

    keys.type("node_cpu_seconds_tot")
    expect(
        page.get_by_role("listbox", name="Completions")
        .get_by_role("option")
        .first.locator(".completion-text")
    ).to_have_text(MULTI)
    keys.press("Enter")
    expect(editor).to_have_value(MULTI)
    keys.type('{mode="idl')
    expect(page.get_by_role("option", name="idle")).to_be_visible()
    keys.press("Enter")
    keys.type("}")
    expect(editor).to_have_value(f'{MULTI}{{mode="idle"}}')
    keys.press("Enter")

    panel = page.locator(".query-panel")
    expect(panel).to_have_attribute("data-query-state", "done")
    want = api(server, "/api/v1/query", query=f'{MULTI}{{mode="idle"}}')
    names = sorted(series_name(s["metric"]) for s in want["result"])
    assert sorted(name for name, _ in table_rows(page)) == names

    # Tab to the selected tab, switch with an arrow key, then lengthen the range.
    table_tab = panel.get_by_role("tab", name="Table")
    for _ in range(5):
        keys.press("Tab")
        if table_tab.evaluate("el => el === document.activeElement"):
            break
    expect(table_tab).to_be_focused()
    assert table_tab.evaluate("el => getComputedStyle(el).outlineStyle") != "none"
    keys.press("ArrowRight")
    graph_tab = panel.get_by_role("tab", name="Graph")
    expect(graph_tab).to_be_focused()
    expect(graph_tab).to_have_attribute("aria-selected", "true")
    expect(panel).to_have_attribute("data-query-state", "done")
    expect(panel.locator(".u-legend .u-series")).to_have_count(len(names) + 1)
    for _ in range(3):  # Shorter range, the range input, Longer range
        keys.press("Tab")
    expect(panel.get_by_role("button", name="Longer range")).to_be_focused()
    keys.press("Enter")
    expect(panel.get_by_role("textbox", name="Range")).to_have_value("2h")
    expect(page).to_have_url(re.compile(r"g0\.tab=0.*g0\.range_input=2h"))


def test_label_values_render_as_text(
    server: str, page: Any, tmp_path: Path, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    target = server.removeprefix("http://")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 15s\n"
        "scrape_configs:\n  - job_name: evil\n    static_configs:\n"
        f"      - targets: ['{target}']\n        labels: {{evil: {json.dumps(EVIL)}}}\n"
    )
    proc, base = start_server(tmp_path / "data", f"--config.file={config}")
    try:
        expr = 'up{evil!=""}'
        at = str(now_with_data(base, expr))
        for tab in ("1", "0"):
            page.goto(query_url(base, expr=expr, tab=tab, range_input="1m", end_input=at))
            panel = page.locator(".query-panel")
            expect(panel).to_have_attribute("data-query-state", "done")
            expect(page.locator("main img")).to_have_count(0)
        expect(page.locator(".u-legend .u-series .u-label").nth(1)).to_contain_text(
            json.dumps(EVIL)
        )
        page.get_by_role("tab", name="Table").click()
        expect(page.locator("td.series-cell")).to_contain_text(f"evil={json.dumps(EVIL)}")
        expect(page.locator("main img")).to_have_count(0)
    finally:
        proc.terminate()
        proc.wait(30)
    assert no_dialogs == []
