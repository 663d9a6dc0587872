"""The Logs page shows what vigil's Loki API answers: lines newest first as text only, the
literals of `|=` filters highlighted, a row opening onto its labels and fields, Loki's errors,
the query with its range in a URL that can be shared, a volume histogram by level, a label browser
and completions in the query box that add matchers to the selector, a row's context in its stream,
and a live tail that shows lines pushed after it started, held back while paused.

One vigil runs for the module; the test pushes its lines through the Loki push API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import PATIENCE_S
from tests.ui.conftest import vigil_server

pytestmark = pytest.mark.slow

HOSTILE = "<img src=x onerror=alert(1)>"
# (seconds ago, stream, line, structured metadata), pushed once for the module.
LINES = [
    (40, "api", "connect db failed", {}),
    (30, "web", "GET /db 200", {}),
    (20, "api", HOSTILE, {"trace_id": "4bf92f3577b34da6"}),
    (10, "web", "GET / 200", {}),
]
LEVELS = {"api": "error", "web": "info"}
NEWEST_FIRST = [line for _, _, line, _ in sorted(LINES)]
# A stream two hours old, out of the default range: 25 lines, one a second.
BATCH = [f"step {i}" for i in range(1, 26)]


@pytest.fixture(scope="module")
def logs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with vigil_server(tmp_path_factory.mktemp("vigil-logs"), "--agent.disable") as base:
        now_ns = time.time_ns()
        streams = [
            {
                "stream": {"service_name": service, "level": LEVELS[service]},
                "values": [
                    [str(now_ns - ago * 10**9), line, meta]
                    for ago, s, line, meta in LINES
                    if s == service
                ],
            }
            for service in LEVELS
        ]
        streams.append(
            {
                "stream": {"service_name": "batch"},
                "values": [
                    [str(now_ns - (7200 - i) * 10**9), line] for i, line in enumerate(BATCH)
                ],
            }
        )
        pushed = httpx.post(f"{base}/loki/api/v1/push", json={"streams": streams}, timeout=30)
        assert pushed.status_code == 204, pushed.text
        yield base


def _open(page: Any, base: str, **params: str) -> Any:
    from playwright.sync_api import expect

    page.goto(f"{base}/logs" + (f"?{urlencode(params)}" if params else ""))
    results = page.locator(".logs-results")
    expect(results).not_to_have_attribute("data-state", "loading", timeout=PATIENCE_S * 1000)
    expect(results).not_to_have_attribute("data-state", "idle", timeout=PATIENCE_S * 1000)
    return results


def _lines(page: Any) -> list[str]:
    lines: list[str] = page.locator(".log-row .log-line").all_text_contents()
    return lines


def test_rows_newest_first_hostile_line_as_text(
    logs_server: str, page: Any, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    results = _open(page, logs_server)
    expect(results).to_have_attribute("data-state", "done")
    assert _lines(page) == NEWEST_FIRST
    assert page.locator(".log-row img").count() == 0
    hostile = page.locator(".log-row").nth(1)
    expect(hostile.locator(".log-labels")).to_have_text("level=error service_name=api")
    hostile.locator("summary").click()
    detail = hostile.locator(".log-detail")
    expect(detail.locator("dt")).to_contain_text(["level", "service_name", "trace_id"])
    expect(detail.locator("dd")).to_contain_text(["error", "api", "4bf92f3577b34da6"])


def test_enter_runs_a_filter_with_highlights_and_a_shareable_url(
    logs_server: str, page: Any
) -> None:
    from playwright.sync_api import expect

    _open(page, logs_server, range="15m")
    box = page.get_by_role("combobox", name="LogQL query")
    box.fill('{service_name=~".+"} |= "db"')
    box.press("Enter")
    expect(page.locator(".log-row")).to_have_count(2)
    assert _lines(page) == ["GET /db 200", "connect db failed"]
    assert page.locator(".log-line mark").all_text_contents() == ["db", "db"]
    shared = page.url
    assert "range=15m" in shared and "query=" in shared
    page.goto(shared)
    expect(page.get_by_role("combobox", name="LogQL query")).to_have_value(
        '{service_name=~".+"} |= "db"'
    )
    expect(page.get_by_label("Time range")).to_have_value("15m")
    expect(page.locator(".log-row")).to_have_count(2)


def test_a_bad_query_shows_lokis_error(logs_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    results = _open(page, logs_server, query='{service_name="api"')
    expect(results).to_have_attribute("data-state", "error")
    expect(results.get_by_role("alert")).to_contain_text("parse error")


def test_volume_bars_stack_the_lines_by_level(logs_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _open(page, logs_server)
    volume = page.get_by_role("figure", name="Log volume by level")
    expect(volume.locator(".volume-key")).to_have_text(["error 2", "info 2"])
    levels = volume.locator(".volume-seg").evaluate_all("segs => segs.map(s => s.dataset.level)")
    assert sorted(set(levels)) == ["error", "info"]
    filtered = page.get_by_role("combobox", name="LogQL query")
    filtered.fill('{service_name="web"}')
    filtered.press("Enter")
    expect(volume.locator(".volume-key")).to_have_text(["info 2"])


def test_the_query_box_completes_label_names_and_values_from_the_label_api(
    logs_server: str, page: Any
) -> None:
    """`{` offers the range's label names, `="` a name's values over the range (the batch
    stream is older than the hour shown), both picked from the keyboard; the query then runs."""
    from playwright.sync_api import expect

    _open(page, logs_server)
    box = page.get_by_role("combobox", name="LogQL query")
    offered = page.get_by_role("listbox", name="Completions").locator(".completion-text")
    box.fill("")
    box.press_sequentially("{")
    expect(offered).to_have_text(["level", "service_name"])
    box.press_sequentially("serv")
    expect(offered).to_have_text(["service_name"])
    box.press("Enter")
    box.press_sequentially('="')
    expect(offered).to_have_text(["api", "web"])
    box.press("ArrowDown")
    box.press("Enter")
    expect(box).to_have_value('{service_name="web"')
    box.press_sequentially("}")
    expect(page.get_by_role("listbox", name="Completions")).to_be_hidden()
    box.press("Enter")
    expect(page.locator(".log-row")).to_have_count(2)
    assert _lines(page) == ["GET / 200", "GET /db 200"]


def test_label_browser_adds_a_matcher_to_the_selector(logs_server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _open(page, logs_server)
    names = page.get_by_role("group", name="Label names")
    expect(names.get_by_role("button")).to_have_text(["level", "service_name"])
    names.get_by_role("button", name="service_name").click()
    values = page.get_by_role("group", name="Label values")
    expect(values.get_by_role("button")).to_have_text(["api", "web"])
    values.get_by_role("button", name="web").click()
    expect(page.get_by_role("combobox", name="LogQL query")).to_have_value(
        '{service_name=~".+", service_name="web"}'
    )
    expect(page.locator(".log-row")).to_have_count(2)
    assert _lines(page) == ["GET / 200", "GET /db 200"]
    assert "service_name%3D%22web%22" in page.url


def test_show_context_lists_ten_lines_either_side_in_the_stream(
    logs_server: str, page: Any
) -> None:
    from playwright.sync_api import expect

    _open(page, logs_server, query='{service_name="batch"} |= "step 13"', range="6h")
    expect(page.locator(".log-row")).to_have_count(1)
    row = page.locator(".log-row")
    row.locator("summary").click()
    row.get_by_role("button", name="Show context").click()
    context = row.locator(".log-context .log-line")
    expect(context).to_have_count(21)
    assert context.all_text_contents() == [f"step {i}" for i in range(23, 2, -1)]
    expect(row.locator(".log-context-self .log-line")).to_have_text("step 13")


def _push(base: str, line: str) -> None:
    stream = {"stream": {"service_name": "tail"}, "values": [[str(time.time_ns()), line]]}
    pushed = httpx.post(f"{base}/loki/api/v1/push", json={"streams": [stream]}, timeout=30)
    assert pushed.status_code == 204, pushed.text


def test_live_tail_shows_new_lines_and_holds_them_while_paused(
    tmp_path: Path, page: Any, no_dialogs: list[str]
) -> None:
    """On a server of its own: the lines it pushes would show in the other tests' results."""
    from playwright.sync_api import expect

    with vigil_server(tmp_path, "--agent.disable") as base:
        _open(page, base, query='{service_name="tail"}')
        page.get_by_role("button", name="Live").click()
        status = page.locator(".logs-results").get_by_role("status")
        expect(status).to_have_text("Live: waiting for lines…")
        _push(base, "first live line")
        expect(page.locator(".log-row .log-line")).to_have_text(["first live line"])
        page.get_by_role("button", name="Pause").click()
        _push(base, HOSTILE)
        expect(status).to_have_text("Paused: 1 line shown, 1 new waiting")
        page.get_by_role("button", name="Resume").click()
        expect(page.locator(".log-row .log-line")).to_have_text([HOSTILE, "first live line"])
        expect(status).to_have_text("Live: 2 lines")
        assert page.locator(".log-row img").count() == 0
        page.get_by_role("button", name="Live").click()
        expect(page.locator(".logs-results")).to_have_attribute("data-state", "done")


