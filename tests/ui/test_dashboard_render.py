"""Imported Grafana dashboards render: grid, rows, variables, repeats, interpolation, panel states.

The built-in Node dashboard comes from the server; the other dashboards are served to the page by
Playwright's request routing (only `/api/vigil/v1/dashboards/<uid>` is answered by the test), so
their queries still run against the real vigil server. The PromQL the page sends is read back from
the requests it makes: that is how Grafana's interpolation and interval arithmetic are checked.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from tests.ui.conftest import ARTIFACTS, wait_for_data

pytestmark = pytest.mark.slow

SETTLED = {"rendered", "nodata", "unsupported", "error"}
XSS = "<img src=x onerror=alert(1)>"


def _ts(title: str, expr: str, x: int, y: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "timeseries",
        "title": title,
        "gridPos": {"x": x, "y": y, "w": 12, "h": 6},
        "targets": [{"refId": "A", "expr": expr, **extra.pop("target", {})}],
        **extra,
    }


def _custom(name: str, query: str, current: list[str] | str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "custom",
        "name": name,
        "query": query,
        "current": {"value": current, "text": current},
        **extra,
    }


DASHBOARD: dict[str, Any] = {
    "uid": "g1-test",
    "title": f"Test {XSS}",
    "time": {"from": "now-1h", "to": "now"},
    "refresh": "",
    "templating": {
        "list": [
            {"type": "datasource", "name": "ds", "query": "prometheus"},
            {
                "type": "query",
                "name": "job",
                "query": {"query": "label_values(up, job)"},
                "refresh": 1,
            },
            _custom("metric", "up,scrape_duration_seconds", "up"),
            _custom("multi", "a.b,c", ["a.b", "c"], multi=True),
            _custom("rep", "x,y,z", "$__all", multi=True, includeAll=True),
        ]
    },
    "panels": [
        _ts(
            "Memory",
            'up{job="$job"}',
            0,
            0,
            target={"legendFormat": "{{job}} " + XSS + " {{nosuchlabel}}"},
            fieldConfig={"defaults": {"unit": "bytes"}},
        ),
        _ts(
            f"Picked {XSS} $metric",
            'max(max_over_time(${metric}{job="$job"}[$__rate_interval]))',
            12,
            0,
            maxDataPoints=100,
            target={"legendFormat": "$__interval"},
        ),
        _ts("Multi", 'up{job=~"$multi"}', 0, 6),
        _ts("Broken", "rate(up[", 12, 6),
        {"type": "geomap", "title": "Heat", "gridPos": {"x": 0, "y": 12, "w": 8, "h": 4}},
        {
            "type": "timeseries",
            "title": "Elastic",
            "datasource": {"type": "elasticsearch", "uid": "es1"},
            "gridPos": {"x": 8, "y": 12, "w": 8, "h": 4},
            "targets": [{"refId": "A", "query": "level:error"}],
        },
        {
            "type": "graph",
            "title": "Legacy",
            "gridPos": {"x": 16, "y": 12, "w": 8, "h": 6},
            "targets": [
                {"refId": "A", "expr": 'up{job="$job"}', "legendFormat": "in"},
                {"refId": "B", "expr": 'up{job="$job"} * 2', "legendFormat": "out"},
            ],
            "seriesOverrides": [{"alias": "/out/", "transform": "negative-Y", "stack": False}],
            "stack": True,
            "fill": 3,
            "linewidth": 2,
            "yaxes": [{"format": "bytes"}, {"format": "short"}],
            "legend": {
                "show": True,
                "values": True,
                "alignAsTable": True,
                "max": True,
                "current": True,
            },
        },
        {
            "type": "row",
            "title": "Closed",
            "collapsed": True,
            "gridPos": {"x": 0, "y": 16, "w": 24, "h": 1},
            "panels": [_ts("Inside", "up", 0, 17)],
        },
        {
            "type": "row",
            "title": "Repeats",
            "collapsed": False,
            "gridPos": {"x": 0, "y": 18, "w": 24, "h": 1},
        },
        {**_ts("Rep $rep", 'up{rep="$rep"} or up', 0, 19), "repeat": "rep", "maxPerRow": 3},
        {
            "type": "row",
            "title": "Row $rep",
            "repeat": "rep",
            "collapsed": False,
            "gridPos": {"x": 0, "y": 25, "w": 24, "h": 1},
        },
        _ts("In row $rep", 'up{job="$job"}', 0, 26),
    ],
}


def _serve(page: Any, dashboard: dict[str, Any]) -> None:
    body = json.dumps(
        {
            "status": "success",
            "data": {"uid": dashboard["uid"], "builtin": False, "dashboard": dashboard},
        }
    )
    page.route(
        f"**/api/vigil/v1/dashboards/{dashboard['uid']}",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )


def _range_queries(page: Any) -> list[dict[str, str]]:
    """Collects the form bodies of the query_range requests the page sends from now on."""
    sent: list[dict[str, str]] = []

    def record(request: Any) -> None:
        if request.url.endswith("/api/v1/query_range") and request.post_data:
            form = parse_qs(request.post_data)
            sent.append({k: v[0] for k, v in form.items()})

    page.on("request", record)
    return sent


def _settled_states(page: Any) -> dict[str, str]:
    from playwright.sync_api import expect

    expect(page.locator(".dashboard")).to_have_attribute(
        "data-dashboard-state", "done", timeout=30_000
    )
    panels = page.locator("[data-panel-state]")
    out = {}
    for i in range(panels.count()):
        el = panels.nth(i)
        out[el.get_attribute("data-panel-title") or ""] = el.get_attribute("data-panel-state") or ""
    return out


def test_node_dashboard_settles_with_cpu_and_memory_drawn(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    # CPU Basic is a rate: it needs a second scrape of the node metrics.
    wait_for_data(server, "rate(node_cpu_seconds_total[1m])", 40)
    page.goto(server + "/d/vigil-node")
    states = _settled_states(page)
    assert states, "no panels"
    assert set(states.values()) <= SETTLED, states
    for title in ("CPU Basic", "Memory Basic"):
        panel = page.locator(f'[data-panel-title="{title}"]')
        expect(panel).to_have_attribute("data-panel-state", "rendered")
        expect(panel.locator("canvas")).to_have_count(1)
        assert panel.locator("canvas").bounding_box()["height"] > 50
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-node.png"), full_page=True)


def test_home_shows_the_node_dashboard(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(server + "/")
    expect(page.locator(".dashboard h1")).to_have_text("Node")
    expect(page).to_have_url(re.compile(r"var-job=vigil"))


def test_panel_states_interpolation_and_escaping(
    server: str, page: Any, no_dialogs: list[str]
) -> None:
    from playwright.sync_api import expect

    _serve(page, DASHBOARD)
    sent = _range_queries(page)
    page.goto(server + "/d/g1-test")
    states = _settled_states(page)

    # Text stays text: the title, a panel title and a legend built from legendFormat.
    expect(page.locator(".dashboard h1")).to_have_text(f"Test {XSS}")
    assert f"Picked {XSS} up" in states
    memory = page.locator('[data-panel-title="Memory"]')
    expect(memory).to_have_attribute("data-panel-state", "rendered")
    expect(memory.locator(".u-legend")).to_contain_text(f"vigil {XSS} ")
    assert page.locator("img").count() == 0
    assert not no_dialogs

    assert states["Heat"] == "unsupported"
    expect(page.locator('[data-panel-title="Heat"]')).to_contain_text(
        "Panel type 'geomap' is not supported by vigil"
    )
    assert states["Elastic"] == "unsupported"
    expect(page.locator('[data-panel-title="Elastic"]')).to_contain_text(
        "This panel queries a elasticsearch datasource, which vigil does not serve."
    )
    assert states["Broken"] == "error"
    assert states["Multi"] == "nodata"
    expect(page.locator('[data-panel-title="Multi"]')).to_contain_text("No data")

    # The legacy graph: a table legend with the asked-for calcs, values shown as queried
    # (the negative-Y series is drawn below zero but its legend says 2 B).
    legacy = page.locator('[data-panel-title="Legacy"]')
    expect(legacy).to_have_attribute("data-panel-state", "rendered")
    expect(legacy.locator("canvas")).to_have_count(1)
    expect(legacy.locator(".legend-table th")).to_have_text(["Name", "Max", "Last *"])
    expect(legacy.locator(".legend-table tr", has_text="out").locator("td").nth(1)).to_have_text(
        "2 B"
    )

    exprs = {q["query"]: q for q in sent}
    # Multi values as Grafana's Prometheus datasource writes them: escaped regex alternation.
    assert 'up{job=~"(a\\\\.b|c)"}' in exprs, list(exprs)
    # maxDataPoints 100 over 1 h: 36 s rounds to 30 s; $__rate_interval = max(30+15, 4*15) s.
    picked = exprs['max(max_over_time(up{job="vigil"}[60s]))']
    assert float(picked["step"]) == 30
    assert float(picked["start"]) % 30 == 0
    expect(
        page.locator('[data-panel-title="Picked <img src=x onerror=alert(1)> up"]')
    ).to_contain_text("30s")


def test_variable_change_updates_url_and_requeries(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _serve(page, DASHBOARD)
    sent = _range_queries(page)
    page.goto(server + "/d/g1-test?var-metric=up")
    _settled_states(page)
    before = len(sent)
    page.get_by_label("metric", exact=True).select_option("scrape_duration_seconds")
    expect(page).to_have_url(re.compile(r"var-metric=scrape_duration_seconds"))
    title = f"Picked {XSS} scrape_duration_seconds"
    expect(page.locator(f'[data-panel-title="{title}"]')).to_have_attribute(
        "data-panel-state", "rendered"
    )
    new = [q["query"] for q in sent[before:]]
    assert 'max(max_over_time(scrape_duration_seconds{job="vigil"}[60s]))' in new, new
    # A reload keeps the choice.
    page.reload()
    expect(page.get_by_label("metric", exact=True)).to_have_value("scrape_duration_seconds")
    _settled_states(page)

    # The multi-value picker by keyboard alone: open it, move to "c", untick it.
    before = len(sent)
    page.locator('summary[data-var="multi"]').focus()
    page.keyboard.press("Enter")
    # Opening moves the focus to the search box (on the `toggle` event, which comes a task
    # later): wait for it, or the Tabs below start from the summary on a busy machine.
    expect(page.get_by_role("searchbox", name="Search multi")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    expect(page).to_have_url(re.compile(r"var-multi=a\.b&"))
    expect(page.locator('summary[data-var="multi"]')).to_have_text("a.b")
    _settled_states(page)
    new = [q["query"] for q in sent[before:]]
    assert 'up{job=~"a\\\\.b"}' in new, new
    page.keyboard.press("Escape")
    expect(page.locator('summary[data-var="multi"]')).to_be_focused()


def test_multi_value_picker_searches_its_options(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _serve(page, DASHBOARD)
    page.goto(server + "/d/g1-test")
    _settled_states(page)
    page.locator('summary[data-var="rep"]').click()
    search = page.get_by_role("searchbox", name="Search rep")
    expect(search).to_be_focused()
    options = page.locator(".var-multi[open] .var-option")
    expect(options.filter(visible=True)).to_have_text(["All", "x", "y", "z"])
    search.fill("Y")
    expect(options.filter(visible=True)).to_have_text(["All", "y"])
    page.get_by_role("checkbox", name="y", exact=True).check()
    expect(page).to_have_url(re.compile(r"var-rep=y(&|$)"))
    expect(page.locator('summary[data-var="rep"]')).to_have_text("y")
    # The picker stays open through the redraw, still narrowed to what was typed.
    expect(page.get_by_role("searchbox", name="Search rep")).to_have_value("Y")
    expect(options.filter(visible=True)).to_have_text(["All", "y"])
    page.get_by_role("searchbox", name="Search rep").fill("")
    expect(options.filter(visible=True)).to_have_text(["All", "x", "y", "z"])


def test_rows_collapse_and_repeats_copy_panels(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _serve(page, DASHBOARD)
    page.goto(server + "/d/g1-test")
    _settled_states(page)
    # One copy of the repeated panel per value of $rep (All = x, y, z), side by side.
    reps = page.locator('[data-panel-title^="Rep "]')
    expect(reps).to_have_count(3)
    assert [reps.nth(i).get_attribute("data-panel-title") for i in range(3)] == [
        "Rep x",
        "Rep y",
        "Rep z",
    ]
    boxes = [reps.nth(i).bounding_box() for i in range(3)]
    assert boxes[0]["y"] == boxes[1]["y"] == boxes[2]["y"]
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"]

    # The collapsed row's panels are not drawn until it is opened; its state lasts the session.
    closed = page.get_by_role("button", name="Closed")
    expect(closed).to_have_attribute("aria-expanded", "false")
    expect(page.locator('[data-panel-title="Inside"]')).to_have_count(0)
    closed.click()
    expect(closed).to_have_attribute("aria-expanded", "true")
    inside = page.locator('[data-panel-title="Inside"]')
    expect(inside).to_have_attribute("data-panel-state", "rendered")
    page.reload()
    expect(page.locator('[data-panel-title="Inside"]')).to_be_visible()
    page.get_by_role("button", name="Closed").click()
    expect(page.locator('[data-panel-title="Inside"]')).to_be_hidden()

    # A repeated row: one row (and its panels) per value, each bound to its value.
    expect(page.locator('[data-panel-type="row"][data-row-title^="Row "]')).to_have_count(3)
    expect(page.locator('[data-panel-title^="In row "]')).to_have_count(3)
    assert [
        t.get_attribute("data-panel-title")
        for t in page.locator('[data-panel-title^="In row "]').all()
    ] == [
        "In row x",
        "In row y",
        "In row z",
    ]

    # Fewer values, fewer copies.
    page.goto(server + "/d/g1-test?var-rep=y")
    _settled_states(page)
    expect(page.locator('[data-panel-title^="Rep "]')).to_have_count(1)
    expect(page.locator('[data-panel-title^="In row "]')).to_have_count(1)


def test_time_picker_sets_the_range_in_the_url(server: str, page: Any) -> None:
    import time

    from playwright.sync_api import expect

    _serve(page, DASHBOARD)
    sent = _range_queries(page)
    page.goto(server + "/d/g1-test")
    _settled_states(page)
    before = len(sent)
    page.get_by_label("Time range").select_option("now-24h")
    expect(page).to_have_url(re.compile(r"from=now-24h&to=now"))
    _settled_states(page)
    picked = [q for q in sent[before:] if q["query"].startswith("max(max_over_time(up")]
    assert picked, sent[before:]
    # 24 h over maxDataPoints 100: 864 s rounds to 900 s (15m); $__rate_interval = 915 s.
    assert float(picked[0]["step"]) == 900
    assert "[915s]" in picked[0]["query"]
    assert abs(float(picked[0]["end"]) - 86400 - float(picked[0]["start"])) <= 1800
    assert abs(float(picked[0]["end"]) - time.time()) < 1200

    # A custom range in epoch milliseconds, as Grafana's links write it.
    end_ms = int(time.time() * 1000) - 3_600_000
    page.goto(f"{server}/d/g1-test?from={end_ms - 1_800_000}&to={end_ms}")
    _settled_states(page)
    expect(page.get_by_label("Time range")).to_have_value("custom")
    expect(page.get_by_label("From", exact=True)).to_be_visible()


def test_list_imports_and_deletes(server: str, page: Any, tmp_path: Any) -> None:
    from playwright.sync_api import expect

    page.on("dialog", lambda d: d.accept())
    page.goto(server + "/dashboards")
    rows = page.locator("table.dash-list tbody tr")
    expect(rows.first).to_be_visible()
    # Built-ins first, without a delete button.
    assert rows.first.locator("button").count() == 0

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    page.get_by_label("Import a Grafana dashboard (.json)").set_input_files(str(bad))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("bad.json is not JSON")

    good = tmp_path / "mine.json"
    model = {"uid": "g1-import", "title": f"Mine {XSS}", "panels": [_ts("One", "up", 0, 0)]}
    good.write_text(json.dumps(model))
    page.get_by_label("Import a Grafana dashboard (.json)").set_input_files(str(good))
    page.get_by_role("button", name="Import", exact=True).click()
    link = page.get_by_role("link", name=f"Mine {XSS}").first
    expect(link).to_be_visible()
    assert page.locator("img").count() == 0
    row = page.locator('tr[data-uid="g1-import"]')
    row.get_by_role("button", name=f"Delete Mine {XSS}").click()
    expect(row).to_have_count(0)


def test_all_with_a_custom_all_value_queries_each_panel_once(server: str, page: Any) -> None:
    """The options of an "All" variable with an allValue load beside the panels; the panels'
    queries do not depend on them, so they are not sent a second time."""
    dashboard = {
        "uid": "g1-allvalue",
        "title": "All value",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {
            "list": [
                {
                    "type": "query",
                    "name": "job",
                    "query": "label_values(up, job)",
                    "includeAll": True,
                    "multi": True,
                    "allValue": ".+",
                    "current": {"value": ["$__all"], "text": ["All"]},
                }
            ]
        },
        "panels": [_ts("Up", 'up{job=~"$job"}', 0, 0)],
    }
    _serve(page, dashboard)
    sent = _range_queries(page)
    page.goto(server + "/d/g1-allvalue")
    assert _settled_states(page) == {"Up": "rendered"}
    assert [q["query"] for q in sent] == ['up{job=~".+"}']


CHAINED: dict[str, Any] = {
    "uid": "g1-chained",
    "title": "Chained",
    "time": {"from": "now-1h", "to": "now"},
    "templating": {
        "list": [
            {"type": "query", "name": "job", "query": "label_values(up, job)"},
            {"type": "query", "name": "inst", "query": 'label_values(up{job="$job"}, instance)'},
        ]
    },
    "panels": [_ts("Up", 'up{job="$job",instance="$inst"}', 0, 0)],
}


def _api_requests(page: Any) -> list[str]:
    """The API requests the page sends from now on, in order: path and parameters, decoded."""
    from urllib.parse import unquote_plus

    sent: list[str] = []

    def record(request: Any) -> None:
        if "/api/v1/" in request.url:
            sent.append(
                unquote_plus(request.url.split("/api/v1/", 1)[1] + (request.post_data or ""))
            )

    page.on("request", record)
    return sent


def _first_value(server: str, label: str, selector: str) -> str:
    answer = httpx.get(f"{server}/api/v1/label/{label}/values", params={"match[]": selector})
    return str(answer.json()["data"][0])


def test_variables_named_in_the_url_load_at_once_before_the_panels(server: str, page: Any) -> None:
    """Both variables' options are asked for with the URL's values, once each, before any
    panel query (the browser sends requests in the order they were made)."""
    _serve(page, CHAINED)
    sent = _api_requests(page)
    instance = _first_value(server, "instance", 'up{job="vigil"}')
    page.goto(f"{server}/d/g1-chained?var-job=vigil&var-inst={instance}")
    assert _settled_states(page) == {"Up": "rendered"}
    labels = [s for s in sent if s.startswith("label/")]
    assert [s.split("?")[0] for s in labels] == ["label/job/values", "label/instance/values"]
    assert 'match[]=up{job="vigil"}' in labels[1]
    first_query = next(i for i, s in enumerate(sent) if s.startswith("query"))
    assert sent.index(labels[1]) < first_query


def test_a_variable_whose_value_is_gone_reloads_the_ones_reading_it(server: str, page: Any) -> None:
    from playwright.sync_api import expect

    _serve(page, CHAINED)
    sent = _api_requests(page)
    page.goto(f"{server}/d/g1-chained?var-job=gone&var-inst=nowhere:1")
    _settled_states(page)
    job = _first_value(server, "job", "up")
    instance = _first_value(server, "instance", f'up{{job="{job}"}}')
    expect(page.get_by_label("job", exact=True)).to_have_value(job)
    expect(page.get_by_label("inst", exact=True)).to_have_value(instance)
    labels = [s for s in sent if s.startswith("label/instance/values")]
    assert ['match[]=up{job="gone"}' in s for s in labels] == [True, False], labels
    assert f'match[]=up{{job="{job}"}}' in labels[1]
