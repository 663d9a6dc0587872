"""The heatmap, state timeline, bar chart, pie chart and histogram panels in a real browser.

vigil serves a data dir written before it starts with series whose values are known: a
classic histogram (`le` buckets counting 1, 2 and 1 per second), two services' up/down
states (api down from 20 to 10 minutes before the end), and three routes' request rates
(10, 30, 60). A dashboard using each panel type is imported through the API and opened;
what is drawn is read back from the SVG the panels build and, for the canvas-drawn heatmap
and state timeline, from the tooltip the user sees over a cell and the cell's colour.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.ui.conftest import ARTIFACTS, vigil_server, wait_for_data
from vigil.model import Labels
from vigil.tsdb import SeriesData
from vigil.tsdb.block import write_block

pytestmark = pytest.mark.slow

UID = "panel-types"
STEP_MS = 15_000
SPAN_MS = 40 * 60_000
GREEN = "rgb(115, 191, 105)"
RED = "rgb(242, 73, 92)"
PURPLE = "rgb(184, 119, 217)"


def _series(name: str, labels: dict[str, str], ts: Any, values: Any) -> SeriesData:
    return SeriesData(Labels.from_dict({"__name__": name, **labels}), ts, values)


def write_known_data(data_dir: Path, end_ms: int) -> None:
    """40 minutes at 15 s ending at `end_ms`, in one block."""
    ts = np.arange(end_ms - SPAN_MS, end_ms + 1, STEP_MS, dtype=np.int64)
    seconds = (ts - ts[0]) / 1000.0
    down = (ts >= end_ms - 20 * 60_000) & (ts < end_ms - 10 * 60_000)
    series = [
        _series("demo_latency_seconds_bucket", {"le": le}, ts, per_s * seconds)
        for le, per_s in (("0.1", 1.0), ("0.5", 3.0), ("+Inf", 4.0))
    ]
    series.append(_series("demo_service_up", {"service": "api"}, ts, np.where(down, 0.0, 1.0)))
    series.append(_series("demo_service_up", {"service": "db"}, ts, np.ones(len(ts))))
    for route, value in (("/a", 10.0), ("/b", 30.0), ("/c", 60.0)):
        series.append(_series("demo_requests", {"route": route}, ts, np.full(len(ts), value)))
    write_block(data_dir, series, int(ts[0]), int(ts[-1]))


def _panel(kind: str, title: str, x: int, y: int, target: dict[str, Any], **extra: Any) -> dict:
    return {
        "type": kind,
        "title": title,
        "gridPos": {"x": x, "y": y, "w": 12, "h": 8},
        "targets": [{"refId": "A", **target}],
        **extra,
    }


DASHBOARD: dict[str, Any] = {
    "uid": UID,
    "title": "Panel types",
    "time": {"from": "now-30m", "to": "now"},
    "panels": [
        _panel(
            "heatmap",
            "Latency",
            0,
            0,
            {
                "expr": "sum by (le) (rate(demo_latency_seconds_bucket[1m]))",
                "format": "heatmap",
                "legendFormat": "{{le}}",
            },
            options={
                "calculate": False,
                "yAxis": {"unit": "s"},
                "cellValues": {"unit": "short"},
                "color": {"mode": "scheme", "scheme": "Blues"},
            },
        ),
        _panel(
            "state-timeline",
            "Services",
            12,
            0,
            {"expr": "demo_service_up", "legendFormat": "{{service}}"},
            fieldConfig={
                "defaults": {
                    "mappings": [
                        {
                            "type": "value",
                            "options": {
                                "0": {"text": "down", "color": "red"},
                                "1": {"text": "up", "color": "green"},
                            },
                        }
                    ]
                }
            },
        ),
        _panel(
            "barchart",
            "Requests",
            0,
            8,
            {"expr": "demo_requests", "format": "table", "instant": True},
            options={"xField": "route", "showValue": "always", "orientation": "vertical"},
            fieldConfig={
                "defaults": {
                    "color": {"mode": "thresholds"},
                    "thresholds": {
                        "mode": "absolute",
                        "steps": [
                            {"value": None, "color": "green"},
                            {"value": 50, "color": "red"},
                        ],
                    },
                }
            },
        ),
        _panel(
            "piechart",
            "Share",
            12,
            8,
            {"expr": "demo_requests", "instant": True, "legendFormat": "{{route}}"},
            options={
                "pieType": "donut",
                "displayLabels": ["percent"],
                "legend": {"showLegend": True, "values": ["value", "percent"]},
                "reduceOptions": {"calcs": ["lastNotNull"]},
            },
            fieldConfig={
                "defaults": {"unit": "bytes"},
                "overrides": [
                    {
                        "matcher": {"id": "byName", "options": "/c"},
                        "properties": [
                            {"id": "color", "value": {"mode": "fixed", "fixedColor": "purple"}}
                        ],
                    }
                ],
            },
        ),
        _panel(
            "histogram",
            "Spread",
            0,
            16,
            {"expr": "demo_requests", "instant": True, "legendFormat": "{{route}}"},
            options={"combine": True},
        ),
        _panel(
            "heatmap",
            "Requests heatmap",
            12,
            16,
            {"expr": "demo_requests", "legendFormat": "{{route}}"},
            options={
                "calculate": True,
                "calculation": {
                    "xBuckets": {"mode": "size", "value": "5m"},
                    "yBuckets": {"mode": "size", "value": "20"},
                },
            },
        ),
    ],
}


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """vigil on the known data, the dashboard imported; its base URL and the data's end (ms)."""
    data_dir = tmp_path_factory.mktemp("vigil-panel-types")
    end_ms = int(time.time() * 1000) // STEP_MS * STEP_MS
    write_known_data(data_dir, end_ms)
    with vigil_server(data_dir) as base:
        wait_for_data(base, "demo_requests")
        answer = httpx.post(
            f"{base}/api/vigil/v1/dashboards?overwrite=true", json=DASHBOARD, timeout=10
        )
        assert answer.status_code == 200, answer.text
        yield base, end_ms


