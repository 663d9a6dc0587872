"""The web surface end to end: a real `vigil server` with a `--web.config.file` (TLS + basic
auth), the real `prometheus` 2.42 given the same file and asked the same requests; CSRF on the
Alertmanager API; the admin API and `/-/quit` against Prometheus's answers; snapshots."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import bcrypt
import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import PATIENCE_S, REPO, free_port, peer
from tests.web.test_webconfig import self_signed
from vigil.model import Labels
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.head_state import MAX_TIME, MIN_TIME
from vigil.tsdb.snapshot import snapshot

PASSWORD = "s3cret"
AUTH = ("alice", PASSWORD)
VIGIL = [sys.executable, "-m", "vigil", "server", "--agent.disable", "--rules.default.disable"]


@contextmanager
def _serving(
    args: list[str], url: str, client: httpx.Client, auth: tuple[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, ready when `url` answers 200 through `client`; stopped after."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if client.get(url, auth=auth).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                stderr = proc.stderr.read().decode() if proc.stderr else ""
                raise AssertionError(f"{args[:4]} did not come up on {url}: {stderr[-2000:]}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture(scope="module")
def web_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TLS with a self-signed cert and one basic-auth user; paths relative to the file."""
    folder = tmp_path_factory.mktemp("web")
    self_signed(folder, "server")
    hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    path = folder / "web.yml"
    path.write_text(
        "tls_server_config:\n"
        "  cert_file: server.crt\n"
        "  key_file: server.key\n"
        "basic_auth_users:\n"
        f"  alice: '{hashed}'\n"
    )
    return path


@pytest.fixture(scope="module")
def servers(
    web_config: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str, httpx.Client]]:
    """(vigil's base URL, prometheus's base URL, an https client trusting the test cert)."""
    data = tmp_path_factory.mktemp("data")
    trust = ssl.create_default_context(cafile=web_config.parent / "server.crt")
    client = httpx.Client(verify=trust, timeout=10)
    vigil_url = f"https://127.0.0.1:{free_port()}"
    prom_url = f"https://127.0.0.1:{free_port()}"
    vigil_args = [
        *VIGIL,
        f"--web.listen-address={vigil_url.removeprefix('https://')}",
        f"--storage.tsdb.path={data / 'vigil'}",
        f"--web.config.file={web_config}",
    ]
    (data / "prometheus.yml").write_text("global:\n  scrape_interval: 15s\n")
    prom_args = [
        peer("prometheus"),
        f"--config.file={data / 'prometheus.yml'}",
        f"--storage.tsdb.path={data / 'prom'}",
        f"--web.listen-address={prom_url.removeprefix('https://')}",
        f"--web.config.file={web_config}",
    ]
    # The client is closed first: a server waits up to 30 s (asyncio's TLS shutdown timeout)
    # for an idle keep-alive TLS client to answer its close_notify.
    with (
        _serving(vigil_args, f"{vigil_url}/-/ready", client, AUTH),
        _serving(prom_args, f"{prom_url}/-/ready", client, AUTH),
        closing(client),
    ):
        yield vigil_url, prom_url, client


EVERY_ROUTE = [
    "/",
    "/query",
    "/static/app.js",
    "/api/v1/query?query=1",
    "/api/v2/silences",
    "/metrics",
    "/-/healthy",
]
CREDENTIALS: list[tuple[str, tuple[str, str] | None, int]] = [
    ("none", None, 401),
    ("wrong password", ("alice", "wrong"), 401),
    ("unknown user", ("bob", PASSWORD), 401),
    ("right", AUTH, 200),
]


@pytest.mark.slow
def test_basic_auth_on_every_route(servers: tuple[str, str, httpx.Client]) -> None:
    vigil_url, _, client = servers
    got = {
        (path, name): client.get(vigil_url + path, auth=auth).status_code
        for path in EVERY_ROUTE
        for name, auth, _ in CREDENTIALS
    }
    want = {(path, name): status for path in EVERY_ROUTE for name, _, status in CREDENTIALS}
    assert got == want
    refused = client.get(vigil_url + "/metrics")
    assert (refused.headers["www-authenticate"], refused.text) == ("Basic", "Unauthorized\n")


# Routes both servers answer 200 with the right credentials.
SHARED_ROUTES = [
    "/-/healthy",
    "/-/ready",
    "/metrics",
    "/api/v1/query?query=1",
    "/api/v1/labels",
    "/api/v1/status/buildinfo",
]


