"""The UI shell: every page in the nav opens from a link, with the right page marked current."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

NAV = ["Dashboards", "Query", "Alerts", "Rules", "Targets", "Silences", "Status"]


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


def test_unknown_path_is_answered_by_the_server_not_the_ui(server: str) -> None:
    import httpx

    assert httpx.get(server + "/no-such-page").status_code == 404
    assert httpx.get(server + "/static/no-such.js").status_code == 404
    assert httpx.get(server + "/static/../app.py").status_code == 404
