"""`--web.config.file`: exporter-toolkit's format, strict, with errors naming file:line:field and
what is valid; TLS files checked at load; the running source re-reads a changed file."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import bcrypt
import pytest

from tests.conftest import REPO
from vigil.config._yaml import ConfigError
from vigil.web.webconfig import (
    HTTPServerConfig,
    TLSServerConfig,
    WebConfig,
    WebConfigSource,
    load_web_config,
    parse_web_config,
    reloading_context,
)

HASH = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()


def self_signed(folder: Path, name: str, host: str = "127.0.0.1") -> tuple[Path, Path]:
    """A self-signed certificate for `host` (an IP SAN) and its key, made by the openssl CLI."""
    cert, key = folder / f"{name}.crt", folder / f"{name}.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-days", "1", "-subj", f"/CN={host}", "-addext",
            f"subjectAltName=IP:{host}", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    self_signed(folder, "server")
    self_signed(folder, "other")
    return folder


GOOD = [
    ("empty file", "", WebConfig()),
    (
        "users and headers",
        f"""
        basic_auth_users:
          alice: '{HASH}'
        http_server_config:
          http2: false
          headers:
            X-Frame-Options: sameorigin
            Strict-Transport-Security: max-age=3600
            X-XSS-Protection: ''
        """,
        WebConfig(
            http=HTTPServerConfig(
                http2=False,
                headers=(
                    ("X-Frame-Options", "sameorigin"),
                    ("Strict-Transport-Security", "max-age=3600"),
                ),
            ),
            basic_auth_users={"alice": HASH.encode()},
        ),
    ),
    (
        "tls with every field",
        """
        tls_server_config:
          cert_file: server.crt
          key_file: /abs/server.key
          client_auth_type: RequireAndVerifyClientCert
          client_ca_file: ca.crt
          min_version: TLS13
          max_version: TLS13
          cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
          curve_preferences: [X25519]
          prefer_server_cipher_suites: false
        """,
        WebConfig(
            tls=TLSServerConfig(
                cert_file=Path("/etc/vigil/server.crt"),
                key_file=Path("/abs/server.key"),
                client_auth_type="RequireAndVerifyClientCert",
                client_ca_file=Path("/etc/vigil/ca.crt"),
                min_version=ssl.TLSVersion.TLSv1_3,
                max_version=ssl.TLSVersion.TLSv1_3,
                cipher_suites=("ECDHE-ECDSA-AES128-GCM-SHA256",),
                curve="X25519",
                prefer_server_cipher_suites=False,
            )
        ),
    ),
]


@pytest.mark.parametrize(("name", "text", "want"), GOOD, ids=[c[0] for c in GOOD])
def test_parse_good(name: str, text: str, want: WebConfig) -> None:
    assert parse_web_config(textwrap.dedent(text), "/etc/vigil/web.yml") == want


BAD = [
    ("malformed yaml", "tls_server_config: [\n", "web.yml:2: invalid YAML"),
    (
        "unknown top-level key",
        "rate_limit:\n  burst: 1\n",
        "web.yml:1: rate_limit: unknown key in the web config",
    ),
    (
        "unknown tls key, with a hint",
        "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca: x\n",
        "web.yml:4: tls_server_config.client_ca: unknown key in tls_server_config "
        "(did you mean client_ca_file?)",
    ),
    (
        "bad bcrypt hash",
        "basic_auth_users:\n  alice: secret\n",
        "web.yml:2: basic_auth_users.alice: the password of 'alice' is not usable: expected a "
        "bcrypt hash",
    ),
    (
        "bcrypt cost out of range",
        "basic_auth_users:\n  bob: '$2y$03$" + "a" * 53 + "'\n",
        "web.yml:2: basic_auth_users.bob: the password of 'bob' is not usable",
    ),
    (
        "bad client_auth_type",
        "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Foo\n",
        "web.yml:4: tls_server_config.client_auth_type: invalid client_auth_type 'Foo': "
        "expected one of NoClientCert, RequestClientCert",
    ),
    (
        "client auth Python cannot do",
        "tls_server_config:\n  cert_file: a\n  key_file: b\n"
        "  client_auth_type: RequireAnyClientCert\n",
        "web.yml:4: tls_server_config.client_auth_type: client_auth_type 'RequireAnyClientCert' "
        "is not supported by vigil: Python's ssl cannot ask for a client certificate without "
        "verifying it",
    ),
    (
        "missing key_file",
        "tls_server_config:\n  cert_file: a\n",
        "web.yml:2: tls_server_config: missing key_file",
    ),
    (
        "client CA without a policy",
        "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_ca_file: ca\n",
        "web.yml:4: tls_server_config.client_ca_file: client CA's have been configured without "
        "a Client Auth Policy",
    ),
    (
        "unknown TLS version",
        "tls_server_config:\n  cert_file: a\n  key_file: b\n  min_version: TLS14\n",
        "web.yml:4: tls_server_config.min_version: unknown TLS version: TLS14 (expected one of "
        "TLS10, TLS11, TLS12, TLS13)",
    ),
    (
        "insecure cipher Go refuses",
        "tls_server_config:\n  cert_file: a\n  key_file: b\n"
        "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n",
        "web.yml:4: tls_server_config.cipher_suites[0]: unknown cipher: TLS_RSA_WITH_RC4_128_SHA",
    ),
    (
        "several curves",
        "tls_server_config:\n  cert_file: a\n  key_file: b\n"
        "  curve_preferences: [X25519, CurveP256]\n",
        "web.yml:4: tls_server_config.curve_preferences: vigil can use only one curve",
    ),
    (
        "header exporter-toolkit refuses",
        "http_server_config:\n  headers:\n    Server: x\n",
        'web.yml:3: http_server_config.headers.Server: HTTP header "Server" can not be '
        "configured (expected one of Strict-Transport-Security,",
    ),
    (
        "header value exporter-toolkit refuses",
        "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
        "web.yml:3: http_server_config.headers.X-Frame-Options: invalid value for "
        'X-Frame-Options: expected one of deny, sameorigin, got "allow"',
    ),
    (
        "http2 not a boolean",
        "http_server_config:\n  http2: yes please\n",
        "web.yml:2: http_server_config.http2: expected true or false",
    ),
]


@pytest.mark.parametrize(("name", "text", "want"), BAD, ids=[c[0] for c in BAD])
def test_parse_bad(name: str, text: str, want: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_web_config(text, "web.yml")
    assert str(caught.value).startswith(want), str(caught.value)


def _tls_file(folder: Path, body: str) -> Path:
    path = folder / "web.yml"
    path.write_text("tls_server_config:\n" + textwrap.indent(textwrap.dedent(body), "  "))
    return path


FILE_ERRORS = [
    (
        "missing key file",
        "cert_file: server.crt\nkey_file: nope.key\n",
        "web.yml:3: tls_server_config.key_file: {dir}/nope.key: no such file",
    ),
    (
        "cert and key do not match",
        "cert_file: server.crt\nkey_file: other.key\n",
        "web.yml:3: tls_server_config.key_file: {dir}/other.key is not the private key of "
        "{dir}/server.crt",
    ),
    (
        "not a certificate",
        "cert_file: server.key\nkey_file: server.key\n",
        "web.yml:2: tls_server_config.cert_file: cannot load the certificate or key",
    ),
]


@pytest.mark.parametrize(("name", "body", "want"), FILE_ERRORS, ids=[c[0] for c in FILE_ERRORS])
def test_load_checks_tls_files(certs: Path, name: str, body: str, want: str) -> None:
    path = _tls_file(certs, body)
    with pytest.raises(ConfigError) as caught:
        load_web_config(path)
    assert str(caught.value).startswith(f"{certs}/" + want.format(dir=certs)), str(caught.value)


def test_load_good_tls_builds_a_context(certs: Path) -> None:
    path = _tls_file(
        certs,
        """
        cert_file: server.crt
        key_file: server.key
        client_auth_type: RequireAndVerifyClientCert
        client_ca_file: other.crt
        cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]
        """,
    )
    tls = load_web_config(path).tls
    assert tls is not None
    ctx = tls.context()
    assert (ctx.verify_mode, ctx.minimum_version) == (ssl.CERT_REQUIRED, ssl.TLSVersion.TLSv1_2)
    tls12 = {c["name"] for c in ctx.get_ciphers() if c["protocol"] == "TLSv1.2"}
    assert tls12 == {"ECDHE-ECDSA-AES128-GCM-SHA256"}


def _handshake(server: ssl.SSLContext, client: ssl.SSLContext) -> str:
    """One TLS exchange over a socket pair: what the server read, or its error."""
    left, right = socket.socketpair()
    result: list[str] = []

    def serve() -> None:
        try:
            with server.wrap_socket(left, server_side=True) as tls:
                result.append(tls.recv(5).decode())
        except (ssl.SSLError, OSError) as err:
            result.append(f"refused: {type(err).__name__}")

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with client.wrap_socket(right, server_hostname="127.0.0.1") as tls:
            tls.sendall(b"hello")
            tls.recv(1)  # TLS 1.3: a refused client certificate shows up here
    except (ssl.SSLError, OSError):
        pass
    thread.join(10)
    return result[0]


def test_require_and_verify_client_cert(certs: Path) -> None:
    """The server's context asks for a client certificate signed by client_ca_file."""
    self_signed(certs, "client")
    path = _tls_file(
        certs,
        """
        cert_file: server.crt
        key_file: server.key
        client_auth_type: RequireAndVerifyClientCert
        client_ca_file: client.crt
        """,
    )
    tls = load_web_config(path).tls
    assert tls is not None

    def client(cert: str | None) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=certs / "server.crt")
        if cert is not None:
            ctx.load_cert_chain(certs / f"{cert}.crt", certs / f"{cert}.key")
        return ctx

    assert _handshake(tls.context(), client("client")) == "hello"
    assert _handshake(tls.context(), client(None)).startswith("refused")
    assert _handshake(tls.context(), client("other")).startswith("refused")


