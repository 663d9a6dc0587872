"""The stat, gauge, bar gauge, table and text panels in a real browser against a real vigil.

A dashboard using each panel type is imported through `POST /api/vigil/v1/dashboards`, then
opened at /d/<uid>. Values come from constant PromQL (`vector(1536)`) and from vigil's own
`up`, checked against the query API; every dashboard string that reaches the page (titles,
display names, value mappings, text panel content in Markdown and HTML) carries an XSS
payload that must show as text and never run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.ui.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

XSS = "<img src=x onerror=alert(1)>"
UID = "panels-test"

MARKDOWN = "\n".join(
    [
        "# Notes for $job",
        "",
        f"Some *emphasis*, **strong**, `code` and {XSS} as text.",
        "",
        "- [docs](https://grafana.com/docs)",
        "- [bad](javascript:alert(1))",
        "- <script>alert(1)</script>",
        "",
        '<svg onload="alert(1)"></svg> <a href="javascript:alert(1)">raw</a>',
    ]
)

HTML = "".join(
    [
        "<h2 style='color:red' onclick='alert(1)'>Html heading</h2>",
        f"<p title='t'>para {XSS.replace('<', '&lt;')}</p>",
        XSS,
        "<script>alert(1)</script>",
        '<a href="javascript:alert(1)">js link</a> ',
        '<a href="https://example.org/x" target="_blank" onmouseover="alert(1)">ok link</a>',
        '<svg onload="alert(1)"><a href="https://evil.example">svg link</a></svg>',
        '<iframe src="javascript:alert(1)"></iframe>',
        "<ul><li>item <b>bold</b></li></ul>",
        "<table><tr><td>cell</td></tr></table>",
    ]
)


def _panel(kind: str, title: str, x: int, y: int, **extra: Any) -> dict[str, Any]:
    targets = extra.pop("targets", [])
    return {
        "type": kind,
        "title": title,
        "gridPos": {"x": x, "y": y, "w": 8, "h": 6},
        "targets": targets,
        **extra,
    }


def _target(expr: str, **extra: Any) -> dict[str, Any]:
    return {"refId": extra.pop("refId", "A"), "expr": expr, **extra}


DASHBOARD: dict[str, Any] = {
    "uid": UID,
    "title": f"Panels {XSS}",
    "time": {"from": "now-15m", "to": "now"},
    "templating": {
        "list": [{"type": "custom", "name": "job", "query": "vigil", "current": {"value": "vigil"}}]
    },
    "panels": [
        _panel(
            "stat",
            f"Bytes {XSS}",
            0,
            0,
            targets=[_target("vector(1536)")],
            fieldConfig={"defaults": {"unit": "bytes"}},
        ),
        _panel(
            "stat",
            "Up mapped",
            8,
            0,
            targets=[_target('up{job="$job"}', legendFormat="{{job}}")],
            options={"textMode": "value_and_name", "colorMode": "background", "graphMode": "area"},
            fieldConfig={
                "defaults": {
                    "displayName": "Job ${__field.labels.job} " + XSS,
                    "mappings": [
                        {"type": "value", "options": {"1": {"text": "UP " + XSS, "color": "green"}}}
                    ],
                }
            },
        ),
        _panel("stat", "Empty stat", 16, 0, targets=[_target("absent_metric_for_panels_test")]),
        _panel(
            "gauge",
            "Gauge",
            0,
            6,
            targets=[_target("vector(42)")],
            fieldConfig={
                "defaults": {
                    "unit": "percent",
                    "min": 0,
                    "max": 100,
                    "thresholds": {
                        "mode": "absolute",
                        "steps": [{"value": None, "color": "green"}, {"value": 40, "color": "red"}],
                    },
                }
            },
        ),
        _panel(
            "bargauge",
            "Bars",
            8,
            6,
            targets=[
                _target(
                    'vector(10) or label_replace(vector(20), "x", "b", "", "")',
                    legendFormat="bar {{x}}",
                    instant=True,
                )
            ],
            options={"displayMode": "lcd", "orientation": "horizontal"},
            fieldConfig={"defaults": {"unit": "none", "min": 0, "max": 40}},
        ),
        _panel("gauge", "Empty gauge", 16, 6, targets=[_target("absent_metric_for_panels_test")]),
        _panel(
            "table",
            "Up table",
            0,
            12,
            targets=[_target('up{job="$job"}', format="table", instant=True)],
            fieldConfig={
                "defaults": {},
                "overrides": [
                    {
                        "matcher": {"id": "byName", "options": "Value"},
                        "properties": [
                            {"id": "unit", "value": "percentunit"},
                            {"id": "custom.cellOptions", "value": {"type": "color-background"}},
                        ],
                    },
                    {
                        "matcher": {"id": "byName", "options": "job"},
                        "properties": [{"id": "displayName", "value": "Job " + XSS}],
                    },
                ],
            },
            transformations=[{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        ),
        _panel(
            "table",
            "Reduced",
            8,
            12,
            targets=[
                _target("vector(3)", legendFormat="three"),
                _target("vector(1)", legendFormat="one", refId="B"),
            ],
            transformations=[{"id": "reduce", "options": {"reducers": ["max", "mean"]}}],
        ),
        _panel("table", "Empty table", 16, 12, targets=[_target("absent_metric_for_panels_test")]),
        _panel(
            "text",
            f"Markdown {XSS}",
            0,
            18,
            options={"mode": "markdown", "content": MARKDOWN},
        ),
        _panel("text", "Html", 8, 18, options={"mode": "html", "content": HTML}),
        # Pre-7 panels: singlestat and the old table, with their own field formats.
        _panel(
            "singlestat",
            "Single",
            16,
            18,
            targets=[_target("vector(0.253)")],
            format="percentunit",
            valueName="current",
            thresholds="0.2,0.5",
            colors=["#299c46", "#ff9830", "#d44a3a"],
            colorValue=True,
        ),
        _panel(
            "table-old",
            "Old table",
            0,
            24,
            targets=[_target("vector(2048)", legendFormat="two k")],
            transform="timeseries_aggregations",
            columns=[{"text": "Max", "value": "max"}, {"text": "Current", "value": "current"}],
            styles=[{"pattern": "/Max|Current/", "type": "number", "unit": "bytes", "decimals": 1}],
        ),
    ],
}


@pytest.fixture(scope="module")
def dashboard(server: str) -> str:
    """The test dashboard imported into the module's server; its URL."""
    answer = httpx.post(
        f"{server}/api/vigil/v1/dashboards?overwrite=true",
        json=DASHBOARD,
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return f"{server}/d/{UID}"


@pytest.fixture
def shown(page: Any, dashboard: str, no_dialogs: list[str]) -> Iterator[tuple[Any, list[str]]]:
    """The dashboard open and settled, and the dialogs it tried to open (must stay empty)."""
    from playwright.sync_api import expect

    page.goto(dashboard)
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )
    yield page, no_dialogs