@pytest.fixture
def shown(page: Any, known: tuple[str, int]) -> tuple[Any, int]:
    """The dashboard open and settled; the data's end (ms)."""
    from playwright.sync_api import expect

    base, end_ms = known
    page.goto(f"{base}/d/{UID}")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )
    return page, end_ms


def _panel_el(page: Any, title: str) -> Any:
    from playwright.sync_api import expect

    panel = page.locator(f'section.panel[data-panel-title="{title}"]')
    expect(panel).to_have_attribute("data-panel-state", "rendered")
    return panel


def _cell(page: Any, panel: Any, at_ms: int, row: float, rows: int) -> tuple[float, float]:
    """Page coordinates of time `at_ms` in row `row` (0 at the top) of a cell chart drawing
    the dashboard's last 30 minutes."""
    box = panel.locator(".u-over").bounding_box()
    to_ms = page.evaluate("Date.now()")
    x = box["x"] + box["width"] * (at_ms - (to_ms - 30 * 60_000)) / (30 * 60_000)
    y = box["y"] + box["height"] * (row + 0.5) / rows
    return x, y


def _hover_text(page: Any, x: float, y: float) -> str:
    from playwright.sync_api import expect

    page.mouse.move(x, y)
    tip = page.locator(".chart-tooltip:visible")
    expect(tip).to_have_count(1)
    text: str = tip.inner_text()
    return text


def _pixel(page: Any, panel: Any, x: float, y: float) -> list[int]:
    """The colour the panel's plot canvas holds at page point (x, y)."""
    script = """([canvas, x, y]) => {
      const r = canvas.getBoundingClientRect();
      const k = canvas.width / r.width;
      return Array.from(canvas.getContext('2d').getImageData((x - r.left) * k, (y - r.top) * k, 1, 1).data);
    }"""
    canvas = panel.locator("canvas").element_handle()
    pixel: list[int] = page.evaluate(script, [canvas, x, y])
    return pixel


def test_heatmap_draws_classic_buckets_deaccumulated(shown: tuple[Any, int]) -> None:
    from playwright.sync_api import expect

    page, end_ms = shown
    panel = _panel_el(page, "Latency")
    at = end_ms - 10 * 60_000
    # Rows top to bottom: +Inf, 0.5, 0.1; each counts its own bucket (1, 2 and 1 per second).
    cells = [_cell(page, panel, at, row, 3) for row in range(3)]
    lines = [_hover_text(page, x, y).splitlines() for x, y in cells]
    assert [line[1:] for line in lines] == [
        ["> 500 ms", "1"],
        ["100 ms – 500 ms", "2"],
        ["≤ 100 ms", "1"],
    ]
    # Blues: the busiest bucket darkest, the others lightest.
    top, middle, bottom = (_pixel(page, panel, x, y) for x, y in cells)
    assert top == bottom
    assert sum(middle[:3]) < sum(top[:3]) - 300, (middle, top)
    # The colour scale's legend ends at the largest count.
    expect(panel.locator(".vp-heat-legend .vp-heat-max")).to_have_text("2")


