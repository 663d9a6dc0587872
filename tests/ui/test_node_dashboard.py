"""Dashboards over a day of realistic history: Node Exporter Full (imported through the API
and through `vigil dashboards import`) and the built-in Node and Containers dashboards
render every supported panel. Also checks the history itself (tests/ui/history.py): a
day of samples per series, and the same answers from the real Prometheus on the same data.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.conftest import CONFORMANCE, peer
from tests.ui.conftest import ARTIFACTS, prometheus_server, start_server, vigil_server
from tests.ui.history import (
    INSTANCE,
    JOB,
    NODENAME,
    node_history,
    time_grid,
    write_blocks,
    write_openmetrics,
)

NODE_EXPORTER_FULL = CONFORMANCE / "grafana" / "node-exporter-full.json"
SUPPORTED = frozenset(
    {"timeseries", "graph", "stat", "gauge", "bargauge", "table", "text"}
    | {"heatmap", "state-timeline", "barchart", "piechart", "histogram"}
)
DAY_S = 86400
STEP_S = 15
# Queries of Node Exporter Full that vigil cannot answer, with the reason; a panel titled
# here may end in "error". Empty: every query is expected to work.
KNOWN_ERRORS: dict[str, str] = {}


def _query_range(base: str, query: str, end: float) -> list[dict[str, Any]]:
    body = httpx.get(
        f"{base}/api/v1/query_range",
        params={"query": query, "start": end - DAY_S, "end": end, "step": STEP_S},
        timeout=60,
    ).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def test_history_holds_a_day_per_series(history_server: str) -> None:
    """rate() over the last 24 h at 15 s has a point at (almost) every step for each CPU
    mode, and each CPU's modes add up to one second per second."""
    # the history's own end, not now: the fixture may have been written minutes ago
    status = httpx.get(f"{history_server}/api/v1/status/tsdb", timeout=60).json()["data"]
    now = max(block["maxTime"] for block in status["blocks"]) / 1000
    rates = _query_range(history_server, f'rate(node_cpu_seconds_total{{job="{JOB}"}}[5m])', now)
    points = Counter(len(r["values"]) for r in rates)
    assert len(rates) == 16 and min(points) >= DAY_S // STEP_S - 25, points
    per_cpu = _query_range(
        history_server, f'sum by (cpu) (rate(node_cpu_seconds_total{{job="{JOB}"}}[5m]))', now
    )
    # the first 5 minutes of the day extrapolate from fewer samples than the range holds
    sums = np.array([[float(v) for _, v in r["values"][20:]] for r in per_cpu])
    assert len(per_cpu) == 2 and np.allclose(sums, 1.0, atol=1e-3), (sums.min(), sums.max())


