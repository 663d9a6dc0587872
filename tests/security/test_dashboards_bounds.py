"""The dashboards API checks everything before it writes: a dashboard that normalises past the
size cap, or JSON nested 100,000 deep, is a 400 with nothing left on disk; the built-in
dashboards are read-only (409, even with overwrite); no answer shows a server path."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, running

API = "/api/vigil/v1/dashboards"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    root = tmp_path_factory.mktemp("vigil-dashboards")
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--config.file={config}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, f"http://127.0.0.1:{port}/-/ready", 60):
        yield f"http://127.0.0.1:{port}", root


def _many_panels(count: int) -> bytes:
    """Compact JSON under the 10 MiB cap whose normalised form (indented, with grid
    positions filled in) is over it."""
    panels = [{"id": i, "type": "graph", "targets": [{"expr": "up"}]} for i in range(count)]
    return json.dumps({"uid": "huge", "title": "Huge", "panels": panels}).encode()


def _stored(root: Path) -> list[str]:
    folder = root / "data" / "dashboards"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


CASES = [
    ("normalised past the cap", "huge", _many_panels(100_000), {}, 400),
    (
        "nested 100,000 deep",
        "deep",
        b'{"uid": "deep", "title": "d", "panels": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        {},
        400,
    ),
    ("a built-in", "vigil-node", b'{"uid": "vigil-node", "title": "Mine", "panels": []}', {}, 409),
    (
        "a built-in, overwrite",
        "vigil-node",
        b'{"uid": "vigil-node", "title": "Mine", "panels": []}',
        {"overwrite": "true"},
        409,
    ),
]


@pytest.mark.parametrize(
    ("name", "uid", "body", "params", "status"), CASES, ids=[c[0] for c in CASES]
)
def test_refused_imports_leave_nothing_behind(
    server: tuple[str, Path], name: str, uid: str, body: bytes, params: dict[str, str], status: int
) -> None:
    base, root = server
    assert len(body) < 10 << 20
    response = httpx.post(
        base + API,
        content=body,
        params=params,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    assert response.status_code == status, response.text
    assert str(root) not in response.text and "/dashboards/" not in response.text
    assert _stored(root) == []
    got = httpx.get(f"{base}{API}/{uid}", timeout=30)
    if uid == "vigil-node":
        assert got.json()["data"]["dashboard"]["title"] == "Node"
    else:
        assert got.status_code == 404


def test_grafana_import_of_a_built_in_is_refused(server: tuple[str, Path]) -> None:
    base, root = server
    body = {"dashboard": {"uid": "vigil-node", "title": "Mine", "panels": []}, "overwrite": True}
    response = httpx.post(f"{base}/api/dashboards/db", json=body, timeout=30)
    assert response.status_code == 400 and "read-only" in response.json()["message"]
    assert _stored(root) == []