def test_heatmap_calculated_from_series_values(shown: tuple[Any, int]) -> None:
    page, end_ms = shown
    panel = _panel_el(page, "Requests heatmap")
    panel.scroll_into_view_if_needed()
    at = end_ms - 12 * 60_000
    # The three routes' values 10, 30 and 60 in buckets of 20, top to bottom from 60: every
    # 5-minute column counts each route's samples once; nothing has a value in 40–60.
    lines = [_hover_text(page, *_cell(page, panel, at, row, 4)).splitlines() for row in range(4)]
    names = [line[1] for line in lines]
    counts = [int(line[2]) for line in lines]
    assert names == ["60 – 80", "40 – 60", "20 – 40", "0 – 20"]
    assert counts[1] == 0
    assert counts[0] == counts[2] == counts[3] > 0, lines


def test_state_timeline_rows_states_and_colours(shown: tuple[Any, int]) -> None:
    from playwright.sync_api import expect

    page, end_ms = shown
    panel = _panel_el(page, "Services")
    expect(panel.locator(".vp-state")).to_have_text(["up", "down"])
    api_down = _cell(page, panel, end_ms - 15 * 60_000, 0, 2)
    api_up = _cell(page, panel, end_ms - 25 * 60_000, 0, 2)
    db = _cell(page, panel, end_ms - 15 * 60_000, 1, 2)
    assert _hover_text(page, *api_down).splitlines()[1:] == ["api", "down"]
    assert _hover_text(page, *api_up).splitlines()[1:] == ["api", "up"]
    assert _hover_text(page, *db).splitlines()[1:] == ["db", "up"]
    page.mouse.move(0, 0)
    red = _pixel(page, panel, *api_down)
    green = _pixel(page, panel, *db)
    assert red[0] > red[1] and green[1] > green[0], (red, green)


def test_bar_chart_one_bar_per_route_coloured_by_threshold(shown: tuple[Any, int]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    panel = _panel_el(page, "Requests")
    bars = panel.locator("rect.vp-bar-rect")
    expect(bars).to_have_count(3)
    expect(panel.locator(".vp-bar-cat")).to_have_text(["/a", "/b", "/c"])
    expect(panel.locator(".vp-bar-label")).to_have_text(["10", "30", "60"])
    heights = [bars.nth(i).bounding_box()["height"] for i in range(3)]
    assert heights[1] == pytest.approx(3 * heights[0], rel=0.02)
    assert heights[2] == pytest.approx(6 * heights[0], rel=0.02)
    fills = bars.evaluate_all("bs => bs.map(b => getComputedStyle(b).fill)")
    assert fills == [GREEN, GREEN, RED]


def test_pie_chart_slices_legend_and_override(shown: tuple[Any, int]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    panel = _panel_el(page, "Share")
    slices = panel.locator("path.vp-slice")
    expect(slices).to_have_count(3)
    expect(panel.locator(".vp-pie-item")).to_have_text(["/a10 B10%", "/b30 B30%", "/c60 B60%"])
    expect(panel.locator(".vp-slice-label")).to_have_text(["10%", "30%", "60%"])
    fills = slices.evaluate_all("ps => ps.map(p => getComputedStyle(p).fill)")
    assert fills[2] == PURPLE
    assert len(set(fills)) == 3
    # The largest slice covers more of the pie than the other two together.
    areas = [s["width"] * s["height"] for s in (slices.nth(i).bounding_box() for i in range(3))]
    assert areas[2] > max(areas[:2])


def test_histogram_counts_values_into_buckets(shown: tuple[Any, int]) -> None:
    from playwright.sync_api import expect

    page, _ = shown
    panel = _panel_el(page, "Spread")
    # 10, 30 and 60: the auto bucket size is 20 (the smallest gap between values).
    expect(panel.locator(".vp-bar-cat")).to_have_text(["0", "20", "40", "60"])
    bars = panel.locator("rect.vp-bar-rect")
    expect(bars.locator("title")).to_have_text(["0: 1", "20: 1", "60: 1"])
    heights = {bars.nth(i).bounding_box()["height"] for i in range(3)}
    assert len(heights) == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "panel-types.png"), full_page=True)
