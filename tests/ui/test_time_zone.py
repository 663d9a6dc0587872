"""One time zone on every page: the browser's by default (here Asia/Kolkata, UTC+05:30, set on
the browser context), UTC when chosen in the top bar, named on screen and kept in the URL as
`tz=utc` from page to page; chart tooltips, the dashboard's range inputs, silences and the
status page all follow it."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

UID = "zone-test"
STAMP = "%Y-%m-%d %H:%M:%S"


@pytest.fixture
def kolkata(browser: Any) -> Iterator[Any]:
    """A page whose browser lives in Asia/Kolkata; uncaught errors fail the test."""
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, timezone_id="Asia/Kolkata"
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield tab
    finally:
        context.close()
    assert not errors, errors


def _serve_dashboard(page: Any, start_ms: int, end_ms: int) -> str:
    dashboard = {
        "uid": UID,
        "title": "Zones",
        "panels": [
            {
                "type": "timeseries",
                "title": "One",
                "gridPos": {"x": 0, "y": 0, "w": 24, "h": 8},
                "targets": [{"refId": "A", "expr": "vector(1)", "legendFormat": "one"}],
            }
        ],
    }
    body = json.dumps({"status": "success", "data": {"uid": UID, "dashboard": dashboard}})
    page.route(
        f"**/api/vigil/v1/dashboards/{UID}",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    return f"/d/{UID}?from={start_ms}&to={end_ms}"


def _tooltip_time(page: Any) -> datetime:
    from playwright.sync_api import expect

    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )
    over = page.locator(".u-over")
    box = over.bounding_box()
    assert box is not None
    page.mouse.move(2, 2)
    # The plot's first point: the same sample whatever the zone.
    page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2)
    tip = page.locator(".chart-tooltip:visible .tt-time")
    expect(tip).to_have_count(1)
    return datetime.strptime(tip.inner_text(), STAMP)


def test_times_follow_the_chosen_zone_on_every_page(server: str, kolkata: Any) -> None:
    from playwright.sync_api import expect

    page = kolkata
    end_ms = int(time.time() // 60 * 60_000)
    start_ms = end_ms - 600_000
    page.goto(server + _serve_dashboard(page, start_ms, end_ms))
    zone = page.get_by_label("Time zone")
    expect(zone.locator("option:checked")).to_have_text("Browser time (UTC+05:30)")
    from_input = page.get_by_label("From", exact=True)
    expected_local = datetime.fromtimestamp(start_ms / 1000, UTC).replace(tzinfo=None) + timedelta(
        hours=5, minutes=30
    )
    expect(from_input).to_have_value(expected_local.strftime(STAMP))
    shown_local = _tooltip_time(page)

    zone.select_option("utc")
    expect(page).to_have_url(re.compile(r"tz=utc"))
    expect(page.get_by_label("From", exact=True)).to_have_value(
        datetime.fromtimestamp(start_ms / 1000, UTC).replace(tzinfo=None).strftime(STAMP)
    )
    shown_utc = _tooltip_time(page)
    assert shown_local - shown_utc == timedelta(hours=5, minutes=30)

    # The zone goes along to other pages, which name it.
    now = time.time()
    silence = {
        "matchers": [{"name": "zone", "value": "test", "isRegex": False, "isEqual": True}],
        "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
        "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 7200)),
        "createdBy": "zone test",
        "comment": "zones",
    }
    sid = httpx.post(server + "/api/v2/silences", json=silence, timeout=10).json()["silenceID"]
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Silences").click()
    expect(page).to_have_url(re.compile(r"/silences\?(.*&)?tz=utc"))
    starts = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now + 3600))
    item = page.locator(f'.silence[data-silence-id="{sid}"]')
    page.get_by_role("button", name=re.compile(r"^Pending \(")).click()
    expect(item).to_contain_text(f"starts {starts}")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Status").click()
    expect(page).to_have_url(re.compile(r"/status\?(.*&)?tz=utc"))
    start_row = page.locator('tr[data-key="startTime"] td')
    expect(start_row).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \("))
    page.get_by_label("Time zone").select_option("browser")
    expect(page).not_to_have_url(re.compile(r"tz="))
    expect(start_row).to_have_text(re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+05:30 \("))