@pytest.mark.slow
def test_same_answers_as_prometheus(servers: tuple[str, str, httpx.Client]) -> None:
    """The same web config file and the same requests: the same status, challenge and body."""
    vigil_url, prom_url, client = servers

    def answers(base: str) -> dict[tuple[str, str], tuple[int, str | None, str]]:
        out = {}
        for path in SHARED_ROUTES:
            for name, auth, _ in CREDENTIALS:
                r = client.get(base + path, auth=auth)
                body = r.text if r.status_code == 401 else ""
                out[path, name] = (r.status_code, r.headers.get("www-authenticate"), body)
        return out

    vigil, prometheus = answers(vigil_url), answers(prom_url)
    assert vigil == prometheus
    assert {status for status, _, _ in vigil.values()} == {200, 401}


@pytest.mark.slow
def test_plain_http_fails_on_a_tls_port(servers: tuple[str, str, httpx.Client]) -> None:
    """vigil drops the connection; Prometheus answers 400 ("Client sent an HTTP request to an
    HTTPS server"): neither serves anything over plain HTTP."""
    vigil_url, prom_url, _ = servers
    with pytest.raises(httpx.TransportError):
        httpx.get(vigil_url.replace("https:", "http:") + "/-/healthy", auth=AUTH, timeout=5)
    prometheus = httpx.get(prom_url.replace("https:", "http:") + "/-/healthy", auth=AUTH)
    assert prometheus.status_code == 400


@pytest.mark.slow
def test_untrusted_certificate_fails(servers: tuple[str, str, httpx.Client]) -> None:
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(servers[0] + "/-/healthy", auth=AUTH, timeout=5)


SILENCE = {
    "matchers": [{"name": "alertname", "value": "Csrf", "isRegex": False, "isEqual": True}],
    "startsAt": "2026-01-01T00:00:00Z",
    "endsAt": "2099-01-01T00:00:00Z",
    "createdBy": "test",
    "comment": "csrf",
}


@pytest.mark.slow
def test_cross_origin_post_is_refused(servers: tuple[str, str, httpx.Client]) -> None:
    vigil_url, _, client = servers

    def silences() -> int:
        listed = client.get(vigil_url + "/api/v2/silences", auth=AUTH).json()
        return sum(1 for s in listed if s["comment"] == "csrf")

    before = silences()
    evil = client.post(
        vigil_url + "/api/v2/silences",
        json=SILENCE,
        auth=AUTH,
        headers={"Origin": "http://evil.example", "X-Vigil-UI": "1"},
    )
    assert evil.status_code == 403
    assert "cross-origin request refused: Origin http://evil.example" in evil.text
    assert silences() == before
    same = client.post(
        vigil_url + "/api/v2/silences",
        json=SILENCE,
        auth=AUTH,
        headers={"Origin": vigil_url, "X-Vigil-UI": "1"},
    )
    assert same.status_code == 200, same.text
    assert silences() == before + 1


DISABLED = [
    ("POST", "/api/v1/admin/tsdb/snapshot"),
    ("PUT", "/api/v1/admin/tsdb/delete_series?match[]=up"),
    ("POST", "/api/v1/admin/tsdb/clean_tombstones"),
    ("POST", "/-/quit"),
    ("PUT", "/-/quit"),
]


@pytest.mark.slow
def test_disabled_admin_and_lifecycle_answer_as_prometheus(
    servers: tuple[str, str, httpx.Client],
) -> None:
    vigil_url, prom_url, client = servers

    def answers(base: str) -> list[tuple[int, str, str]]:
        out = []
        for method, path in DISABLED:
            r = client.request(method, base + path, auth=AUTH)
            out.append((r.status_code, r.headers["content-type"].split(";")[0], r.text))
        return out

    vigil = answers(vigil_url)
    assert vigil == answers(prom_url)
    assert vigil[0] == (
        500,
        "application/json",
        '{"status":"error","errorType":"unavailable","error":"admin APIs disabled"}',
    )


