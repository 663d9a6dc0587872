"""`vigil server` becomes ready without importing its log and trace APIs; the first request
for one of them imports it and is answered like any later one."""

from __future__ import annotations

import ast
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import cast

from starlette.routing import Mount, Route, WebSocketRoute
from starlette.testclient import TestClient

from tests.conftest import PATIENCE_S
from vigil.cmd import build_parser
from vigil.cmd.lazy_routes import LazyRoutes
from vigil.cmd.server_flags import options
from vigil.cmd.server_process import Server

SRC = Path(__file__).resolve().parent.parent.parent / "src"
LAZY_MODULES = (
    "vigil.traces.traceql",
    "vigil.web.tempo_api",
    "vigil.web.jaeger_api",
    "vigil.web.loki_api",
    "vigil.web.ingest.elasticsearch",
    "vigil.web.ingest.loki",
    "vigil.web.ingest.otlp_logs",
    "vigil.web.ingest.otlp_traces",
    "vigil.web.ingest.zipkin",
)


def _server(data: Path) -> Server:
    args = build_parser().parse_args(["server", f"--storage.tsdb.path={data}", "--agent.disable"])
    return Server(options(args))


def _wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while client.get("/-/ready").status_code != 200:
        assert time.monotonic() < deadline, client.get("/-/ready").text
        time.sleep(0.05)


def loaded_when_ready(data: Path, modules: Sequence[str]) -> list[str]:
    """Which of `modules` a server on `data`, its listeners built, has imported once ready:
    in a fresh interpreter, so nothing this test process imported counts."""
    program = (
        "import sys\n"
        "from pathlib import Path\n"
        "from starlette.testclient import TestClient\n"
        "from tests.cmd.test_lazy_routes import _server, _wait_ready\n"
        f"server = _server(Path({str(data)!r}))\n"
        "listening = [listener.build() for listener in server.listeners()]\n"
        "with TestClient(server.app()) as client:\n"
        "    _wait_ready(client)\n"
        f"    print(sorted(m for m in {list(modules)!r} if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": f"{SRC}:{SRC.parent}"},
        capture_output=True,
        text=True,
        check=True,
    )
    return cast(list[str], ast.literal_eval(done.stdout.strip().splitlines()[-1]))


def test_a_ready_server_has_not_imported_its_log_and_trace_apis(tmp_path: Path) -> None:
    """Its listeners too (the OTLP one on 127.0.0.1:4318 is on by default)."""
    assert loaded_when_ready(tmp_path / "data", LAZY_MODULES) == []


def test_every_route_a_lazy_group_builds_is_under_its_paths(tmp_path: Path) -> None:
    outside = [
        route.path
        for group in _server(tmp_path / "data").lazy_routes()
        for route in group.routes()
        if not (isinstance(route, Route | WebSocketRoute | Mount) and group.covers(route.path))
    ]
    assert outside == []


def test_the_first_request_for_a_lazy_api_is_answered(tmp_path: Path) -> None:
    server = _server(tmp_path / "data")
    asked = [
        ("GET", "/loki/api/v1/labels", b""),
        ("GET", "/elasticsearch/", b""),
        ("POST", "/api/v2/spans", b"[]"),
        ("GET", "/tempo/api/echo", b""),
        ("POST", "/api/v1/otlp/v1/metrics", b""),
    ]
    app = server.app()
    groups = [route for route in app.routes if isinstance(route, LazyRoutes)]
    with TestClient(app) as client:
        _wait_ready(client)
        built_when_ready = [group.built for group in groups]
        answers = [
            (path, client.request(method, path, content=body).status_code)
            for method, path, body in asked
        ]
    assert built_when_ready == [False] * len(groups)
    assert [group.built for group in groups] == [True] * len(groups)
    assert answers == [
        ("/loki/api/v1/labels", 200),
        ("/elasticsearch/", 200),
        ("/api/v2/spans", 202),
        ("/tempo/api/echo", 200),
        ("/api/v1/otlp/v1/metrics", 404),  # as Prometheus without --web.enable-otlp-receiver
    ]
