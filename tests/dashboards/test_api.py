"""The dashboards HTTP API through Starlette's TestClient: vigil's routes for the UI and
Grafana's import/search routes for its tooling."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.conftest import CONFORMANCE
from vigil.cmd.server_process import Server, ServerOptions
from vigil.dashboards import BUILTIN_UIDS, MAX_BYTES, DashboardStore, count_panels
from vigil.web.dashboards_api import DashboardsAPI

API = "/api/vigil/v1/dashboards"
NODE_EXPORTER_FULL = CONFORMANCE / "grafana" / "node-exporter-full.json"
PLAIN = {"uid": "plain-1", "title": "Plain Board", "tags": ["team"], "panels": [{"type": "text"}]}


@pytest.fixture
def store(tmp_path: Path) -> DashboardStore:
    return DashboardStore(tmp_path / "dashboards")


@pytest.fixture
def client(store: DashboardStore) -> Iterator[TestClient]:
    with TestClient(Starlette(routes=DashboardsAPI(store).routes())) as client:
        yield client


def _error(body: Any) -> tuple[str, str]:
    assert body["status"] == "error"
    return body["errorType"], body["error"]


def test_list_get_and_delete(client: TestClient) -> None:
    assert client.post(API, json=PLAIN).status_code == 200
    listed = client.get(API).json()
    assert listed["status"] == "success"
    assert [e["uid"] for e in listed["data"]] == [*BUILTIN_UIDS, "plain-1"]
    entry = listed["data"][-1]
    assert entry["title"] == "Plain Board" and entry["tags"] == ["team"]
    assert entry["builtin"] is False and entry["panels"] == 1 and entry["updated"].endswith("Z")
    assert listed["data"][0]["builtin"] is True and listed["data"][0]["updated"] is None
    got = client.get(f"{API}/plain-1").json()["data"]
    assert got == {"uid": "plain-1", "builtin": False, "dashboard": PLAIN}
    node = client.get(f"{API}/vigil-node").json()["data"]
    assert node["builtin"] is True and node["dashboard"]["title"] == "Node"
    assert client.delete(f"{API}/plain-1").status_code == 200
    response = client.get(f"{API}/plain-1")
    assert (response.status_code, _error(response.json())[0]) == (404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "status", "error_type"),
    [
        ("DELETE", f"{API}/vigil-node", 403, "forbidden"),
        ("DELETE", f"{API}/vigil-containers", 403, "forbidden"),
        ("DELETE", f"{API}/unknown", 404, "not_found"),
        ("GET", f"{API}/unknown", 404, "not_found"),
    ],
)
def test_refusals(client: TestClient, method: str, path: str, status: int, error_type: str) -> None:
    response = client.request(method, path)
    assert (response.status_code, _error(response.json())[0]) == (status, error_type)


def test_conflict_then_overwrite(client: TestClient) -> None:
    assert client.post(API, json=PLAIN).status_code == 200
    changed = {**PLAIN, "title": "Changed"}
    response = client.post(API, json=changed)
    assert response.status_code == 409
    assert "exists already" in _error(response.json())[1]
    assert (
        client.post(API, params={"overwrite": "true"}, json=changed).json()["data"]["title"]
        == "Changed"
    )
    wrapped = {"dashboard": {**PLAIN, "title": "Wrapped"}, "overwrite": True}
    assert client.post(API, json=wrapped).json()["data"]["title"] == "Wrapped"
    builtin = client.post(API, json={"uid": "vigil-node", "title": "x", "panels": []})
    assert builtin.status_code == 409 and "built-in" in builtin.json()["error"]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (
            b"{nope",
            {},
            400,
            "request body: not JSON: Expecting property name enclosed in double quotes at line 1, column 2",
        ),
        (
            b'{"title": "t"}',
            {},
            400,
            'request body: JSON but not a dashboard: it has no "panels" field',
        ),
        (b"", {}, 400, "request body is empty"),
        (b"x" * (MAX_BYTES + 1), {}, 400, "request body is more than the 10 MiB allowed"),
        (b"{}", {"origin": "http://evil.example"}, 403, "cross-site request refused"),
        (b"{}", {"sec-fetch-site": "cross-site"}, 403, "cross-site request refused"),
    ],
    ids=["not-json", "not-dashboard", "empty", "too-large", "other-origin", "cross-site"],
)
def test_bad_posts(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    response = client.post(
        API, content=body, headers={"content-type": "application/json", **headers}
    )
    assert response.status_code == status
    assert message in _error(response.json())[1]


def test_same_origin_browser_post_is_accepted(client: TestClient) -> None:
    headers = {"origin": "http://testserver", "x-vigil-ui": "1", "sec-fetch-site": "same-origin"}
    assert client.post(API, json=PLAIN, headers=headers).status_code == 200


def test_multipart_upload_of_node_exporter_full(client: TestClient, summary: Any) -> None:
    raw = NODE_EXPORTER_FULL.read_bytes()
    files = {"file": ("node-exporter-full.json", raw, "application/json")}
    response = client.post(API, files=files)
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["panels"] == count_panels(json.loads(raw)["panels"])
    stored = client.get(f"{API}/{data['uid']}").json()["data"]["dashboard"]
    assert count_panels(stored["panels"]) == data["panels"]
    summary(f"dashboards: Node Exporter Full through the API: {data['panels']} panels")


def test_multipart_errors_name_the_file(client: TestClient) -> None:
    bad = client.post(API, files={"file": ("board.json", b"[]", "application/json")})
    assert bad.status_code == 400
    assert _error(bad.json())[1].startswith("upload board.json: JSON but not a dashboard")
    missing = client.post(API, files={"other": ("board.json", b"{}", "application/json")})
    assert missing.status_code == 400
    assert 'no file in a field named "file"' in _error(missing.json())[1]


def test_grafana_import_and_search(client: TestClient) -> None:
    body = {"dashboard": {**PLAIN, "id": None}, "folderId": 0, "overwrite": False, "message": "x"}
    created = client.post("/api/dashboards/db", json=body)
    assert created.status_code == 200
    assert created.json() | {"id": 0} == {
        "id": 0,
        "uid": "plain-1",
        "url": "/d/plain-1/plain-board",
        "status": "success",
        "version": 1,
        "slug": "plain-board",
    }
    again = client.post("/api/dashboards/db", json=body)
    assert (again.status_code, again.json()["status"]) == (412, "name-exists")
    bad = client.post("/api/dashboards/db", json={"dashboard": {"title": "x"}})
    assert bad.status_code == 400 and "panels" in bad.json()["message"]
    hits = client.get("/api/search", params={"type": "dash-db"}).json()
    assert [h["uid"] for h in hits] == [*BUILTIN_UIDS, "plain-1"]
    assert hits[-1]["type"] == "dash-db" and hits[-1]["url"] == "/d/plain-1/plain-board"
    assert [h["uid"] for h in client.get("/api/search", params={"query": "plain"}).json()] == [
        "plain-1"
    ]
    assert [h["uid"] for h in client.get("/api/search", params={"tag": "team"}).json()] == [
        "plain-1"
    ]
    assert client.get("/api/search", params={"type": "dash-folder"}).json() == []
    got = client.get("/api/dashboards/uid/plain-1").json()
    assert got["dashboard"]["title"] == "Plain Board" and got["meta"]["slug"] == "plain-board"
    assert client.delete("/api/dashboards/uid/vigil-node").status_code == 400
    assert client.delete("/api/dashboards/uid/plain-1").status_code == 200
    assert client.get("/api/dashboards/uid/plain-1").status_code == 404


def test_corrupt_file_is_an_error_entry_not_a_crash(
    client: TestClient, store: DashboardStore
) -> None:
    store.directory.mkdir(parents=True)
    (store.directory / "broken.json").write_bytes(b"\x00\x01")
    entries = client.get(API).json()["data"]
    broken = next(e for e in entries if e["uid"] == "broken")
    assert "not JSON" in broken["error"]
    response = client.get(f"{API}/broken")
    assert response.status_code == 500 and "not JSON" in response.json()["error"]
    assert "broken" not in [h["uid"] for h in client.get("/api/search").json()]


def test_server_mounts_the_api_on_its_data_dir(tmp_path: Path) -> None:
    options = ServerOptions(
        data_dir=tmp_path / "data",
        host_collectors=False,
        alertmanager_enabled=False,
        default_rules=False,
    )
    server = Server(options)
    with TestClient(server.app()) as client:
        assert client.post(API, json=PLAIN).status_code == 200
        assert [e["uid"] for e in client.get(API).json()["data"]] == [*BUILTIN_UIDS, "plain-1"]
    assert (tmp_path / "data" / "dashboards" / "plain-1.json").is_file()