@pytest.mark.slow
def test_admin_snapshot_and_quit(tmp_path: Path) -> None:
    """Enabled: a snapshot hard-links the persisted blocks; deletion is refused honestly;
    `/-/quit` answers as Prometheus does and the process exits 0."""
    data = tmp_path / "data"
    metrics = tmp_path / "in.om"
    lines = [f"m_total {i} {1_700_000_000 + i * 600}" for i in range(24)]
    metrics.write_text("# TYPE m counter\n" + "\n".join(lines) + "\n# EOF\n")
    subprocess.run(
        [sys.executable, "-m", "vigil", "tsdb", "import", "openmetrics", str(metrics), str(data)],
        check=True,
        capture_output=True,
        cwd=REPO,
    )
    blocks = sorted(p.name for p in data.iterdir() if p.is_dir() and p.name != "wal")
    assert blocks
    base = f"http://127.0.0.1:{free_port()}"
    args = [
        *VIGIL,
        f"--web.listen-address={base.removeprefix('http://')}",
        f"--storage.tsdb.path={data}",
        "--web.enable-admin-api",
        "--web.enable-lifecycle",
    ]
    with httpx.Client(timeout=10) as client, _serving(args, f"{base}/-/ready", client) as proc:
        bad = client.post(f"{base}/api/v1/admin/tsdb/snapshot?skip_head=maybe")
        assert (bad.status_code, bad.json()["errorType"]) == (400, "bad_data")
        made = client.post(f"{base}/api/v1/admin/tsdb/snapshot", data={"skip_head": "true"})
        assert made.status_code == 200
        name = made.json()["data"]["name"]
        assert made.json() == {"status": "success", "data": {"name": name}}
        taken = data / "snapshots" / name
        assert sorted(p.name for p in taken.iterdir()) == blocks
        index = Path(blocks[0], "index")
        assert (taken / index).stat().st_ino == (data / index).stat().st_ino
        no_match = client.post(f"{base}/api/v1/admin/tsdb/delete_series")
        assert (no_match.status_code, no_match.json()["error"]) == (
            400,
            "no match[] parameter provided",
        )
        for path in ("delete_series?match[]=m_total", "clean_tombstones"):
            refused = client.post(f"{base}/api/v1/admin/tsdb/{path}")
            assert (refused.status_code, refused.json()["errorType"]) == (501, "unavailable")
        quit_ = client.post(f"{base}/-/quit")
        assert (quit_.status_code, quit_.text) == (200, "Requesting termination... Goodbye!")
        assert proc.wait(30) == 0


def test_snapshot_with_and_without_head(tmp_path: Path) -> None:
    """In-process: blocks and head both land in the snapshot, which opens as a data dir."""
    options = TSDBOptions(block_range_ms=1000, wal_fsync="always")
    series = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(3)]
    clock = lambda: 10.0  # noqa: E731 - seconds: just after the samples, so none expire
    with TSDB.open(tmp_path / "db", options, clock, CollectorRegistry()) as db:
        appender = db.appender()
        refs = appender.refs_for(series)
        for t in range(0, 3000, 100):
            appender.append_batch(refs, np.full(len(refs), t), np.full(len(refs), t / 10))
            appender.commit()
        db.tick()
        assert db.blocks and db.head.min_time < MAX_TIME
        want = _samples(db)
        full = snapshot(db, with_head=True, now=1_700_000_000)
        blocks_only = snapshot(db, with_head=False, now=1_700_000_000)
        block_samples = {labels: ts[ts <= db.blocks[-1].meta.maxt] for labels, ts in want.items()}
    assert full.startswith("20231114T221320Z-") and full != blocks_only
    for name, expected in ((full, want), (blocks_only, block_samples)):
        folder = tmp_path / "db" / "snapshots" / name
        with TSDB.open(folder, options, clock, CollectorRegistry()) as copy:
            got = _samples(copy)
        assert {k: list(v) for k, v in got.items()} == {k: list(v) for k, v in expected.items()}


def _samples(db: TSDB) -> dict[Labels, np.ndarray]:
    querier = db.querier(MIN_TIME, MAX_TIME)
    try:
        return {s.labels: np.asarray(s.timestamps) for s in querier.select([])}
    finally:
        querier.close()


@pytest.mark.slow
def test_default_self_scrape_gets_past_tls_and_basic_auth(
    servers: tuple[str, str, httpx.Client],
) -> None:
    """With no --config.file vigil scrapes itself: through its own TLS and basic auth, with a
    per-process token that never shows in /api/v1/status/config and opens nothing else."""
    vigil_url, _, client = servers
    deadline = time.monotonic() + PATIENCE_S
    up: list[str] = []
    while time.monotonic() < deadline and not up:
        body = client.get(f"{vigil_url}/api/v1/query", params={"query": "up"}, auth=AUTH).json()
        up = [s["value"][1] for s in body["data"]["result"]]
        time.sleep(0.2)
    assert up == ["1"]
    config = client.get(f"{vigil_url}/api/v1/status/config", auth=AUTH).json()["data"]["yaml"]
    assert "credentials: <secret>" in config and "scheme: https" in config
    forged = client.get(f"{vigil_url}/metrics", headers={"Authorization": "Bearer <secret>"})
    assert forged.status_code == 401
