"""The UI shell: every page in the nav opens from a link, with the right page marked current and
named in the tab's title; a dashboard names itself there, and at narrow widths its grid stacks."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

NAV = ["Dashboards", "Query", "Logs", "Traces", "Alerts", "Rules", "Targets", "Silences", "Status"]


def test_every_nav_link_opens_its_page(server: str, page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.goto(server + "/")
    for name in NAV:
        page.get_by_role("navigation", name="Main").get_by_role(
            "link", name=name, exact=True
        ).click()
        link = page.get_by_role("link", name=name, exact=True)
        expect(link).to_have_attribute("aria-current", "page")
        expect(page.locator("main h1").first).to_be_visible()
        expect(page).to_have_title(f"{name} - vigil")


def test_dashboard_names_the_tab_and_stacks_at_narrow_widths(server: str, page: object) -> None:
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    page.set_viewport_size({"width": 600, "height": 900})
    page.goto(server + "/d/vigil-node")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )
    expect(page).to_have_title("Node - vigil")
    cells = page.locator(".dash-cells").first
    grid = cells.bounding_box()
    assert grid is not None
    boxes = [p.bounding_box() for p in cells.locator(":scope > section.panel").all()[:4]]
    assert len(boxes) == 4 and all(b is not None for b in boxes)
    # One panel per line, each as wide as the grid, one under the other.
    for box in boxes:
        assert box is not None and abs(box["width"] - grid["width"]) <= 2
    tops = [b["y"] for b in boxes if b is not None]
    assert tops == sorted(tops) and len(set(tops)) == len(tops)


def test_unknown_path_is_answered_by_the_server_not_the_ui(server: str) -> None:
    import httpx

    assert httpx.get(server + "/no-such-page").status_code == 404
    assert httpx.get(server + "/static/no-such.js").status_code == 404
    assert httpx.get(server + "/static/../app.py").status_code == 404


def test_the_page_announces_the_chunks_app_js_imports(server: str) -> None:
    """The browser fetches them beside app.js rather than after parsing it."""
    import re

    import httpx

    app = httpx.get(server + "/static/app.js").text
    imported = set(re.findall(r'(?:from|import)\s*"\./(chunk-[\w-]+\.js)"', app))
    announced = re.findall(
        r'<link rel="modulepreload" href="/static/(chunk-[\w-]+\.js)">', httpx.get(server).text
    )
    assert imported and sorted(announced) == sorted(imported)