def _panel_el(page: Any, title: str) -> Any:
    return page.locator(f'section.panel[data-panel-title="{title}"]')


def _query(server: str, expr: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{server}/api/v1/query", params={"query": expr}, timeout=5).json()
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_stat_formats_units_like_grafana(server: str, shown: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    assert [float(s["value"][1]) for s in _query(server, "vector(1536)")] == [1536.0]
    bytes_panel = _panel_el(page, f"Bytes {XSS}")
    expect(bytes_panel).to_have_attribute("data-panel-state", "rendered")
    # The bytes formatter gives "1.50 KiB" (valueFormats.ts); Grafana's display processor then
    # drops the trailing zero of automatic decimals (displayProcessor.ts), as the stat shows.
    expect(bytes_panel.locator(".vp-stat-value")).to_have_text("1.5 KiB")


def test_stat_mapping_and_display_name_render_as_text(
    server: str, shown: tuple[Any, list[str]]
) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    assert {s["value"][1] for s in _query(server, 'up{job="vigil"}')} == {"1"}
    panel = _panel_el(page, "Up mapped")
    expect(panel).to_have_attribute("data-panel-state", "rendered")
    expect(panel.locator(".vp-stat-value")).to_have_text("UP " + XSS)
    expect(panel.locator(".vp-stat-title")).to_have_text("Job vigil " + XSS)
    expect(panel.locator(".vp-stat.vp-bg")).to_have_count(1)
    expect(panel.locator("svg.vp-spark path")).to_have_count(2)
    expect(page.locator("main img")).to_have_count(0)


def test_empty_queries_show_no_data(shown: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    for title in ("Empty stat", "Empty gauge", "Empty table"):
        panel = _panel_el(page, title)
        expect(panel).to_have_attribute("data-panel-state", "nodata")
        expect(panel).to_contain_text("No data")


def test_gauge_draws_value_and_threshold_colour(shown: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    panel = _panel_el(page, "Gauge")
    expect(panel).to_have_attribute("data-panel-state", "rendered")
    expect(panel.locator("text.vp-gauge-value")).to_have_text("42%")
    # Track, two threshold bands, the value arc; the value is past 40, so red.
    expect(panel.locator("svg.vp-gauge-svg path")).to_have_count(4)
    fill = panel.locator("text.vp-gauge-value").evaluate("e => getComputedStyle(e).fill")
    assert fill == "rgb(242, 73, 92)"


def test_bar_gauge_one_bar_per_series(shown: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    panel = _panel_el(page, "Bars")
    expect(panel).to_have_attribute("data-panel-state", "rendered")
    expect(panel.locator(".vp-bar-name")).to_have_text(["bar", "bar b"])
    expect(panel.locator(".vp-bar-value")).to_have_text(["10", "20"])
    expect(panel.locator(".vp-lcd-cell").first).to_be_visible()


def test_table_rows_units_colours_and_sorting(server: str, shown: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    series = _query(server, 'up{job="vigil"}')
    panel = _panel_el(page, "Up table")
    expect(panel).to_have_attribute("data-panel-state", "rendered")
    headers = panel.locator("thead th")
    expect(headers).to_have_text(["__name__", "instance", "Job " + XSS, "Value"])
    expect(panel.locator("tbody tr")).to_have_count(len(series))
    first = panel.locator("tbody tr").first.locator("td")
    expect(first.nth(0)).to_have_text(series[0]["metric"]["__name__"])
    expect(first.nth(1)).to_have_text(series[0]["metric"]["instance"])
    expect(first.nth(3)).to_have_text("100%")
    background = first.nth(3).evaluate("e => getComputedStyle(e).backgroundColor")
    assert background != "rgba(0, 0, 0, 0)"
    # Sorting by keyboard: focus the header button, Enter sorts ascending, again descending.
    button = headers.nth(3).locator("button")
    button.focus()
    page.keyboard.press("Enter")
    expect(headers.nth(3)).to_have_attribute("aria-sort", "ascending")
    page.keyboard.press("Enter")
    expect(headers.nth(3)).to_have_attribute("aria-sort", "descending")

    reduced = _panel_el(page, "Reduced")
    expect(reduced.locator("thead th")).to_have_text(["Field", "Max", "Mean"])
    expect(reduced.locator("tbody tr")).to_have_count(2)
    expect(reduced.locator("tbody tr").first.locator("td")).to_have_text(["three", "3", "3"])


def test_text_panels_keep_markup_inert(shown: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    md = _panel_el(page, f"Markdown {XSS}")
    expect(md).to_have_attribute("data-panel-state", "rendered")
    expect(md.locator("h1")).to_have_text("Notes for vigil")
    expect(md.locator("em")).to_have_text("emphasis")
    expect(md).to_contain_text(f"and {XSS} as text.")
    expect(md).to_contain_text("<script>alert(1)</script>")
    expect(md.locator('a[href="https://grafana.com/docs"]')).to_have_text("docs")
    expect(md.locator("a", has_text="bad")).to_have_count(0)
    expect(md).to_contain_text("bad")

    html = _panel_el(page, "Html")
    expect(html).to_have_attribute("data-panel-state", "rendered")
    expect(html.locator(".vp-text h2")).to_have_text("Html heading")
    expect(html.locator("p")).to_have_text(f"para {XSS}")
    expect(html.locator('a[href="https://example.org/x"]')).to_have_text("ok link")
    expect(html.locator("li b")).to_have_text("bold")
    expect(html.locator("td")).to_have_text("cell")
    expect(html).to_contain_text("js link")
    expect(html).to_contain_text("alert(1)")  # the script element's text, shown as text
    for selector in (
        "script",
        "img",
        "svg",
        "iframe",
        "[onclick]",
        "[onmouseover]",
        "[style]",
        "[target]",
    ):
        expect(html.locator(f".vp-text {selector}")).to_have_count(0)
    for panel in (md, html):
        hrefs = panel.locator(".vp-text a[href]").evaluate_all(
            "as => as.map(a => a.getAttribute('href'))"
        )
        assert all(re.match(r"^(https?://|/)", h) for h in hrefs), hrefs
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "panels.png"), full_page=True)


def test_legacy_singlestat_and_table(shown: tuple[Any, list[str]]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    single = _panel_el(page, "Single")
    expect(single).to_have_attribute("data-panel-state", "rendered")
    value = single.locator(".vp-stat-value")
    expect(value).to_have_text("25.3%")
    # 0.253 is past the first threshold (0.2): the second colour.
    assert value.evaluate("e => getComputedStyle(e).color") == "rgb(255, 152, 48)"
    old = _panel_el(page, "Old table")
    expect(old.locator("thead th")).to_have_text(["Metric", "Max", "Current"])
    expect(old.locator("tbody td")).to_have_text(["two k", "2.0 KiB", "2.0 KiB"])
