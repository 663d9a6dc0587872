"""Empty dashboards that say why: a panel reading a metric no target exports names it, the
Containers dashboard on a host without Docker says so, and a dashboard opened before the
first scrape says when it will have happened, then draws its panels once it has."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PATIENCE_S
from tests.ui.conftest import vigil_server, wait_for_data

pytestmark = pytest.mark.slow

UID = "empty-states"
DASHBOARD: dict[str, Any] = {
    "uid": UID,
    "title": "Empty states",
    "time": {"from": "now-15m", "to": "now"},
    "panels": [
        {
            "type": "timeseries",
            "title": "Missing",
            "gridPos": {"x": 0, "y": 0, "w": 12, "h": 6},
            "targets": [
                {"refId": "A", "expr": 'rate(node_timex_missing_seconds{job="vigil"}[5m])'},
                {"refId": "B", "expr": "sum by (job) (up) * on(job) vigil_no_such_info"},
            ],
        },
        {
            "type": "stat",
            "title": "Unmatched",
            "gridPos": {"x": 12, "y": 0, "w": 12, "h": 6},
            "targets": [{"refId": "A", "expr": 'up{job="no-such-job"}'}],
        },
    ],
}


@pytest.fixture(scope="module")
def no_docker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """vigil after its first scrape, its Docker socket a path where none is; the dashboard imported."""
    data_dir = tmp_path_factory.mktemp("vigil-no-docker")
    socket = data_dir / "no-docker.sock"
    with vigil_server(data_dir, f"--collector.docker.socket={socket}") as base:
        wait_for_data(base, 'node_scrape_collector_success{collector="docker"}')
        answer = httpx.post(
            f"{base}/api/vigil/v1/dashboards?overwrite=true", json=DASHBOARD, timeout=10
        )
        assert answer.status_code == 200, answer.text
        yield base


def _panel(page: Any, title: str) -> Any:
    return page.locator(f'section.panel[data-panel-title="{title}"]')


def test_a_metric_no_target_exports_is_named(no_docker: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(f"{no_docker}/d/{UID}")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
    )
    missing = _panel(page, "Missing")
    expect(missing).to_have_attribute("data-panel-state", "nodata")
    expect(missing.locator(".panel-note")).to_have_text(
        "No data: no target exports node_timex_missing_seconds or vigil_no_such_info"
    )
    expect(missing.locator(".panel-note code")).to_have_text(
        ["node_timex_missing_seconds", "vigil_no_such_info"]
    )
    # `up` exists; only its matchers select nothing.
    unmatched = _panel(page, "Unmatched")
    expect(unmatched).to_have_attribute("data-panel-state", "nodata")
    expect(unmatched.locator(".panel-note")).to_have_text("No data")
    expect(page.locator(".first-scrape")).to_be_hidden()


def test_containers_dashboard_says_there_is_no_docker(no_docker: str, page: Any) -> None:
    from playwright.sync_api import expect

    instance = httpx.get(
        f"{no_docker}/api/v1/query",
        params={"query": 'node_scrape_collector_success{collector="docker"} == 0'},
        timeout=10,
    ).json()["data"]["result"][0]["metric"]["instance"]
    page.goto(f"{no_docker}/d/vigil-containers")
    expect(page.locator(".dash-notices .dash-notice")).to_have_text(
        timeout=PATIENCE_S * 1000,
        expected=f"No Docker on {instance}: vigil's Docker collector finds no Docker socket there "
        "(or the Docker engine does not answer), so there are no containers to show.",
    )
    # A host with Docker has no such notice: the dashboard's own Node one has none either.
    page.goto(f"{no_docker}/d/vigil-node")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
    )
    expect(page.locator(".dash-notices .dash-notice")).to_have_count(0)


def test_before_the_first_scrape_the_wait_is_said(tmp_path: Path, page: Any) -> None:
    """Scraping once a day, the first scrape comes any time in the next 24 h: the landing
    dashboard says so instead of showing 'no target exports' on every panel."""
    from playwright.sync_api import expect

    config = tmp_path / "prometheus.yml"
    config.write_text(
        json.dumps(
            {
                "global": {"scrape_interval": "1d", "scrape_timeout": "10s"},
                "scrape_configs": [
                    {"job_name": "app", "static_configs": [{"targets": ["127.0.0.1:9"]}]}
                ],
            }
        )
    )
    with vigil_server(tmp_path / "data", f"--config.file={config}") as base:
        targets = httpx.get(f"{base}/api/v1/targets", timeout=10).json()["data"]
        assert all(t["lastScrape"].startswith("0001-") for t in targets["activeTargets"])
        page.goto(base + "/")
        note = page.locator(".first-scrape")
        expect(note).to_have_text(
            re.compile(r"^Waiting for the first scrape: in 2[34]h( \d+m)? at most\.$"),
            timeout=PATIENCE_S * 1000,
        )
        expect(page.locator(".dashboard")).to_have_attribute(
            "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
        )
        notes = page.locator("[data-panel-state=nodata] .panel-note")
        assert notes.count() > 0
        assert set(notes.all_inner_texts()) == {"No data"}


def test_the_panels_run_again_once_the_first_scrape_is_in(no_docker: str, page: Any) -> None:
    """The targets list as it reads before any scrape (served by the test), then the real one:
    the note goes without a reload, and the dashboard settles with its panels drawn."""
    from playwright.sync_api import expect

    real = httpx.get(f"{no_docker}/api/v1/targets", timeout=10).json()
    for target in real["data"]["activeTargets"]:
        target["lastScrape"] = "0001-01-01T00:00:00Z"
    before = json.dumps(real)
    page.route(
        "**/api/v1/targets?*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=before),
    )
    page.goto(f"{no_docker}/d/vigil-node")
    note = page.locator(".first-scrape")
    # Under way once the server's start is an interval ago, as it is after the module's tests.
    expect(note).to_have_text(
        timeout=PATIENCE_S * 1000,
        expected=re.compile(r"^Waiting for the first scrape: (under way|in .+ at most)\.$"),
    )
    page.unroute("**/api/v1/targets?*")
    # The page asks again within 5 s (every second once the countdown has run out).
    expect(note).to_be_hidden(timeout=PATIENCE_S * 1000)
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
    )
    expect(page.locator("[data-panel-state=rendered]").first).to_be_visible()
