"""One HTTP client for every outbound request: each `testdata/http.*.yml` block is put under a
scrape job, a webhook receiver, a remote_write and a remote_read entry, and all four must
reach a local capture server the same way (every header value, the same auth, the same TLS
behaviour, with a local CA and certificates made here), or fail every request with the same
reason. `*.bad.yml` files are refused at load, by prometheus.yml and alertmanager.yml alike."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import ssl
import subprocess
import textwrap
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cramjam
import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.alerting._api import NotifyError
from vigil.config import ConfigError
from vigil.config import alertmanager as am
from vigil.config import prometheus as prom
from vigil.config._yaml import Mapping, load_yaml
from vigil.config.http import HTTP_CLIENT_KEYS, HTTPClientConfig, TLSConfig, parse_http_client
from vigil.config.http_client import async_client, bypasses_proxy, ssl_context, sync_client
from vigil.model import Labels, Matcher
from vigil.model.clock import ManualClock
from vigil.notify.kinds import load_config as load_alertmanager_config
from vigil.notify.receivers import build_integrations, test_notification
from vigil.notify.template import Templates
from vigil.remote import prompb
from vigil.remote.read import RemoteReadClient, RemoteReadError
from vigil.remote.write import RemoteWriteStorage
from vigil.scrape.loop import ScrapeLoop, ScrapeOptions
from vigil.scrape.manager import ScrapeManager
from vigil.scrape.relabel import populate_labels
from vigil.scrape.target import Target
from vigil.tsdb.wal import encode_samples, encode_series
from vigil.tsdb.wlog import WAL

from ..scrape.fakes import FakeStorage

TESTDATA = Path(__file__).parent / "testdata"
START = 1_700_000_000.0
TOKEN = "issued-token"


# --------------------------------------------------------------------------- certificates


@dataclass(frozen=True)
class PKI:
    """A local CA, server certificates for 127.0.0.1 and for vigil.test, a client certificate."""

    folder: Path

    def path(self, name: str) -> str:
        return str(self.folder / name)

    def text(self, name: str) -> str:
        return (self.folder / name).read_text()

    def server_context(self, name: str = "server", client_cert: bool = False) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.path(f"{name}.pem"), self.path(f"{name}-key.pem"))
        if client_cert:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(self.path("ca.pem"))
        return context


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    folder = tmp_path_factory.mktemp("pki")
    key = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    ca, ca_key = str(folder / "ca.pem"), str(folder / "ca-key.pem")
    _openssl(
        "req",
        "-x509",
        *key,
        "-days",
        "1",
        "-subj",
        "/CN=vigil test CA",
        "-keyout",
        ca_key,
        "-out",
        ca,
    )
    for name, extension in (
        ("server", "subjectAltName=IP:127.0.0.1"),
        ("named", "subjectAltName=DNS:vigil.test"),
        ("client", "extendedKeyUsage=clientAuth"),
    ):
        request, ext = folder / f"{name}.csr", folder / f"{name}.ext"
        ext.write_text(extension + "\n")
        _openssl(
            "req",
            "-new",
            *key,
            "-subj",
            f"/CN={name}",
            "-keyout",
            str(folder / f"{name}-key.pem"),
            "-out",
            str(request),
        )
        _openssl(
            "x509",
            "-req",
            "-in",
            str(request),
            "-CA",
            ca,
            "-CAkey",
            ca_key,
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            str(ext),
            "-out",
            str(folder / f"{name}.pem"),
        )
    return PKI(folder)


# --------------------------------------------------------------------------- capture server


@dataclass
class Seen:
    path: str
    lines: list[tuple[str, str]]
    body: bytes

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.lines if k.lower() == name.lower()]


@dataclass
class Capture:
    base: str
    requests: list[Seen] = field(default_factory=list)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]


def _read_response() -> bytes:
    response = prompb.ReadResponse(results=[prompb.QueryResult()])
    return bytes(cramjam.snappy.compress_raw(response.SerializeToString()))


_ANSWERS = {
    "/metrics": (200, "text/plain; version=0.0.4", b"up_capture 1\n"),
    "/hook": (200, "text/plain", b"ok"),
    "/write": (204, "text/plain", b""),
    "/token": (
        200,
        "application/json",
        json.dumps({"access_token": TOKEN, "token_type": "bearer", "expires_in": 3600}).encode(),
    ),
}


@contextmanager
def capture_server(tls: ssl.SSLContext | None) -> Iterator[Capture]:
    """Records every request with all its header lines; answers as each consumer expects."""
    scheme = "https" if tls else "http"
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                capture.requests.append(Seen(self.path, list(self.headers.items()), body))
            if self.path == "/read":
                status, kind, payload = 200, "application/x-protobuf", _read_response()
            else:
                status, kind, payload = _ANSWERS[self.path]
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: object) -> None:
            pass

    class Server(ThreadingHTTPServer):
        def handle_error(self, request: object, client_address: object) -> None:
            pass  # refused handshakes are part of the cases

    server = Server(("127.0.0.1", 0), Handler)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    capture = Capture(f"{scheme}://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        server.shutdown()
        server.server_close()


# --------------------------------------------------------------------------- the four consumers


def _configs(block: str, base: str, folder: Path) -> tuple[prom.Config, am.Config]:
    def nested(spaces: int) -> str:
        return textwrap.indent(block, " " * spaces)

    prometheus_yml = folder / "prometheus.yml"
    prometheus_yml.write_text(
        f"""
