"""Hover tooltips on time-series charts, as Grafana's timeseries and graph panels show them.

A dashboard with one panel per tooltip mode is imported through `POST /api/vigil/v1/dashboards`;
the test hovers each plot (uPlot's `.u-over`) and reads the tooltip: the local time, per series
the name as literal text and the value in the panel's unit, the rows the mode allows, in the
order its sort asks for. Every tooltip element is made by the page, so they are found with
`.chart-tooltip` and the one on show is the visible one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.ui.conftest import ARTIFACTS

pytestmark = pytest.mark.slow

UID = "tooltip-test"
XSS = "<img src=x onerror=alert(1)>"
TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
MANY = 25


def _target(ref: str, expr: str, legend: str) -> dict[str, Any]:
    return {"refId": ref, "expr": expr, "legendFormat": legend}


def _ts(title: str, x: int, y: int, targets: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "gridPos": {"x": x, "y": y, "w": 12, "h": 8},
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": "bytes"}, "overrides": extra.pop("overrides", [])},
        **extra,
    }


TWO = [_target("A", "vector(1536)", "small"), _target("B", "vector(3072)", "big")]
TABLE_LEGEND = {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull"]}

DASHBOARD: dict[str, Any] = {
    "uid": UID,
    "title": "Tooltips",
    "time": {"from": "now-30m", "to": "now"},
    "refresh": "",
    "panels": [
        _ts(
            "Single",
            0,
            0,
            TWO,
            options={"tooltip": {"mode": "single", "sort": "none"}, "legend": TABLE_LEGEND},
        ),
        _ts(
            "Multi",
            12,
            0,
            [
                *TWO,
                _target("C", f'label_replace(vector(1), "name", "{XSS}", "", "")', "{{name}}"),
                _target("D", "vector(5)", "secret"),
            ],
            options={"tooltip": {"mode": "multi", "sort": "desc"}, "legend": TABLE_LEGEND},
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "secret"},
                    "properties": [
                        {
                            "id": "custom.hideFrom",
                            "value": {"tooltip": True, "viz": False, "legend": False},
                        }
                    ],
                }
            ],
        ),
        _ts(
            "None",
            0,
            8,
            TWO,
            options={"tooltip": {"mode": "none"}, "legend": TABLE_LEGEND},
        ),
        # No options.tooltip at all: Grafana's default for timeseries is "single".
        _ts("Default", 12, 8, TWO),
        {
            "type": "graph",
            "title": "Legacy",
            "gridPos": {"x": 0, "y": 16, "w": 12, "h": 8},
            "targets": [*TWO, _target("C", "vector(7)", "hushed")],
            "tooltip": {"shared": True, "sort": 1, "value_type": "individual"},
            "seriesOverrides": [{"alias": "hushed", "hideTooltip": True}],
            "yaxes": [{"format": "bytes"}, {"format": "short"}],
            "legend": {"show": True, "values": True, "alignAsTable": True, "current": True},
        },
        _ts(
            "Many",
            12,
            16,
            [_target(f"S{i}", f"vector({i})", f"s{i}") for i in range(MANY)],
            options={
                "tooltip": {"mode": "multi", "sort": "none", "hideZeros": True},
                "legend": TABLE_LEGEND,
            },
        ),
    ],
}


@pytest.fixture(scope="module")
def dashboard(server: str) -> str:
    answer = httpx.post(
        f"{server}/api/vigil/v1/dashboards?overwrite=true", json=DASHBOARD, timeout=10
    )
    assert answer.status_code == 200, answer.text
    return f"{server}/d/{UID}"


@pytest.fixture
def shown(page: Any, dashboard: str, no_dialogs: list[str]) -> Iterator[Any]:
    """The dashboard open and settled; fails if anything opened a dialog (alert from markup)."""
    from playwright.sync_api import expect

    page.goto(dashboard)
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )
    for title in ("Single", "Multi", "None", "Default", "Legacy", "Many"):
        expect(_panel(page, title)).to_have_attribute("data-panel-state", "rendered")
    yield page


def _panel(page: Any, title: str) -> Any:
    return page.locator(f'section.panel[data-panel-title="{title}"]')


def _hover(page: Any, title: str, fx: float = 0.5, fy: float = 0.5) -> None:
    """The mouse over the panel's plot at fractions of its width and height."""
    over = _panel(page, title).locator(".u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)


def _tip(page: Any) -> Any:
    return page.locator(".chart-tooltip:visible")


def _rows(page: Any) -> list[tuple[str, str]]:
    rows = _tip(page).locator(".tt-row")
    names = rows.locator(".tt-name").all_inner_texts()
    values = rows.locator(".tt-value").all_inner_texts()
    return list(zip(names, values, strict=True))


def test_single_mode_shows_the_nearest_series(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _hover(page, "Single", 0.5, 0.05)
    expect(_tip(page)).to_have_count(1)
    assert TIME.match(_tip(page).locator(".tt-time").inner_text())
    assert _rows(page) == [("big", "3 KiB")]
    # Near the lower line the other series is the one shown, formatted like the stat/axis.
    _hover(page, "Single", 0.5, 0.95)
    expect(_tip(page).locator(".tt-name")).to_have_text(["small"])
    assert _rows(page) == [("small", "1.5 KiB")]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "chart-tooltip-single.png"))
    # Off the plot the tooltip goes.
    page.mouse.move(2, 2)
    expect(_tip(page)).to_have_count(0)