def test_history_reads_the_same_in_prometheus(tmp_path: Path) -> None:
    """The same generated samples, written by vigil's block writer and by `promtool tsdb
    create-blocks-from openmetrics`, answer the same range queries in vigil and Prometheus."""
    grid = time_grid(24, STEP_S)
    history = node_history(grid)
    write_blocks(history, tmp_path / "vigil")
    names = ["node_cpu_seconds_total", "node_network_receive_bytes_total", "node_load1"]
    om = tmp_path / "history.om"
    write_openmetrics(history.select(names), om)
    created = subprocess.run(
        [
            peer("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            str(om),
            str(tmp_path / "prom"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert created.returncode == 0, created.stderr
    # between two scrapes, so no sample sits on a range's edge: Prometheus 2.42's windows
    # are closed on the left, vigil's (as Prometheus 3's) open
    end = int(grid[-1]) / 1000 - STEP_S / 2
    queries = [
        'rate(node_cpu_seconds_total{mode="user"}[5m])',
        "sum by (cpu) (rate(node_cpu_seconds_total[5m]))",
        'rate(node_network_receive_bytes_total{device="eth0"}[5m])',
        "avg_over_time(node_load1[1h])",
    ]
    with (
        prometheus_server(tmp_path / "prom", tmp_path) as prom,
        vigil_server(tmp_path / "vigil") as base,
    ):
        for query in queries:
            ours, theirs = _query_range(base, query, end), _query_range(prom, query, end)
            got, want = _matrix(ours), _matrix(theirs)
            assert got.keys() == want.keys() and got, query
            for key, points in want.items():
                ours_a, theirs_a = np.array(got[key]), np.array(points)
                assert ours_a.shape == theirs_a.shape, (query, key)
                assert np.allclose(ours_a, theirs_a, rtol=1e-9, atol=0), (query, key)


def _matrix(result: list[dict[str, Any]]) -> dict[str, list[tuple[float, float]]]:
    return {
        json.dumps(r["metric"], sort_keys=True): [(float(t), float(v)) for t, v in r["values"]]
        for r in result
    }


# ---------------------------------------------------------------- dashboards in the browser


def _upload(base: str, model: dict[str, Any]) -> str:
    """Import a dashboard through the API as Grafana's import does; returns its uid."""
    response = httpx.post(
        f"{base}/api/vigil/v1/dashboards",
        json={"dashboard": model, "overwrite": True},
        headers={"X-Vigil-UI": "1"},
        timeout=30,
    )
    assert response.status_code in (200, 201), response.text
    return str(model["uid"])


def _render_all(page: object, url: str, screenshot: Path) -> Counter[tuple[str, str]]:
    """Open a dashboard without auto refresh, expand every collapsed row, wait until no panel is loading;
    returns (panel type, state) counts and saves a full-page screenshot."""
    from playwright.sync_api import Page, expect

    assert isinstance(page, Page)
    # Auto refresh off (Node Exporter Full refreshes every minute): a refresh while the states
    # are read would show panels loading again.
    page.goto(url + ("&" if "?" in url else "?") + "refresh=")
    root = page.locator("[data-dashboard-state]").first
    expect(root).to_have_attribute("data-dashboard-state", "done", timeout=60_000)
    collapsed = page.locator("[data-panel-type='row'] [aria-expanded='false']")
    for _ in range(collapsed.count()):
        collapsed.first.click()
    expect(collapsed).to_have_count(0)
    expect(root).to_have_attribute("data-dashboard-state", "done", timeout=120_000)
    panels = page.locator("[data-panel-state]")
    states = Counter(
        (
            panels.nth(i).get_attribute("data-panel-type") or "?",
            panels.nth(i).get_attribute("data-panel-state") or "?",
        )
        for i in range(panels.count())
    )
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    return states


def _failures(page: object, allowed: frozenset[str] = frozenset()) -> list[str]:
    """Titles and types of supported panels that ended neither rendered nor without data."""
    from playwright.sync_api import Page

    assert isinstance(page, Page)
    panels = page.locator("[data-panel-state]")
    bad = []
    for i in range(panels.count()):
        panel = panels.nth(i)
        kind = panel.get_attribute("data-panel-type") or ""
        state = panel.get_attribute("data-panel-state") or ""
        title = panel.get_attribute("data-panel-title") or ""
        if kind in SUPPORTED and state not in ("rendered", "nodata") and title not in allowed:
            bad.append(f"{title!r} ({kind}): {state}")
    return bad


def _count_line(name: str, states: Counter[tuple[str, str]]) -> str:
    supported = sum(n for (kind, _), n in states.items() if kind in SUPPORTED)
    rendered = sum(n for (kind, s), n in states.items() if kind in SUPPORTED and s == "rendered")
    nodata = sum(n for (kind, s), n in states.items() if kind in SUPPORTED and s == "nodata")
    unsupported = sum(n for (kind, s), n in states.items() if s == "unsupported")
    return (
        f"{name}: {rendered + nodata}/{supported} supported panels render "
        f"({rendered} with data, {nodata} no data), {unsupported} unsupported"
    )


def _expected_panels(model: dict[str, Any]) -> Counter[str]:
    def walk(panels: list[dict[str, Any]]) -> Iterator[str]:
        for p in panels:
            if p.get("type") != "row":
                yield str(p.get("type"))
            yield from walk(p.get("panels", []))

    return Counter(walk(model["panels"]))


# the time of the history's last sample, however long ago the server started
# The raw samples of a day: the last one's time exactly (a subquery's steps could miss it).
LAST_SAMPLE = f'up{{job="{JOB}"}}[1d]'
NODE_VARS = f"var-job={JOB}&var-nodename={NODENAME}&var-node={INSTANCE}"


def _the_day(base: str) -> str:
    """The dashboard range of the history's last 24 h, as absolute times: the history ends
    when the server starts and nothing extends it, so `to=now` would drift past its end
    (see test_rate_past_the_end_of_a_series)."""
    end_ms = int(_last_sample(base) * 1000)
    return f"from={end_ms - DAY_S * 1000}&to={end_ms}"


def _last_sample(base: str) -> float:
    body = httpx.get(f"{base}/api/v1/query", params={"query": LAST_SAMPLE}, timeout=30).json()
    return float(body["data"]["result"][0]["values"][-1][0])


@pytest.mark.slow
def test_rate_past_the_end_of_a_series(history_server: str) -> None:
    """A host that stopped reporting: its rate ends where its samples end, no error."""
    end = _last_sample(history_server)
    response = httpx.get(
        f"{history_server}/api/v1/query_range",
        params={
            "query": f'rate(node_intr_total{{job="{JOB}"}}[1m])',
            "start": end - 600,
            "end": end + 600,
            "step": STEP_S,
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    (series,) = response.json()["data"]["result"]
    assert float(series["values"][-1][0]) <= end + 60


@pytest.mark.slow
def test_node_exporter_full_renders_over_a_day(
    history_server: str, page: object, summary: Callable[[str], None]
) -> None:
    model = json.loads(NODE_EXPORTER_FULL.read_text())
    uid = _upload(history_server, model)
    states = _render_all(
        page,
        f"{history_server}/d/{uid}?{NODE_VARS}&{_the_day(history_server)}",
        ARTIFACTS / "node-exporter-full.png",
    )
    summary(_count_line("Node Exporter Full", states))
    expected = _expected_panels(model)
    assert sum(states.values()) == sum(expected.values()), (states, expected)
    assert _failures(page, frozenset(KNOWN_ERRORS)) == []


@pytest.mark.slow
def test_node_exporter_full_imported_by_the_cli(tmp_path: Path, page: object) -> None:
    """`vigil dashboards import FILE` into a data dir, then a server on it lists and
    renders it (the top rows; the history is not needed for that)."""
    from tests.ui.history import write_history

    write_history(tmp_path, hours=3, containers=False)
    imported = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigil",
            "dashboards",
            "import",
            str(NODE_EXPORTER_FULL),
            f"--storage.tsdb.path={tmp_path}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert imported.returncode == 0, imported.stderr
    uid = json.loads(NODE_EXPORTER_FULL.read_text())["uid"]
    proc, base = start_server(tmp_path)
    try:
        from playwright.sync_api import Page, expect

        assert isinstance(page, Page)
        page.goto(f"{base}/d/{uid}?{NODE_VARS}&{_the_day(base)}")
        expect(page.locator("[data-dashboard-state]").first).to_have_attribute(
            "data-dashboard-state", "done", timeout=60_000
        )
        assert page.locator("[data-panel-state]").count() > 0
        assert _failures(page, frozenset(KNOWN_ERRORS)) == []
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("uid", "query", "screenshot"),
    [
        (
            "vigil-node",
            f"var-job={JOB}&var-nodename={NODENAME}&var-node={INSTANCE}",
            "node-dashboard.png",
        ),
        ("vigil-containers", f"var-instance={INSTANCE}", "containers-dashboard.png"),
    ],
)
def test_builtin_dashboard_renders_over_a_day(
    history_server: str,
    page: object,
    summary: Callable[[str], None],
    uid: str,
    query: str,
    screenshot: str,
) -> None:
    states = _render_all(
        page,
        f"{history_server}/d/{uid}?{query}&{_the_day(history_server)}",
        ARTIFACTS / screenshot,
    )
    summary(_count_line(f"built-in {uid}", states))
    assert sum(states.values()) > 0
    assert _failures(page) == []