scrape_configs:
  - job_name: table
    scheme: {base.split(":")[0]}
    static_configs: [{{targets: ['{base.split("://")[1]}']}}]
{nested(4)}
remote_write:
  - url: {base}/write
    name: table
    queue_config: {{max_samples_per_send: 1, batch_send_deadline: 1s, min_backoff: 1s}}
{nested(4)}
remote_read:
  - url: {base}/read
    name: table
{nested(4)}
"""
    )
    alertmanager_yml = folder / "alertmanager.yml"
    alertmanager_yml.write_text(
        f"""
route: {{receiver: r}}
receivers:
  - name: r
    webhook_configs:
      - url: {base}/hook
        http_config:
{nested(10)}
"""
    )
    return prom.load_config(str(prometheus_yml)), load_alertmanager_config(str(alertmanager_yml))


async def _scrape(config: prom.Config) -> str:
    job = config.scrape_configs[0]
    storage, clock = FakeStorage(), ManualClock(START)
    manager = ScrapeManager(storage.appender, clock=clock)
    address = job.discovery.static_configs[0].targets[0]
    internal, discovered = populate_labels(Labels.from_dict({"__address__": address}), job)
    assert internal is not None
    client = manager.new_client(job.http_client)
    loop = ScrapeLoop(
        Target.of(job, internal, discovered), ScrapeOptions.of(job), client, storage.appender, clock
    )
    try:
        return (await loop.scrape(clock.now())).error
    finally:
        await client.aclose()


async def _webhook(config: am.Config) -> str:
    clock = ManualClock(START)
    (integration,) = build_integrations(config, "r", Templates.load(), "", clock.now)
    try:
        await integration.sender.send(test_notification("r", clock.now()))
    except NotifyError as err:
        return str(err)
    return ""


async def _remote_write(
    config: prom.Config, folder: Path, capture: Capture, caplog: pytest.LogCaptureFixture
) -> str:
    wal = WAL(folder / "wal")
    clock = ManualClock(START)
    storage = RemoteWriteStorage(folder / "wal", folder / "rw", CollectorRegistry(), clock=clock)
    with caplog.at_level(logging.WARNING, logger="vigil.remote.write"):
        await storage.apply(config)  # a new queue starts at the WAL's end
        series = Labels.from_dict({"__name__": "up", "job": "table"})
        wal.log([encode_series([(1, series)])])
        refs = np.array([1], dtype=np.int64)
        wal.log([encode_samples(refs, np.array([int(START * 1000)]), np.array([1.0]))])
        try:
            for _ in range(500):  # bounded: the server thread answers within milliseconds
                await asyncio.sleep(0.01)
                clock.set(clock.now() + 0.5)
                failures = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
                if capture.seen("/write") or failures:
                    return failures[0] if failures else ""
        finally:
            await storage.stop()
            wal.close()
    raise AssertionError("remote_write neither sent nor failed")


async def _remote_read(config: prom.Config) -> str:
    client = RemoteReadClient(config.remote_read[0])
    try:
        await asyncio.to_thread(client.read, 0, 1000, [Matcher.of("__name__", "=", "up")])
    except RemoteReadError as err:
        return str(err)
    finally:
        client.close()
    return ""


def _block(name: str, capture: Capture, pki: PKI) -> str:
    text = (TESTDATA / name).read_text()
    for placeholder, value in (
        ("@CAPTURE@", capture.base),
        ("@CA_PEM@", json.dumps(pki.text("ca.pem"))),
        ("@CLIENT_PEM@", json.dumps(pki.text("client.pem"))),
        ("@CLIENT_KEY_PEM@", json.dumps(pki.text("client-key.pem"))),
    ):
        text = text.replace(placeholder, value)
    return text


def _prepare(folder: Path, pki: PKI) -> None:
    for name in ("ca.pem", "client.pem", "client-key.pem"):
        (folder / name).write_text(pki.text(name))
    (folder / "username").write_text("vigil\n")
    (folder / "password").write_text("pass word\n")
    (folder / "token").write_text("from-file\n")
    (folder / "header-value").write_text("fourth\n")


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    file: str
    server: str  # "http", "https" (127.0.0.1), "https-named" (vigil.test), "https-mtls"
    headers: dict[str, list[str]] = field(default_factory=dict)
    error: str = ""


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


GOOD = [
    Case("http.headers.good.yml", "http", {"X-Vigil": ["first", "second", "third", "fourth"]}),
    Case(
        "http.basic-auth-files.good.yml", "http", {"Authorization": [_basic("vigil", "pass word")]}
    ),
    Case("http.authorization-file.good.yml", "http", {"Authorization": ["Token from-file"]}),
    Case("http.bearer-token.good.yml", "http", {"Authorization": ["Bearer inline-token"]}),
    Case("http.oauth2.good.yml", "http", {"Authorization": [f"Bearer {TOKEN}"]}),
    Case("http.tls-ca-file.good.yml", "https"),
    Case("http.tls-inline.good.yml", "https-mtls"),
    Case("http.tls-client-files.good.yml", "https-mtls"),
    Case("http.tls-server-name.good.yml", "https-named"),
    Case("http.tls-insecure.good.yml", "https"),
]
_NO_FILE = "unable to read file {d}/{f}: open {d}/{f}: no such file or directory"
FAILS = [
    Case(
        "http.credentials-file-missing.fails.yml",
        "http",
        error="unable to read authorization credentials: "
        + _NO_FILE.replace("{f}", "missing-token"),
    ),
    Case(
        "http.password-file-missing.fails.yml",
        "http",
        error="unable to read basic auth password: " + _NO_FILE.replace("{f}", "missing-password"),
    ),
    Case(
        "http.header-file-missing.fails.yml",
        "http",
        error="unable to read headers file {d}/missing-header: open {d}/missing-header: no such file or directory",
    ),
    Case(
        "http.ca-file-missing.fails.yml",
        "https",
        error="unable to read CA cert: " + _NO_FILE.replace("{f}", "missing-ca.pem"),
    ),
    Case(
        "http.ca-not-a-certificate.fails.yml",
        "https",
        error="unable to use specified CA cert file {d}/token",
    ),
    Case("http.server-not-trusted.fails.yml", "https", error="certificate verify failed"),
]


def _server_tls(server: str, pki: PKI) -> ssl.SSLContext | None:
    if server == "http":
        return None
    if server == "https-named":
        return pki.server_context("named")
    return pki.server_context(client_cert=server == "https-mtls")


def _run(
    case: Case, pki: PKI, folder: Path, caplog: pytest.LogCaptureFixture
) -> tuple[Capture, dict[str, str]]:
    _prepare(folder, pki)
    with capture_server(_server_tls(case.server, pki)) as capture:
        prom_config, am_config = _configs(_block(case.file, capture, pki), capture.base, folder)

        async def everyone() -> dict[str, str]:
            return {
                "scrape": await _scrape(prom_config),
                "webhook": await _webhook(am_config),
                "remote_write": await _remote_write(prom_config, folder, capture, caplog),
                "remote_read": await _remote_read(prom_config),
            }

        errors = asyncio.run(everyone())
    return capture, errors


_PATHS = {
    "scrape": "/metrics",
    "webhook": "/hook",
    "remote_write": "/write",
    "remote_read": "/read",
}


@pytest.mark.parametrize("case", GOOD, ids=[c.file for c in GOOD])
def test_every_client_sends_the_same_request(
    case: Case, pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture, errors = _run(case, pki, tmp_path, caplog)
    received = {
        who: {name: capture.seen(path)[0].values(name) for name in case.headers}
        if capture.seen(path)
        else None
        for who, path in _PATHS.items()
    }
    want = dict.fromkeys(_PATHS, case.headers)
    assert (errors, received) == (dict.fromkeys(_PATHS, ""), want)


def test_oauth2_token_is_fetched_with_client_credentials_once_per_client(
    pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture, _ = _run(GOOD[4], pki, tmp_path, caplog)
    tokens = capture.seen("/token")
    form = {k: v[0] for k, v in urllib.parse.parse_qs(tokens[0].body.decode()).items()}
    assert (len(tokens), tokens[0].values("Authorization"), form) == (
        4,
        [_basic("vigil", "pass+word")],
        {"grant_type": "client_credentials", "scope": "read write", "audience": "metrics"},
    )


@pytest.mark.parametrize("case", FAILS, ids=[c.file for c in FAILS])
def test_every_client_fails_each_request_with_the_same_reason(
    case: Case, pki: PKI, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    capture, errors = _run(case, pki, tmp_path, caplog)
    reason = case.error.replace("{d}", str(tmp_path))
    assert {who: reason in error for who, error in errors.items()} == dict.fromkeys(_PATHS, True), (
        errors
    )
    assert [r.path for r in capture.requests if r.path != "/token"] == []


BAD = {
    "http.oauth2-no-client-id.bad.yml": "oauth2 client_id must be configured",
    "http.basic-auth-and-authorization.bad.yml": "at most one of basic_auth, oauth2 and authorization",
    "http.tls-versions.bad.yml": "tls_config.max_version must be greater than or equal to tls_config.min_version if both are specified",
    "http.reserved-header.bad.yml": 'setting header "User-Agent" is not allowed',
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_files_are_refused_at_load_by_both_configs(name: str, tmp_path: Path) -> None:
    block = (TESTDATA / name).read_text()
    messages = []
    for load in (
        lambda: _configs(block, "http://127.0.0.1:9", tmp_path)[0],
        lambda: load_alertmanager_config(str(_alertmanager_only(block, tmp_path))),
    ):
        with pytest.raises(ConfigError) as info:
            load()
        messages.append(info.value.message)
    assert messages == [BAD[name], BAD[name]]


def _alertmanager_only(block: str, folder: Path) -> Path:
    path = folder / "alertmanager.yml"
    path.write_text(
        "route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n"
        "      - url: http://127.0.0.1:9/hook\n        http_config:\n"
        + textwrap.indent(block, " " * 10)
    )
    return path


def test_testdata_files_are_all_in_a_table() -> None:
    named = {c.file for c in GOOD + FAILS} | set(BAD)
    assert sorted(p.name for p in TESTDATA.glob("http.*.yml")) == sorted(named)


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "direct"),
    [
        ("*", "anything.example", 80, True),
        ("10.0.0.0/8", "10.1.2.3", 80, True),
        ("10.0.0.0/8", "11.1.2.3", 80, False),
        ("example.com", "example.com", 80, True),
        ("example.com", "a.example.com", 80, True),
        ("example.com", "badexample.com", 80, False),
        (".example.com", "example.com", 80, False),
        (".example.com", "a.example.com", 80, True),
        ("example.com:8080", "example.com", 80, False),
        ("example.com:8080", "example.com", 8080, True),
        ("::1, 127.0.0.1", "::1", 80, True),
        ("fd00::/8", "fd12::1", 80, True),
    ],
)
def test_no_proxy_follows_gos_rules(no_proxy: str, host: str, port: int, direct: bool) -> None:
    assert bypasses_proxy(no_proxy, host, port) is direct


@pytest.mark.parametrize("no_proxy", ["127.0.0.0/8", "10.0.0.0/8"])
def test_no_proxy_hosts_are_reached_directly_the_others_through_the_proxy(no_proxy: str) -> None:
    with capture_server(None) as target, capture_server(None) as proxy:
        config = parse_http_client(
            _mapping(f"proxy_url: {proxy.base}\nno_proxy: '{no_proxy}'\n"), ""
        )
        # the capture server is no proxy: a forwarded request is recorded, then fails
        with sync_client(config, timeout=5) as client, contextlib.suppress(httpx.HTTPError):
            client.get(f"{target.base}/metrics")
    seen = {"target": [r.path for r in target.requests], "proxy": [r.path for r in proxy.requests]}
    direct = {"target": ["/metrics"], "proxy": []}
    proxied = {"target": [], "proxy": [f"{target.base}/metrics"]}
    assert seen == (direct if no_proxy == "127.0.0.0/8" else proxied)


def _mapping(text: str) -> Mapping:
    root = load_yaml(text, "http.yml")
    assert root is not None
    return root.mapping(HTTP_CLIENT_KEYS)


def test_oauth2_token_is_kept_until_it_expires_and_fetched_again_for_a_new_secret(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("first\n")
    clock = ManualClock(START)
    with capture_server(None) as capture:
        config = parse_http_client(
            _mapping(
                f"oauth2: {{client_id: vigil, client_secret_file: {secret},"
                f" token_url: '{capture.base}/token'}}\n"
            ),
            "",
        )

        async def scrape_at(offsets: list[float]) -> None:
            async with async_client(config, now=clock.now) as client:
                for offset in offsets:
                    clock.set(START + offset)
                    if offset == 4000:
                        secret.write_text("second\n")
                    await client.get(f"{capture.base}/metrics")

        # the token lives 3600 s and is renewed 10 s early, as Go's oauth2 does
        asyncio.run(scrape_at([0, 3589, 3591, 3600, 4000]))
    tokens = [r.values("Authorization")[0] for r in capture.seen("/token")]
    assert tokens == [_basic("vigil", "first"), _basic("vigil", "first"), _basic("vigil", "second")]
    assert {tuple(r.values("Authorization")) for r in capture.seen("/metrics")} == {
        (f"Bearer {TOKEN}",)
    }


def test_the_system_cas_are_loaded_at_the_first_handshake_not_when_a_client_is_built(
    pki: PKI,
) -> None:
    """A server scraping only plain-HTTP targets never pays for loading them; the first
    https request, async or blocking, trusts what a default context trusts."""
    system = ssl.create_default_context().get_ca_certs()
    for n, send in enumerate((_get_async, _get_blocking)):
        tls = HTTPClientConfig(tls_config=TLSConfig(server_name=f"lazy-{n}.vigil.test"))
        with capture_server(pki.server_context()) as capture:
            context = ssl_context(tls.tls_config)
            assert context.get_ca_certs() == []
            assert "certificate verify failed" in send(tls, f"{capture.base}/metrics")
            loaded = context.get_ca_certs()  # plus any a CA directory gave on demand
            assert [ca for ca in system if ca not in loaded] == []


def _get_async(config: HTTPClientConfig, url: str) -> str:
    async def get() -> str:
        async with async_client(config) as client:
            try:
                await client.get(url)
            except httpx.HTTPError as err:
                return str(err)
        return ""

    return asyncio.run(get())


def _get_blocking(config: HTTPClientConfig, url: str) -> str:
    with sync_client(config) as client:
        try:
            client.get(url)
        except httpx.HTTPError as err:
            return str(err)
    return ""