def test_multi_mode_sorted_names_as_text_hidden_left_out(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _hover(page, "Multi", 0.5, 0.5)
    expect(_tip(page).locator(".tt-row")).to_have_count(3)
    # sort "desc" by value; "secret" has hideFrom.tooltip; the label value is literal text.
    assert _rows(page) == [("big", "3 KiB"), ("small", "1.5 KiB"), (XSS, "1 B")]
    assert _tip(page).locator("img").count() == 0
    expect(_tip(page).locator(".tt-more")).to_be_hidden()
    # A series switched off in the legend leaves the tooltip too.
    _panel(page, "Multi").get_by_role("button", name="small").click()
    _hover(page, "Multi", 0.4, 0.5)
    expect(_tip(page).locator(".tt-row")).to_have_count(2)
    assert [name for name, _ in _rows(page)] == ["big", XSS]
    page.mouse.move(2, 2)
    expect(_tip(page)).to_have_count(0)


def test_none_mode_shows_no_tooltip(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _hover(page, "Single", 0.5, 0.5)
    expect(_tip(page)).to_have_count(1)
    _hover(page, "None", 0.5, 0.5)
    expect(_tip(page)).to_have_count(0)
    # Leaving "Single" for "None" hid the first tooltip; "None" never made one.
    assert page.locator(".chart-tooltip").count() == 1


def test_default_mode_is_single(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _hover(page, "Default", 0.5, 0.05)
    expect(_tip(page).locator(".tt-row")).to_have_count(1)
    assert _rows(page) == [("big", "3 KiB")]


def test_legacy_graph_shared_tooltip_sorted_ascending(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _hover(page, "Legacy", 0.5, 0.5)
    expect(_tip(page).locator(".tt-row")).to_have_count(2)
    # The legacy axis formatter is the one the legend's "Current" column shows.
    current = _panel(page, "Legacy").locator(".legend-table tbody tr td.num")
    small, big, _hushed = current.all_inner_texts()
    assert _rows(page) == [("small", small), ("big", big)]
    assert small.startswith("1.5") and small.endswith(" KiB")


def test_many_series_are_capped_and_zeros_hidden(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    _hover(page, "Many", 0.5, 0.5)
    expect(_tip(page).locator(".tt-row")).to_have_count(20)
    # s0 is 0 and the panel sets hideZeros; the other MANY - 1 series fill 20 rows and the rest.
    expect(_tip(page).locator(".tt-more")).to_have_text(f"+{MANY - 1 - 20} more")
    assert _rows(page)[:2] == [("s1", "1 B"), ("s2", "2 B")]


def test_tooltip_stays_in_viewport_and_is_removed_with_the_chart(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    viewport = page.viewport_size
    assert viewport is not None
    # Near the right edge of a right-hand panel the tooltip flips to the cursor's left.
    _hover(page, "Many", 0.99, 0.5)
    tip = _tip(page)
    expect(tip).to_have_count(1)
    box = tip.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"]
    assert tip.evaluate("el => getComputedStyle(el).pointerEvents") == "none"
    # Leaving the dashboard destroys its charts and their tooltips.
    page.locator(".topbar a", has_text="Alerts").first.click()
    expect(page.locator(".dashboard")).to_have_count(0)
    expect(page.locator(".chart-tooltip")).to_have_count(0)


def test_query_page_graph_has_a_multi_tooltip(
    server: str, page: Any, no_dialogs: list[str]
) -> None:
    """The Query page's chart keeps uPlot's live legend and adds the tooltip in multi mode."""
    from playwright.sync_api import expect

    expr = f'label_replace(vector(1), "name", "{XSS}", "", "") or label_replace(vector(2), "name", "b", "", "")'
    params = {"g0.expr": expr, "g0.tab": "graph", "g0.range_input": "5m"}
    page.goto(f"{server}/query?{urlencode(params)}")
    panel = page.locator(".query-panel")
    expect(panel).to_have_attribute("data-query-state", "done")
    box = panel.locator(".u-over").bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(_tip(page).locator(".tt-row")).to_have_count(2)
    assert _rows(page) == [(f'{{name="{XSS}"}}', "1"), ('{name="b"}', "2")]
    assert _tip(page).locator("img").count() == 0
    page.mouse.move(2, 2)
    expect(_tip(page)).to_have_count(0)
    assert no_dialogs == []
