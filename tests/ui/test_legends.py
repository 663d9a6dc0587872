"""Legends of time-series panels, as Grafana draws them: no "Time" row, no colon without a value;
a list legend wraps, inside a long name too, so no series name is cut off; a table legend keeps
its value columns (Mean, Max, Last) in view and truncates the names instead; the y axis shows
`fieldConfig.defaults.custom.axisLabel` (the graph panel's `yaxes[0].label`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = pytest.mark.slow

UID = "legend-test"
LONG = "a-very-long-series-name-" * 4


def _series(n: int) -> list[dict[str, Any]]:
    return [
        {"refId": chr(65 + i), "expr": f"vector({i + 1})", "legendFormat": f"{LONG}{i}"}
        for i in range(n)
    ]


DASHBOARD: dict[str, Any] = {
    "uid": UID,
    "title": "Legends",
    "time": {"from": "now-15m", "to": "now"},
    "panels": [
        {
            "type": "timeseries",
            "title": "List",
            "gridPos": {"x": 0, "y": 0, "w": 6, "h": 12},
            "targets": _series(3),
            "fieldConfig": {"defaults": {"custom": {"axisLabel": "bytes out (-) / in (+)"}}},
            "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        },
        {
            "type": "timeseries",
            "title": "Table",
            "gridPos": {"x": 6, "y": 0, "w": 6, "h": 12},
            "targets": _series(3),
            "options": {
                "legend": {
                    "displayMode": "table",
                    "placement": "bottom",
                    "calcs": ["mean", "max", "lastNotNull"],
                }
            },
        },
        {
            "type": "graph",
            "title": "Legacy",
            "gridPos": {"x": 12, "y": 0, "w": 6, "h": 12},
            "targets": _series(1),
            "yaxes": [{"format": "short", "label": "packets"}, {"format": "short"}],
        },
    ],
}


@pytest.fixture
def shown(page: Any, server: str) -> Any:
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
    for title in ("List", "Table", "Legacy"):
        expect(_panel(page, title)).to_have_attribute("data-panel-state", "rendered")
    return page


def _panel(page: Any, title: str) -> Any:
    return page.locator(f'section.panel[data-panel-title="{title}"]')


# Per visible legend row: its name, the colon drawn beside it, whether the value is shown, the
# value, and whether the name is cut off (wider than the box it is drawn in).
_LIST_ROWS = """
legend => [...legend.querySelectorAll('.u-series')]
  .filter(tr => getComputedStyle(tr).display !== 'none')
  .map(tr => {
    const label = tr.querySelector('.u-label');
    const value = tr.querySelector('.u-value');
    const valueShown = getComputedStyle(value).display !== 'none';
    const before = valueShown ? getComputedStyle(value, '::before').content : '';
    const after = getComputedStyle(tr.querySelector('th'), '::after').content;
    return {
      name: label.textContent,
      colon: [before, after].filter(c => c && c !== 'none' && c !== 'normal').join(''),
      value: value.textContent,
      valueShown,
      cut: label.scrollWidth > label.clientWidth + 1
        || label.getBoundingClientRect().right > legend.getBoundingClientRect().right + 1,
    };
  })
"""


def test_list_legend_wraps_names_without_time_row_or_bare_colons(shown: Any) -> None:
    page = shown
    legend = _panel(page, "List").locator(".ts-legend")
    rows = legend.evaluate(_LIST_ROWS)
    assert [r["name"] for r in rows] == [f"{LONG}{i}" for i in range(3)]
    assert all(not r["cut"] for r in rows), rows
    assert all(r["colon"] == "" and not r["valueShown"] for r in rows), rows
    # Hovered, each name gets its value after a colon.
    over = _panel(page, "List").locator(".u-over")
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_function(
        "el => [...el.querySelectorAll('.u-series .u-value')].some(v => v.textContent)",
        arg=legend.element_handle(),
    )
    hovered = legend.evaluate(_LIST_ROWS)
    assert [(r["colon"], r["value"]) for r in hovered] == [('":"', str(i + 1)) for i in range(3)]


def test_table_legend_keeps_value_columns_and_truncates_names(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    panel = _panel(page, "Table")
    table = panel.locator(".legend-table")
    expect(table.locator("thead th")).to_have_text(["Name", "Mean", "Max", "Last *"])
    panel_box = panel.bounding_box()
    assert panel_box is not None
    for cell in table.locator("tbody tr").first.locator("td.num").all():
        box = cell.bounding_box()
        assert box is not None and box["x"] + box["width"] <= panel_box["x"] + panel_box["width"]
        expect(cell).to_have_text("1")
    label = table.locator(".legend-label").first
    expect(label).to_have_attribute("title", f"{LONG}0")
    assert label.evaluate("el => el.scrollWidth > el.clientWidth")
    assert label.evaluate("el => getComputedStyle(el).textOverflow") == "ellipsis"


def test_axis_labels_are_drawn(shown: Any) -> None:
    from playwright.sync_api import expect

    page = shown
    for title, text in (("List", "bytes out (-) / in (+)"), ("Legacy", "packets")):
        label = _panel(page, title).locator(".ts-axis-label")
        expect(label).to_have_text(text)
        expect(label).to_be_visible()
    expect(_panel(page, "Table").locator(".ts-axis-label")).to_have_count(0)
