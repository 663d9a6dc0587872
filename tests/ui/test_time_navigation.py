"""Time navigation on a dashboard, as in Grafana: a drag across a graph sets the dashboard's
range (every panel, the picker, the URL) as a new history entry, so Back zooms out again; the
zoom-out button and Ctrl+Z double the span; the ‹ › buttons move it by half; graphTooltip shares
the crosshair (1) or the tooltip too (2) across panels; a range older than the data says since
when it is collected.

The dashboards are served to the page by Playwright's request routing; their queries run against
the real vigil server, and the ranges the panels ask for are read back from those requests.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

import pytest

pytestmark = pytest.mark.slow

HOUR_MS = 3_600_000


def _ts(title: str, expr: str, x: int) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "gridPos": {"x": x, "y": 0, "w": 12, "h": 8},
        "targets": [{"refId": "A", "expr": expr, "legendFormat": title.lower()}],
        "options": {"tooltip": {"mode": "multi"}},
    }


def _dashboard(uid: str, graph_tooltip: int) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": f"Navigation {graph_tooltip}",
        "time": {"from": "now-1h", "to": "now"},
        "graphTooltip": graph_tooltip,
        "panels": [_ts("Left", "vector(1)", 0), _ts("Right", "vector(2)", 12)],
    }


def _serve(page: Any, dashboard: dict[str, Any]) -> None:
    body = json.dumps(
        {"status": "success", "data": {"uid": dashboard["uid"], "dashboard": dashboard}}
    )
    page.route(
        f"**/api/vigil/v1/dashboards/{dashboard['uid']}",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )


def _open(page: Any, server: str, graph_tooltip: int) -> list[dict[str, str]]:
    """Opens the dashboard, settled; returns the query_range forms the page sends from then on."""
    from playwright.sync_api import expect

    dashboard = _dashboard(f"nav-{graph_tooltip}", graph_tooltip)
    _serve(page, dashboard)
    sent: list[dict[str, str]] = []

    def record(request: Any) -> None:
        if request.url.endswith("/api/v1/query_range") and request.post_data:
            sent.append({k: v[0] for k, v in parse_qs(request.post_data).items()})

    page.goto(f"{server}/d/{dashboard['uid']}")
    _settled(page)
    page.on("request", record)
    for title in ("Left", "Right"):
        expect(_panel(page, title)).to_have_attribute("data-panel-state", "rendered")
    return sent


def _settled(page: Any) -> None:
    from playwright.sync_api import expect

    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )


def _panel(page: Any, title: str) -> Any:
    return page.locator(f'section.panel[data-panel-title="{title}"]')


def _over(page: Any, title: str) -> dict[str, float]:
    box = _panel(page, title).locator(".u-over").bounding_box()
    assert box is not None
    return box


def _params(page: Any) -> dict[str, str]:
    query = page.evaluate("location.search").lstrip("?")
    return {k: v[0] for k, v in parse_qs(query).items()}


def test_drag_sets_the_dashboard_range_and_back_zooms_out(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    sent = _open(page, server, 0)
    box = _over(page, "Left")
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.75, y, steps=8)
    page.mouse.up()
    expect(page).to_have_url(re.compile(r"from=\d{13}&to=\d{13}"))
    _settled(page)
    params = _params(page)
    start, end = int(params["from"]), int(params["to"])
    # About the middle half of the hour, in absolute milliseconds.
    assert 0.4 * HOUR_MS < end - start < 0.6 * HOUR_MS
    expect(page.get_by_label("Time range")).to_have_value("custom")
    expect(page.get_by_label("From", exact=True)).to_be_visible()
    # Both panels asked for the new range (start/end rounded to their step).
    for expr in ("vector(1)", "vector(2)"):
        forms = [f for f in sent if f["query"] == expr]
        assert forms, f"{expr} was not queried again"
        step = float(forms[-1]["step"])
        assert abs(float(forms[-1]["start"]) - start / 1000) <= step
        assert abs(float(forms[-1]["end"]) - end / 1000) <= step
    page.go_back()
    expect(page).to_have_url(re.compile(r"from=now-1h&to=now"))
    _settled(page)
    expect(page.get_by_label("Time range")).to_have_value("now-1h")


def test_zoom_out_ctrl_z_and_shifts_are_history_entries(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _open(page, server, 0)
    page.get_by_role("button", name="Zoom out").click()
    expect(page.get_by_label("Time range")).to_have_value("now-2h")
    expect(page).to_have_url(re.compile(r"from=now-2h&to=now"))
    _settled(page)
    page.keyboard.press("Control+z")
    expect(page).to_have_url(re.compile(r"from=now-4h&to=now"))
    _settled(page)
    page.get_by_label("Time range").select_option("now-5m")
    expect(page).to_have_url(re.compile(r"from=now-5m&to=now"))
    _settled(page)
    page.get_by_role("button", name="Earlier by half the range").click()
    expect(page).to_have_url(re.compile(r"from=\d{13}&to=\d{13}"))
    params = _params(page)
    assert int(params["to"]) - int(params["from"]) == 5 * 60_000
    _settled(page)
    # Forward by half: still in the past, then past now, which is the last 5 minutes again.
    forward = page.get_by_role("button", name="Later by half the range")
    forward.click()
    expect(page).to_have_url(re.compile(rf"from={int(params['from']) + 150_000}&"))
    _settled(page)
    forward.click()
    expect(page).to_have_url(re.compile(r"from=now-5m&to=now"))
    _settled(page)
    for back in (
        "from=\\d{13}&to=\\d{13}",
        "from=\\d{13}&to=\\d{13}",
        "from=now-5m",
        "from=now-4h",
        "from=now-2h",
        "from=now-1h",
    ):
        page.go_back()
        expect(page).to_have_url(re.compile(back))


def test_shared_tooltip_shows_on_every_panel(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _open(page, server, 2)
    box = _over(page, "Left")
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tips = page.locator(".chart-tooltip:visible")
    expect(tips).to_have_count(2)
    assert sorted(tips.locator(".tt-name").all_inner_texts()) == ["left", "right"]
    page.mouse.move(2, 2)
    expect(tips).to_have_count(0)


def test_shared_crosshair_moves_the_other_cursor_without_its_tooltip(
    server: str, page: Any
) -> None:
    from playwright.sync_api import expect

    _open(page, server, 1)
    left = _over(page, "Left")
    page.mouse.move(left["x"] + left["width"] * 0.5, left["y"] + left["height"] / 2)
    expect(page.locator(".chart-tooltip:visible")).to_have_count(1)
    expect(page.locator(".chart-tooltip:visible .tt-name")).to_have_text(["left"])
    page.wait_for_function(
        """el => { const o = el.querySelector('.u-over').getBoundingClientRect();
                   const c = el.querySelector('.u-cursor-x').getBoundingClientRect();
                   return c.left > o.left && c.left < o.right; }""",
        arg=_panel(page, "Right").element_handle(),
    )
    expect(page.locator(".chart-tooltip:visible")).to_have_count(1)


def test_young_install_says_since_when_it_collects(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _open(page, server, 0)
    since = page.locator(".collecting-since")
    expect(since).to_be_visible()
    expect(since).to_have_text(re.compile(r"^collecting since \d\d:\d\d$"))
    # Built-in dashboards open on the last hour.
    page.goto(f"{server}/d/vigil-node")
    expect(page.get_by_label("Time range")).to_have_value("now-1h")