def test_a_dashboard_reads_a_loki_datasource(
    logs_server: str, page: Any, no_dialogs: list[str]
) -> None:
    """Grafana dashboards with Loki panels work unchanged: a `logs` panel lists a log
    query's lines (text only), a time series draws a LogQL metric query; both go to vigil's
    Loki API."""
    import json

    from playwright.sync_api import expect

    loki = {"type": "loki", "uid": "P8E80F9AEF21F6940"}
    dashboard = {
        "uid": "loki-panels",
        "title": "App logs",
        "time": {"from": "now-15m", "to": "now"},
        "panels": [
            {
                "type": "logs",
                "title": "Lines",
                "datasource": loki,
                "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
                "options": {"showTime": True, "showLabels": True, "sortOrder": "Descending"},
                "targets": [{"refId": "A", "expr": '{service_name=~"api|web"}'}],
            },
            {
                "type": "timeseries",
                "title": "Lines per service",
                "datasource": loki,
                "gridPos": {"x": 12, "y": 0, "w": 12, "h": 8},
                "targets": [
                    {
                        "refId": "A",
                        "expr": 'sum by (service_name) (count_over_time({service_name=~"api|web"}[1m]))',
                        "legendFormat": "{{service_name}}",
                    }
                ],
            },
        ],
    }
    body = json.dumps(
        {
            "status": "success",
            "data": {"uid": "loki-panels", "builtin": False, "dashboard": dashboard},
        }
    )
    page.route(
        "**/api/vigil/v1/dashboards/loki-panels",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    page.goto(f"{logs_server}/d/loki-panels")
    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=PATIENCE_S * 1000
    )
    lines = page.locator('[data-panel-title="Lines"]')
    expect(lines).to_have_attribute("data-panel-state", "rendered")
    expect(lines.locator(".logs-panel-line")).to_have_text(NEWEST_FIRST)
    expect(lines.locator(".logs-panel-row").nth(1)).to_have_attribute("data-level", "error")
    expect(lines.locator(".logs-panel-labels").first).to_have_text(
        "detected_level=info level=info service_name=web"
    )
    assert lines.locator("img").count() == 0
    series = page.locator('[data-panel-title="Lines per service"]')
    expect(series).to_have_attribute("data-panel-state", "rendered")
    expect(series.locator(".u-legend")).to_contain_text("api")
    expect(series.locator(".u-legend")).to_contain_text("web")
    assert not no_dialogs