def test_unreadable_file() -> None:
    with pytest.raises(ConfigError, match=r"^/nonexistent/web\.yml: cannot read the web config"):
        load_web_config("/nonexistent/web.yml")


def test_source_rereads_a_changed_file_and_fails_closed(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users:\n  alice: '{HASH}'\n")
    source = WebConfigSource.open(path)
    assert list(source.current().basic_auth_users) == ["alice"]
    new_hash = bcrypt.hashpw(b"other", bcrypt.gensalt(4)).decode()
    path.write_text(f"basic_auth_users:\n  bob: '{new_hash}'\n")
    os.utime(path, ns=(1, 1))  # a different mtime even on coarse-clock file systems
    assert source.current().basic_auth_users == {"bob": new_hash.encode()}
    path.write_text("basic_auth_users:\n  bob: plain\n")
    os.utime(path, ns=(2, 2))
    with pytest.raises(ConfigError, match="is not usable"):
        source.current()
    path.write_text("")
    os.utime(path, ns=(3, 3))
    assert source.current() == WebConfig()


@pytest.mark.parametrize("command", ["server", "agent", "alertmanager"])
@pytest.mark.parametrize(
    ("body", "want"),
    [
        ("bogus: 1\n", "web.yml:1: bogus: unknown key in the web config"),
        ("basic_auth_users:\n  a: nothash\n", "web.yml:2: basic_auth_users.a: the password"),
    ],
)
def test_cli_refuses_to_start(tmp_path: Path, command: str, body: str, want: str) -> None:
    """Checked before anything starts (no data dir, no port): exit 1, the reason on stderr."""
    path = tmp_path / "web.yml"
    path.write_text(body)
    args = [sys.executable, "-m", "vigil", command, f"--web.config.file={path}"]
    if command == "server":
        args.append(f"--storage.tsdb.path={tmp_path / 'data'}")
    if command == "alertmanager":
        args.append(f"--storage.path={tmp_path / 'am'}")
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert done.returncode == 1
    assert f"vigil {command}: --web.config.file: {tmp_path}/{want}" in done.stderr
    assert not (tmp_path / "data").exists()


def test_tls_certificate_is_reloaded_at_the_next_handshake(tmp_path: Path) -> None:
    """A renewed certificate (same paths, new files) is served to the next connection without
    a restart; a broken renewal keeps the last good one."""
    import asyncio
    import shutil

    cert, key = self_signed(tmp_path, "server")
    path = tmp_path / "web.yml"
    path.write_text(f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n")
    source = WebConfigSource.open(path)
    context = reloading_context(source.current)
    assert context is not None
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    port: list[int] = []

    async def serve() -> None:
        async def answer(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(serve(), loop)
    assert ready.wait(10)
    try:
        first = ssl.get_server_certificate(("127.0.0.1", port[0]), timeout=10)
        renewed, renewed_key = self_signed(tmp_path, "renewed")
        shutil.copy(renewed, cert)
        shutil.copy(renewed_key, key)
        second = ssl.get_server_certificate(("127.0.0.1", port[0]), timeout=10)
        assert first != second
        assert second.strip() == renewed.read_text().strip()
        key.write_text("not a key\n")  # a broken renewal: the last good certificate stays
        cert.write_text("not a certificate\n")
        assert ssl.get_server_certificate(("127.0.0.1", port[0]), timeout=10) == second
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
