"""DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1 sends requests
that are same-origin for the browser (`Host: evil.example`, `Origin: http://evil.example:PORT`).
State-changing ones are refused unless the Host is one of the server's names
(`--web.allowed-hosts`); reads, programs without a Host and IP addresses pass. Prometheus 2.42
has no such check: it answers the rebinding request."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.testclient import TestClient

from tests.conftest import free_port, peer, running
from vigil.web.guard import WebGuard
from vigil.web.hosts import AllowedHosts
from vigil.web.webconfig import WebConfig

PARSE_CASES = [
    # flag, listen host, external URL, Host header, allowed
    ("", "127.0.0.1", "", "localhost:9090", True),
    ("", "127.0.0.1", "", "LOCALHOST", True),
    ("", "127.0.0.1", "", "127.0.0.1:9090", True),
    ("", "127.0.0.1", "", "[::1]:9090", True),
    ("", "127.0.0.1", "", "10.1.2.3:9090", True),  # any address: rebinding needs a name
    ("", "127.0.0.1", "", "evil.example:9090", False),
    ("", "127.0.0.1", "", "localhost.evil.example", False),
    ("", "127.0.0.1", "https://vigil.example.com/", "vigil.example.com", True),
    ("", "monitor.lan", "", "monitor.lan:9090", True),
    ("", "127.0.0.1", "", socket.gethostname(), True),
    ("", "127.0.0.1", "", "", True),  # no Host at all: not a browser
    ("vigil.example.com", "127.0.0.1", "", "localhost", False),  # the flag replaces the default
    ("vigil.example.com, other.example", "127.0.0.1", "", "other.example:80", True),
    ("*", "127.0.0.1", "", "evil.example", True),
]


@pytest.mark.parametrize(("flag", "listen", "external", "host", "allowed"), PARSE_CASES)
def test_allowed_hosts(flag: str, listen: str, external: str, host: str, allowed: bool) -> None:
    assert AllowedHosts.parse(flag, listen, external).allows(host) is allowed


def _guarded() -> TestClient:
    async def ok(request: Request) -> Response:
        return PlainTextResponse(f"{request.method} ok")

    app = Starlette(routes=[Route("/x", ok, methods=["GET", "POST", "DELETE"])])
    guard = WebGuard(app, WebConfig, allowed_hosts=AllowedHosts.parse("", "127.0.0.1"))
    return TestClient(guard, base_url="http://evil.example:9090")


GUARD_CASES = [
    ("POST", {"Origin": "http://evil.example:9090"}, 403),  # the rebinding request
    ("DELETE", {"Origin": "http://evil.example:9090"}, 403),
    ("POST", {"Sec-Fetch-Site": "same-origin"}, 403),  # a browser without Origin
    ("POST", {"X-Vigil-UI": "1"}, 403),
    # A program (a log shipper pushing to http://vigil:3100) sends no browser marks: it passes.
    ("POST", {}, 200),
    ("DELETE", {}, 200),
    ("GET", {"Origin": "http://evil.example:9090"}, 200),  # reads pass, as CSRF does
    ("POST", {"Host": "localhost:9090", "Origin": "http://localhost:9090"}, 200),
    ("POST", {"Host": "127.0.0.1:9090"}, 200),
]


@pytest.mark.parametrize(("method", "headers", "status"), GUARD_CASES)
def test_guard_refuses_unknown_hosts_on_writes(
    method: str, headers: dict[str, str], status: int
) -> None:
    response = _guarded().request(method, "/x", headers=headers)
    assert response.status_code == status
    if status == 403:
        assert "--web.allowed-hosts" in response.text


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    root = tmp_path_factory.mktemp("rebinding")
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\n")
    out = {}
    with ExitStack() as stack:
        for name, program in (
            ("prometheus", [peer("prometheus")]),
            ("vigil", [sys.executable, "-m", "vigil", "server"]),
        ):
            port = free_port()
            args = [
                *program,
                f"--config.file={config}",
                f"--storage.tsdb.path={root / name}",
                f"--web.listen-address=127.0.0.1:{port}",
            ]
            stack.enter_context(running(args, f"http://127.0.0.1:{port}/-/ready", 60))
            out[name] = f"http://127.0.0.1:{port}"
        yield out


def test_live_server_refuses_the_rebinding_request(servers: dict[str, str]) -> None:
    answers = {}
    for name, base in servers.items():
        port = base.rsplit(":", 1)[1]
        evil = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
        own = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}"}
        answers[name] = [
            httpx.post(
                f"{base}/api/v1/query", data={"query": "1"}, headers=h, timeout=10
            ).status_code
            for h in (evil, own)
        ]
    assert answers == {"prometheus": [200, 200], "vigil": [403, 200]}
