"""WebGuard over a tiny app: basic auth on every route (cached bcrypt), CSRF on state-changing
methods, configured headers added without overriding the app's own."""

from __future__ import annotations

import base64

import bcrypt
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocket

from vigil.config._yaml import ConfigError
from vigil.web.guard import BasicAuthCache, WebGuard
from vigil.web.webconfig import HTTPServerConfig, WebConfig

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4))
USERS = WebConfig(basic_auth_users={"alice": HASH})
HOST = "vigil.test:9090"


def _auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def _app() -> Starlette:
    async def ok(request: Request) -> Response:
        return PlainTextResponse(f"{request.method} ok")

    async def framed(_: Request) -> Response:
        return PlainTextResponse("page", headers={"X-Frame-Options": "DENY"})

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
    return Starlette(routes=[Route("/x", ok, methods=methods), Route("/page", framed)])


def _client(config: WebConfig, external_url: str = "") -> tuple[TestClient, WebGuard]:
    guard = WebGuard(_app(), lambda: config, external_url, BasicAuthCache())
    return TestClient(guard, base_url=f"http://{HOST}"), guard


AUTH_CASES = [
    ("no credentials", {}, 401),
    ("wrong password", _auth("alice", "nope"), 401),
    ("unknown user", _auth("mallory", "secret"), 401),
    ("not basic", {"Authorization": "Bearer secret"}, 401),
    ("not base64", {"Authorization": "Basic %%%"}, 401),
    ("no colon", {"Authorization": "Basic " + base64.b64encode(b"alice").decode()}, 401),
    ("right password", _auth("alice", "secret"), 200),
]


@pytest.mark.parametrize(("name", "headers", "status"), AUTH_CASES, ids=[c[0] for c in AUTH_CASES])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_basic_auth(name: str, headers: dict[str, str], status: int, method: str) -> None:
    client, _ = _client(USERS)
    response = client.request(method, "/x", headers=headers)
    assert response.status_code == status
    if status == 401:
        assert (response.headers["www-authenticate"], response.text) == ("Basic", "Unauthorized\n")


def test_no_users_no_auth() -> None:
    client, _ = _client(WebConfig())
    assert client.get("/x").status_code == 200


def test_bcrypt_runs_once_per_correct_credentials_and_hash() -> None:
    """Only successes are cached (exporter-toolkit's rule): wrong passwords cannot evict them."""
    client, guard = _client(USERS)
    for _ in range(5):
        assert client.get("/x", headers=_auth("alice", "secret")).status_code == 200
        assert client.get("/x", headers=_auth("alice", "bad")).status_code == 401
    assert guard.cache.bcrypt_checks == 1 + 5


def test_changed_hash_misses_the_cache() -> None:
    """A password changed in the file takes effect at once: the old one no longer works."""
    config = [USERS]
    guard = WebGuard(_app(), lambda: config[0], "", BasicAuthCache())
    client = TestClient(guard, base_url=f"http://{HOST}")
    assert client.get("/x", headers=_auth("alice", "secret")).status_code == 200
    config[0] = WebConfig(basic_auth_users={"alice": bcrypt.hashpw(b"new", bcrypt.gensalt(4))})
    assert client.get("/x", headers=_auth("alice", "secret")).status_code == 401
    assert client.get("/x", headers=_auth("alice", "new")).status_code == 200


def test_unusable_config_fails_closed() -> None:
    def broken() -> WebConfig:
        raise ConfigError("web.yml", 2, "basic_auth_users.a", "not usable")

    client = TestClient(WebGuard(_app(), broken), base_url=f"http://{HOST}")
    response = client.get("/x", headers=_auth("alice", "secret"))
    assert (response.status_code, response.text) == (500, "Internal Server Error\n")


