"""URLs under /static/ cannot grow memory or reach a 500: a path is normalised and checked
before anything is read or cached, and the cache is keyed by the file it resolves to."""

from __future__ import annotations

import http.client
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.conftest import free_port, running
from tests.security.conftest import LiveServer
from vigil.web.ui import UIAssets


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    root = tmp_path / "static"
    root.mkdir()
    (root / "app.js").write_text("console.log(1)\n")
    (root / "index.html").write_text("<html></html>\n")
    (tmp_path / "secret.txt").write_text("not for the web\n")
    return root


CASES = [
    ("/static/app.js", 200),
    ("/static/unique-1/../app.js", 200),
    ("/static/a/b/../../app.js", 200),
    ("/static/./app.js", 200),
    ("/static/../secret.txt", 404),
    ("/static/x/../../secret.txt", 404),
    ("/static/%2e%2e/secret.txt", 404),
    ("/static/app.js%00.png", 404),
    ("/static/%00", 404),
    ("/static/", 404),
    ("/static/missing.js", 404),
]


@pytest.mark.parametrize(("path", "status"), CASES)
def test_paths_are_checked_before_reading(bundle: Path, path: str, status: int) -> None:
    client = TestClient(Starlette(routes=UIAssets(bundle).routes()))
    assert client.get(path).status_code == status


def test_the_cache_holds_one_entry_per_file_whatever_the_url(bundle: Path) -> None:
    assets = UIAssets(bundle)
    client = TestClient(Starlette(routes=assets.routes()))
    for i in range(500):
        assert client.get(f"/static/unique-{i}/../app.js").status_code == 200
    assert [path.name for path in assets._cache] == ["app.js"]


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("vigil-static")
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
    with running(args, f"http://127.0.0.1:{port}/-/ready", 60) as proc:
        yield LiveServer(f"http://127.0.0.1:{port}", proc.pid)


def _status(server: LiveServer, path: str) -> int:
    host, port = server.url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_live_server_unique_paths_do_not_grow_memory(vigil: LiveServer) -> None:
    assert _status(vigil, "/static/app.js") == 200
    before = vigil.reset_peak_rss()
    statuses = {_status(vigil, f"/static/u{i:05d}/../app.js") for i in range(2000)}
    growth_mib = (vigil.peak_rss_kib() - before) / 1024
    assert statuses == {200}
    assert growth_mib < 50, f"RSS grew {growth_mib:.0f} MiB over 2000 distinct URLs"
    assert _status(vigil, "/static/app.js%00.png") == 404
    assert _status(vigil, "/static/../../../etc/passwd") == 404
