"""DashboardStore: the accepted import forms, each kind of bad input, conflicts, built-ins and
files in the directory that are not what the store wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CONFORMANCE
from vigil.dashboards import (
    BUILTIN_UIDS,
    MAX_BYTES,
    BuiltinDashboardError,
    DashboardConflictError,
    DashboardError,
    DashboardNotFoundError,
    DashboardStore,
    count_panels,
    rows_to_panels,
)

NODE_EXPORTER_FULL = CONFORMANCE / "grafana" / "node-exporter-full.json"
VIGIL = {"type": "prometheus", "uid": "vigil"}


def _panel(pid: int, expr: str = "up", datasource: Any = None) -> dict[str, Any]:
    return {
        "id": pid,
        "type": "timeseries",
        "title": f"panel {pid}",
        "datasource": datasource,
        "targets": [{"refId": "A", "expr": expr, "datasource": datasource}],
        "gridPos": {"x": 0, "y": pid, "w": 12, "h": 8},
    }


PLAIN = {"uid": "plain-1", "title": "Plain", "tags": ["a"], "panels": [_panel(1)]}

EXTERNAL = {
    "__inputs": [
        {"name": "DS_PROM", "label": "Prom", "type": "datasource", "pluginId": "prometheus"},
        {"name": "VAR_ENV", "type": "constant", "value": "prod"},
    ],
    "__requires": [{"type": "datasource", "id": "prometheus", "name": "Prometheus"}],
    "uid": "ext-1",
    "title": "External",
    "panels": [
        _panel(1, 'up{env="${VAR_ENV}"}', "${DS_PROM}"),
        _panel(2, "up", {"type": "prometheus", "uid": "${DS_PROM}"}),
        {**_panel(3), "datasource": {"type": "${DS_PROM}", "uid": "abc"}},
    ],
    "templating": {
        "list": [{"name": "job", "type": "query", "datasource": "${DS_PROM}", "query": "x"}]
    },
    "annotations": {
        "list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}}]
    },
}

WRAPPED = {"dashboard": {"title": "Wrapped", "panels": [_panel(1)]}, "overwrite": False}

OLD_ROWS = {
    "uid": "old-1",
    "title": "Old",
    "schemaVersion": 14,
    "rows": [
        {
            "title": "First",
            "showTitle": True,
            "height": "250px",
            "panels": [
                {"id": 1, "type": "graph", "span": 6},
                {"id": 2, "type": "graph", "span": 6},
                {"id": 3, "type": "singlestat", "span": 4},
            ],
        },
        {
            "title": "Hidden",
            "collapse": True,
            "height": 300,
            "panels": [{"id": 4, "type": "graph", "span": 12, "height": "150px"}],
        },
    ],
}


def _datasources(value: Any) -> list[Any]:
    if isinstance(value, dict):
        found = [v for k, v in value.items() if k == "datasource"]
        return found + [d for v in value.values() for d in _datasources(v)]
    if isinstance(value, list):
        return [d for v in value for d in _datasources(v)]
    return []


@pytest.fixture
def store(tmp_path: Path) -> DashboardStore:
    return DashboardStore(tmp_path / "dashboards")


def test_plain_dashboard_is_kept_as_it_is(store: DashboardStore) -> None:
    dashboard = store.import_dashboard(json.dumps(PLAIN).encode(), "plain.json")
    assert (dashboard.uid, dashboard.title, dashboard.tags, dashboard.builtin) == (
        "plain-1",
        "Plain",
        ("a",),
        False,
    )
    assert dashboard.model == PLAIN  # a null datasource stays null: Grafana's default = vigil
    stored = json.loads((store.directory / "plain-1.json").read_text())
    assert stored == PLAIN
    assert [p.name for p in store.directory.iterdir()] == ["plain-1.json"]  # no tmp left


def test_external_export_resolves_every_datasource_to_vigil(store: DashboardStore) -> None:
    dashboard = store.import_dashboard(json.dumps(EXTERNAL).encode(), "ext.json")
    model = dashboard.model
    assert "__inputs" not in model and "__requires" not in model
    refs = [r for r in _datasources(model["panels"]) + _datasources(model["templating"]) if r]
    assert refs and all(r["type"] == "prometheus" and r["uid"] == "vigil" for r in refs), refs
    assert model["panels"][0]["targets"][0]["expr"] == 'up{env="prod"}'
    assert model["annotations"] == EXTERNAL["annotations"]  # Grafana's own stays


def test_library_panels_of_an_export_are_inlined(store: DashboardStore) -> None:
    export = {
        "title": "Lib",
        "__elements": {"lib1": {"uid": "lib1", "model": {"type": "stat", "title": "From lib"}}},
        "panels": [
            {"id": 7, "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}, "libraryPanel": {"uid": "lib1"}}
        ],
    }
    model = store.import_dashboard(json.dumps(export).encode(), "lib.json").model
    assert model["panels"] == [
        {"type": "stat", "title": "From lib", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4}, "id": 7}
    ]
    assert "__elements" not in model


def test_api_wrapper_and_its_overwrite_flag(store: DashboardStore) -> None:
    first = store.import_dashboard(json.dumps(WRAPPED).encode(), "w.json")
    assert first.title == "Wrapped"
    assert first.uid.startswith("wrapped-") and len(first.uid) <= 40
    with pytest.raises(DashboardConflictError, match="exists already"):
        store.import_dashboard(json.dumps(WRAPPED).encode(), "w.json")  # same content, same uid
    again = {**WRAPPED, "overwrite": True}
    assert store.import_dashboard(json.dumps(again).encode(), "w.json").uid == first.uid


def test_old_rows_become_panels_with_grid_positions(store: DashboardStore) -> None:
    model = store.import_dashboard(json.dumps(OLD_ROWS).encode(), "old.json").model
    assert "rows" not in model and model["schemaVersion"] == 16
    layout = [
        (p["type"], p.get("title"), p["gridPos"], [q["gridPos"] for q in p.get("panels", [])])
        for p in model["panels"]
    ]
    assert layout == [
        ("row", "First", {"x": 0, "y": 0, "w": 24, "h": 1}, []),
        ("graph", None, {"x": 0, "y": 1, "w": 12, "h": 7}, []),
        ("graph", None, {"x": 12, "y": 1, "w": 12, "h": 7}, []),
        ("singlestat", None, {"x": 0, "y": 8, "w": 8, "h": 7}, []),
        ("row", "Hidden", {"x": 0, "y": 15, "w": 24, "h": 1}, [{"x": 0, "y": 16, "w": 24, "h": 4}]),
    ]
    assert all("span" not in p for p in model["panels"])
    assert [p["id"] for p in model["panels"] if p["type"] == "row"] == [5, 6]  # after the max
    assert model["panels"][-1]["collapsed"] is True


def test_rows_without_titles_give_no_row_panels() -> None:
    panels = rows_to_panels([{"panels": [{"id": 1, "span": 12}]}, {"panels": [{"id": 2}]}])
    assert [(p["id"], p["gridPos"]) for p in panels] == [
        (1, {"x": 0, "y": 0, "w": 24, "h": 7}),
        (2, {"x": 0, "y": 7, "w": 8, "h": 7}),
    ]


BAD_INPUT = [
    (
        "not json",
        b'{"title": "x",\n  "panels": [}',
        "not JSON: Expecting value at line 2, column 14",
    ),
    ("not utf-8", b'{"title": "\xff"}', "not JSON: not UTF-8 text (byte 0xff at offset 11)"),
    ("a list", b"[1, 2]", "JSON but not a dashboard: the top level is a list, not an object"),
    ("no panels", b'{"title": "x"}', 'JSON but not a dashboard: it has no "panels" field'),
    (
        "panels not a list",
        b'{"title": "x", "panels": {}}',
        'field "panels" is an object, not a list',
    ),
    ("panel not an object", b'{"title": "x", "panels": [3]}', "panels[0] is a number, not a panel"),
    (
        "bad nested panel",
        b'{"title": "x", "panels": [{"panels": ["a"]}]}',
        "panels[0].panels[0] is a string",
    ),
    (
        "bad row",
        b'{"title": "x", "rows": [{"panels": 1}]}',
        "rows[0].panels is a number, not a list",
    ),
    ("no title", b'{"panels": []}', 'field "title" is missing or empty'),
    (
        "uid chars",
        b'{"title": "x", "uid": "a/b", "panels": []}',
        'field "uid" is "a/b": a uid is 1 to 40',
    ),
    (
        "uid length",
        b'{"title": "x", "uid": "' + b"a" * 41 + b'", "panels": []}',
        "1 to 40 characters",
    ),
    ("uid type", b'{"title": "x", "uid": 7, "panels": []}', 'field "uid" is 7'),
    (
        "tags",
        b'{"title": "x", "tags": "a", "panels": []}',
        'field "tags" must be a list of strings',
    ),
    ("inputs", b'{"title": "x", "__inputs": {}, "panels": []}', 'field "__inputs" must be a list'),
    ("too large", b" " * (MAX_BYTES + 1), "is 10.0 MiB, more than the 10 MiB allowed"),
]


@pytest.mark.parametrize(
    ("raw", "reason"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_names_the_source_and_why(store: DashboardStore, raw: bytes, reason: str) -> None:
    with pytest.raises(DashboardError) as caught:
        store.import_dashboard(raw, "upload/bad.json")
    assert str(caught.value).startswith("upload/bad.json: ")
    assert reason in caught.value.reason
    assert not store.directory.exists()  # nothing written


def test_builtins_listed_first_and_protected(store: DashboardStore) -> None:
    store.import_dashboard(json.dumps({**PLAIN, "title": "Aardvark"}).encode(), "a.json")
    assert [s.uid for s in store.list()] == [*BUILTIN_UIDS, "plain-1"]
    with pytest.raises(BuiltinDashboardError):
        store.delete("vigil-node")
    shadow = json.dumps({"uid": "vigil-node", "title": "My node", "panels": []}).encode()
    for overwrite in (False, True):
        with pytest.raises(BuiltinDashboardError, match="read-only"):
            store.import_dashboard(shadow, "mine.json", overwrite=overwrite)
    assert not (store.directory / "vigil-node.json").exists()
    (store.directory / "vigil-node.json").write_bytes(shadow)  # dropped by hand: it shadows
    assert store.get("vigil-node").title == "My node"
    assert [s.title for s in store.list()][:2] == ["My node", "Containers"]
    store.delete("vigil-node")  # removes the shadowing copy: the shipped one is back
    assert store.get("vigil-node").title == "Node"
    with pytest.raises(DashboardNotFoundError):
        store.delete("nope")


def test_corrupt_and_hand_dropped_files(store: DashboardStore) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "broken.json").write_text('{"title": "half')
    (store.directory / "bad name!.json").write_text(json.dumps(PLAIN))
    (store.directory / "dropped.json").write_text(json.dumps({**EXTERNAL, "uid": "other"}))
    (store.directory / ".tmp.json.123.tmp").write_text("x")
    listed = {s.uid: s for s in store.list()}
    assert listed["broken"].error is not None and "not JSON" in listed["broken"].error
    assert listed["bad name!"].error is not None and "not a valid uid" in listed["bad name!"].error
    dropped = store.get("dropped")  # the file name is the uid; datasources resolved on read
    assert dropped.model["uid"] == "dropped" and dropped.title == "External"
    assert all(r["uid"] == "vigil" for r in _datasources(dropped.model["panels"]) if r)
    with pytest.raises(DashboardError, match="not JSON"):
        store.get("broken")
    assert (store.directory / "broken.json").exists()  # never deleted
    assert set(listed) == {*BUILTIN_UIDS, "broken", "bad name!", "dropped"}


def test_changed_file_is_read_again(store: DashboardStore) -> None:
    store.import_dashboard(json.dumps(PLAIN).encode(), "p.json")
    assert store.get("plain-1").title == "Plain"
    (store.directory / "plain-1.json").write_text(json.dumps({**PLAIN, "title": "Changed!"}))
    assert store.get("plain-1").title == "Changed!"


def test_node_exporter_full_keeps_every_panel(store: DashboardStore, summary: Any) -> None:
    raw = NODE_EXPORTER_FULL.read_bytes()
    want = count_panels(json.loads(raw)["panels"])
    dashboard = store.import_dashboard(raw, str(NODE_EXPORTER_FULL))
    assert dashboard.panel_count == want > 100
    assert all(r["uid"] == "vigil" for r in _datasources(dashboard.model["panels"]) if r)
    summary(f"dashboards: Node Exporter Full imported with {dashboard.panel_count}/{want} panels")


def test_rows_are_not_counted_as_panels() -> None:
    panels = [
        {"type": "row", "title": "Open", "collapsed": False},
        {"type": "timeseries"},
        {
            "type": "row",
            "title": "Closed",
            "collapsed": True,
            "panels": [{"type": "stat"}, {"type": "gauge"}],
        },
        "not a panel",
    ]
    assert count_panels(panels) == 3
