"""The built-in dashboards: every query parses as PromQL once Grafana's variables are
substituted, and every metric the Node one asks for is one vigil's own collectors export."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

import vigil.exporter.containers
from vigil.cmd.agent_app import AgentOptions, build_app
from vigil.dashboards import BUILTIN_UIDS, Dashboard, DashboardStore
from vigil.promql.ast import VectorSelector
from vigil.promql.parser import parse

# Grafana's built-in variables as it sends them for a 6 h window, and a plausible value for
# each dashboard variable (multi-value ones as Grafana renders them in a regex: `(a|b)`).
_BUILTIN_VARIABLES = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__range": "6h",
    "__range_s": "21600",
    "__interval_ms": "15000",
}
_PLAUSIBLE = {
    "job": "vigil",
    "nodename": "vm-1",
    "node": "127.0.0.1:9090",
    "instance": "(127.0.0.1:9090|10.0.0.2:9100)",
    "container": "(web|db)",
    "service": "(shop|petclinic)",
}
_MIN_QUERIES = {"vigil-node": 15, "vigil-containers": 15, "vigil-services": 10}
_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")


def _substitute(expr: str, names: set[str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match[1] or match[2] or match[3]
        if name in _BUILTIN_VARIABLES:
            return _BUILTIN_VARIABLES[name]
        assert name in names, f"{name} is not a variable of the dashboard"
        return _PLAUSIBLE[name]

    return _VARIABLE.sub(value, expr)


def _panels(panels: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _queries(dashboard: Dashboard) -> list[tuple[str, str]]:
    """(panel title, query with variables substituted) of every panel, query variable and notice."""
    variables = dashboard.model["templating"]["list"]
    names = {v["name"] for v in variables}
    found = [
        (panel["title"], _substitute(target["expr"], names))
        for panel in _panels(dashboard.model["panels"])
        for target in panel.get("targets", [])
    ]
    for variable in variables:
        if variable["type"] == "query":
            query = re.fullmatch(r"label_values\((.*),\s*\w+\)", variable["query"]["query"])
            assert query is not None, variable
            found.append((f"variable {variable['name']}", _substitute(query[1], names)))
    for notice in dashboard.model.get("vigilNotices", []):
        found.append((f"notice {notice['text']}", notice["expr"]))
    return found


def _metric_names(node: Any) -> Iterator[str]:
    if isinstance(node, VectorSelector):
        assert node.name is not None
        yield node.name
    if dataclasses.is_dataclass(node):
        for item in dataclasses.fields(node):
            yield from _metric_names(getattr(node, item.name))
    elif isinstance(node, tuple):
        for item in node:
            yield from _metric_names(item)


@pytest.fixture(scope="module")
def builtins(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Dashboard]:
    return DashboardStore(tmp_path_factory.mktemp("store") / "dashboards").builtins()


@pytest.mark.parametrize("uid", BUILTIN_UIDS)
def test_every_query_parses(builtins: dict[str, Dashboard], uid: str) -> None:
    dashboard = builtins[uid]
    queries = _queries(dashboard)
    assert len(queries) >= _MIN_QUERIES[uid]
    for title, query in queries:
        try:
            parse(query)
        except Exception as err:
            pytest.fail(f"{uid} panel {title!r}: {query}: {err}")
    model = dashboard.model
    assert model["schemaVersion"] == 39
    for panel in _panels(model["panels"]):
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "vigil"}, panel["title"]
            assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]


def test_node_layout_matches_node_exporter_full(builtins: dict[str, Dashboard]) -> None:
    model = builtins["vigil-node"].model
    variables = [v["name"] for v in model["templating"]["list"]]
    assert variables == ["ds_prometheus", "job", "nodename", "node"]
    top = model["panels"]
    assert top[0]["type"] == "row" and not top[0]["collapsed"]
    first_row = [p["title"] for p in top[1:] if p["gridPos"]["y"] < top[0]["gridPos"]["y"] + 5]
    assert {
        "CPU Busy",
        "Sys Load",
        "RAM Used",
        "Root FS Used",
        "Uptime",
        "CPU Cores",
        "RAM Total",
    } <= set(first_row)
    collapsed = [p["title"] for p in top if p["type"] == "row" and p["collapsed"]]
    assert collapsed == ["CPU", "Memory", "Network", "Disk I/O", "Filesystem", "System Load"]
    panels = [p for p in _panels(top) if p["type"] != "row"]
    assert 20 <= len(panels) <= 35
    units = {p["fieldConfig"]["defaults"]["unit"] for p in panels}
    assert {"percent", "bytes", "bps", "s", "short"} <= units


def test_node_metrics_are_exported_by_vigil(builtins: dict[str, Dashboard]) -> None:
    """Compared with what a `vigil agent` (the same collectors as `vigil server`) serves."""
    with TestClient(build_app(AgentOptions())) as client:
        body = client.get("/metrics").text
    exported = {line.split("{")[0].split(" ")[0] for line in body.splitlines() if line[:1] != "#"}
    queried = {
        name
        for _, query in _queries(builtins["vigil-node"])
        for name in _metric_names(parse(query))
    }
    assert len(queried) >= 30
    assert queried - exported == set()


def test_container_metrics_are_vigils(builtins: dict[str, Dashboard]) -> None:
    """Named in vigil's container collectors or the collectors' node_scrape_collector_*
    bookkeeping the no-Docker notice reads (no Docker needed to check the names)."""
    folder = Path(vigil.exporter.containers.__file__).parent
    files = [*folder.glob("*.py"), folder.parent / "_collector.py"]
    source = "".join(p.read_text() for p in files)
    queried = {
        name
        for _, query in _queries(builtins["vigil-containers"])
        for name in _metric_names(parse(query))
    }
    assert {"vigil_container_oom_killed_total", "container_spec_memory_limit_bytes"} <= queried
    assert {n for n in queried if f'"{n}"' not in source} == set()


def test_builtins_need_no_data_dir(tmp_path: Path) -> None:
    store = DashboardStore(tmp_path / "never-created")
    assert [s.uid for s in store.list()] == list(BUILTIN_UIDS)
    assert not store.directory.exists()