CSRF_CASES = [
    ("no origin (curl, Grafana's backend)", {}, 200),
    ("same origin", {"Origin": f"http://{HOST}"}, 200),
    ("same origin, other case", {"Origin": "HTTP://VIGIL.TEST:9090"}, 200),
    ("same-origin fetch metadata", {"Sec-Fetch-Site": "same-origin"}, 200),
    ("external url's origin", {"Origin": "https://mon.example"}, 200),
    ("other origin", {"Origin": "http://evil.example"}, 403),
    ("other port", {"Origin": "http://vigil.test:9091"}, 403),
    ("other scheme", {"Origin": "https://vigil.test:9090"}, 403),
    ("opaque origin", {"Origin": "null"}, 403),
    ("cross-site fetch metadata", {"Sec-Fetch-Site": "cross-site"}, 403),
    ("ui mark without credentials", {"X-Vigil-UI": "1"}, 200),
    ("ui mark and same origin", {"X-Vigil-UI": "1", "Origin": f"http://{HOST}"}, 200),
]


@pytest.mark.parametrize(("name", "headers", "status"), CSRF_CASES, ids=[c[0] for c in CSRF_CASES])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_csrf(name: str, headers: dict[str, str], status: int, method: str) -> None:
    client, _ = _client(WebConfig(), external_url="https://mon.example/vigil")
    response = client.request(method, "/x", headers=headers)
    assert response.status_code == status
    if status == 403:
        assert "refused" in response.text


def test_csrf_leaves_reads_alone() -> None:
    client, _ = _client(WebConfig())
    headers = {"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}
    assert client.get("/x", headers=headers).status_code == 200


def test_ui_request_with_credentials_needs_an_origin() -> None:
    client, _ = _client(USERS)
    headers = {"X-Vigil-UI": "1", **_auth("alice", "secret")}
    refused = client.post("/x", headers=headers)
    assert (refused.status_code, refused.text) == (
        403,
        "request refused: a UI request with credentials must carry an Origin header\n",
    )
    assert client.post("/x", headers={**headers, "Origin": f"http://{HOST}"}).status_code == 200


def test_cross_origin_refused_before_any_password_check() -> None:
    client, guard = _client(USERS)
    headers = {"Origin": "http://evil.example", **_auth("alice", "secret")}
    assert client.post("/x", headers=headers).status_code == 403
    assert guard.cache.bcrypt_checks == 0


def test_configured_headers_do_not_override_the_apps() -> None:
    config = WebConfig(
        http=HTTPServerConfig(
            headers=(("X-Frame-Options", "sameorigin"), ("Strict-Transport-Security", "max-age=1"))
        ),
        basic_auth_users={"alice": HASH},
    )
    client, _ = _client(config)
    page = client.get("/page", headers=_auth("alice", "secret"))
    assert page.headers.get_list("x-frame-options") == ["DENY"]
    assert page.headers["strict-transport-security"] == "max-age=1"
    plain = client.get("/x", headers=_auth("alice", "secret"))
    assert plain.headers["x-frame-options"] == "sameorigin"
    refused = client.get("/x")
    assert (refused.status_code, refused.headers["strict-transport-security"]) == (401, "max-age=1")


def _ws_app() -> Starlette:
    async def hello(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    return Starlette(routes=[WebSocketRoute("/ws", hello)])


WS_CASES = [
    ("no origin", WebConfig(), {}, None),
    ("same origin", WebConfig(), {"Origin": f"http://{HOST}"}, None),
    ("other origin", WebConfig(), {"Origin": "http://evil.example"}, 403),
    ("cross-site", WebConfig(), {"Sec-Fetch-Site": "cross-site"}, 403),
    ("no credentials", USERS, {}, 401),
    ("credentials", USERS, _auth("alice", "secret"), None),
]


@pytest.mark.parametrize(
    ("name", "config", "headers", "status"), WS_CASES, ids=[c[0] for c in WS_CASES]
)
def test_websocket_handshakes(
    name: str, config: WebConfig, headers: dict[str, str], status: int | None
) -> None:
    """A WebSocket (no CORS in browsers) is checked as a state-changing request, and refused
    with a denial response before the upgrade."""
    client = TestClient(
        WebGuard(_ws_app(), lambda: config, "", BasicAuthCache()), base_url=f"http://{HOST}"
    )
    if status is None:
        with client.websocket_connect(f"ws://{HOST}/ws", headers=headers) as ws:
            assert ws.receive_text() == "hello"
        return
    with (
        pytest.raises(WebSocketDenialResponse) as caught,
        client.websocket_connect(f"ws://{HOST}/ws", headers=headers),
    ):
        pass
    assert caught.value.status_code == status
