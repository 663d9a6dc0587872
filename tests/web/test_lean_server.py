"""vigil's small HTTP/1.1 server (what `vigil agent` and `vigil alertmanager` serve with), as a
real process spoken to over raw sockets: keep-alive, HEAD, bodies by Content-Length, chunked
and 100-continue under the app's cap, chunked responses, its own 400/413/431/500/501 answers,
slow heads dropped, the app's lifespan, and a logged SIGTERM."""

from __future__ import annotations

import gzip
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, wait_ok

SRC = Path(__file__).resolve().parent.parent.parent / "src"

APP = """
import logging, socket, sys
from vigil.web.lean_server import LeanServer

logging.basicConfig(level=logging.INFO, format="%(message)s")

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            print(message["type"], file=sys.stderr, flush=True)
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    path = scope["path"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for part in (b"ab", b"cde"):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
        return
    if path == "/unread":
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    body = b""
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return
        body += message["body"]
        if not message["more_body"]:
            break
    answer = f"{scope['method']} {path} {scope['query_string'].decode()} {body.decode()}"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": answer.encode()})

sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", int(sys.argv[1])))
sys.exit(LeanServer(app, "test", max_body_bytes=4096).run([sock]))
"""


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", APP, str(port)],
        env={"PYTHONPATH": str(SRC)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ok(f"http://127.0.0.1:{port}/ready", proc=proc)
        yield port
    finally:
        proc.kill()
        proc.wait()


def _exchange(port: int, request: bytes) -> bytes:
    """Everything the server answers to `request` until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


CLOSE = b"Connection: close\r\n"


def _ok(body: bytes, closing: bool = True) -> bytes:
    close = b"connection: close\r\n" if closing else b""
    return b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: %d\r\n%s\r\n%s" % (
        len(body),
        close,
        body,
    )


def _refused(status: int, phrase: bytes, reason: bytes) -> bytes:
    body = phrase + b": " + reason + b"\n"
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d"
        b"\r\nconnection: close\r\n\r\n%s" % (status, phrase, len(body), body)
    )


@pytest.mark.parametrize(
    ("request_bytes", "answer"),
    [
        (b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n" + CLOSE + b"\r\n", _ok(b"GET /a x=1 ")),
        (b"HEAD /a HTTP/1.1\r\nHost: h\r\n" + CLOSE + b"\r\n", _ok(b"HEAD /a  ")[:-9]),
        (
            b"POST /p%20q HTTP/1.1\r\nContent-Length: 5\r\n" + CLOSE + b"\r\nhello",
            _ok(b"POST /p q  hello"),
        ),
        (
            b"POST /c HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n"
            + CLOSE
            + b"\r\nhi",
            b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b"POST /c  hi"),
        ),
        (
            b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n" + CLOSE + b"\r\n",
            _ok(b"GET /a  ", closing=False) + _ok(b"GET /b  "),
        ),
        (b"GET /a HTTP/1.0\r\n\r\n", _ok(b"GET /a  ")),
        (
            b"GET /stream HTTP/1.1\r\n" + CLOSE + b"\r\n",
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
            b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
        ),
        (
            b"GET /stream HTTP/1.0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nabcde",
        ),
        (
            b"GET /boom HTTP/1.1\r\n\r\n",
            _refused(500, b"Internal Server Error", b"internal server error"),
        ),
        (b"BOGUS\r\n\r\n", _refused(400, b"Bad Request", b"malformed request line")),
        (
            b"GET / HTTP/1.1\r\n folded: header\r\n\r\n",
            _refused(400, b"Bad Request", b"malformed header line"),
        ),
        (
            b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n" + CLOSE + b"\r\n"
            b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nTrailer: x\r\n\r\n",
            _ok(b"POST /c  hello world"),
        ),
        (
            b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n"
            + CLOSE
            + b"\r\n2\r\nhi\r\n0\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n" + _ok(b"POST /c  hi"),
        ),
        (
            b"POST /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiPOST /b HTTP/1.1\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n2\r\nho\r\n0\r\n\r\nGET /c HTTP/1.1\r\n"
            + CLOSE
            + b"\r\n",
            _ok(b"POST /a  hi", closing=False)
            + _ok(b"POST /b  ho", closing=False)
            + _ok(b"GET /c  "),
        ),
        (
            b"POST /unread HTTP/1.1\r\nContent-Length: 3000\r\n\r\n"
            + b"x" * 3000
            + b"GET /c HTTP/1.1\r\n"
            + CLOSE
            + b"\r\n",
            b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n" + _ok(b"GET /c  "),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 4097\r\n\r\n",
            _refused(413, b"Request Entity Too Large", b"request body larger than 4096 bytes"),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"800\r\n" + b"x" * 2048 + b"\r\n801\r\n",
            _refused(413, b"Request Entity Too Large", b"request body larger than 4096 bytes"),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            _refused(400, b"Bad Request", b"malformed chunk size"),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhiX0\r\n\r\n",
            _refused(400, b"Bad Request", b"malformed chunked body"),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            _refused(501, b"Not Implemented", b"only the chunked Transfer-Encoding is served"),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            _refused(400, b"Bad Request", b"both Content-Length and Transfer-Encoding"),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            _refused(400, b"Bad Request", b"malformed Content-Length"),
        ),
        (
            b"GET / HTTP/1.1\r\nX: " + b"y" * 70_000 + b"\r\n\r\n",
            _refused(431, b"Request Header Fields Too Large", b"request header fields too large"),
        ),
    ],
    ids=[
        "get",
        "head",
        "post body",
        "100-continue",
        "keep-alive",
        "http/1.0 closes",
        "chunked response",
        "http/1.0 streamed until close",
        "app error",
        "bad request line",
        "folded header",
        "chunked request",
        "chunked request, 100-continue",
        "bodies on one connection",
        "unread body dropped, connection kept",
        "body over the cap",
        "chunked body over the cap",
        "bad chunk size",
        "chunk without its CRLF",
        "other transfer-encoding",
        "two framings",
        "two lengths",
        "head too large",
    ],
)
def test_answers(port: int, request_bytes: bytes, answer: bytes) -> None:
    assert _exchange(port, request_bytes) == answer


def test_a_body_cut_short_is_a_400(port: int) -> None:
    """The client stops sending (half-closes) before the body's Content-Length."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhello")
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received == _refused(400, b"Bad Request", b"request body cut short")


def test_a_head_that_never_ends_is_dropped(port: int) -> None:
    """A slowloris head: the server closes the connection (KEEP_ALIVE_S) without an answer,
    and meanwhile still answers others."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nX-Slow: ")
        assert (
            httpx.get(f"http://127.0.0.1:{port}/other", timeout=PATIENCE_S).text == "GET /other  "
        )
        sock.sendall(b"a")
        assert sock.recv(65536) == b""


def test_a_refused_body_already_sent_leaves_the_answer_readable(port: int) -> None:
    """A client that sends its whole too-large body before reading (no 100-continue) still
    reads the 413: the server drops what arrives before it closes instead of resetting."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 500000\r\n\r\n" + b"x" * 500_000)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received == _refused(
        413, b"Request Entity Too Large", b"request body larger than 4096 bytes"
    )


def test_sigterm_stops_after_the_lifespan_shutdown_and_is_raised_again() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", APP, str(port)],
        env={"PYTHONPATH": str(SRC)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ok(f"http://127.0.0.1:{port}/ready", proc=proc)
        proc.send_signal(signal.SIGTERM)
        _, text = proc.communicate(timeout=PATIENCE_S)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGTERM
    assert text.splitlines() == [
        "lifespan.startup",
        "test: SIGTERM received, shutting down",
        "lifespan.shutdown",
        "test stopped",
    ]


def test_the_agent_negotiates_and_compresses_its_metrics() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil", "agent", f"--web.listen-address=127.0.0.1:{port}",
         "--no-collector.containers"],
        env={"PYTHONPATH": str(SRC)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_ok(f"http://127.0.0.1:{port}/", proc=proc)
        answer = _exchange(
            port,
            b"GET /metrics HTTP/1.1\r\nHost: h\r\nAccept: application/openmetrics-text; "
            b"version=1.0.0\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        )
        head, _, body = answer.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:])
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert fields[b"content-type"].startswith(b"application/openmetrics-text; version=1.0.0")
        assert fields[b"content-encoding"] == b"gzip"
        assert int(fields[b"content-length"]) == len(body)
        assert gzip.decompress(body).endswith(b"# EOF\n")
        listed = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=PATIENCE_S)
        assert "node_cpu_seconds_total" in listed.text
        refused = httpx.delete(f"http://127.0.0.1:{port}/metrics", timeout=PATIENCE_S)
        assert (refused.status_code, refused.headers["allow"]) == (405, "GET, HEAD")
        assert httpx.get(f"http://127.0.0.1:{port}/nope", timeout=PATIENCE_S).status_code == 404
    finally:
        proc.terminate()
        proc.wait(PATIENCE_S)


def test_the_agent_serves_https_with_basic_auth(tmp_path: Path) -> None:
    """--web.config.file with the lean server: TLS, basic auth and response headers."""
    from tests.web.test_webconfig import HASH, self_signed

    cert, key = self_signed(tmp_path, "agent")
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config:\n  cert_file: {cert}\n  key_file: {key}\n"
        f"basic_auth_users:\n  alice: '{HASH}'\n"
        "http_server_config:\n  headers:\n    X-Frame-Options: deny\n"
    )
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "vigil", "agent", f"--web.listen-address=127.0.0.1:{port}",
         "--no-collector.containers", f"--web.config.file={web}"],
        env={"PYTHONPATH": str(SRC)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with httpx.Client(verify=str(cert), timeout=PATIENCE_S) as client:
            url = f"https://127.0.0.1:{port}/metrics"
            deadline = time.monotonic() + PATIENCE_S
            while True:
                assert proc.poll() is None, "the agent exited"
                assert time.monotonic() < deadline, "the agent never answered"
                try:
                    refused = client.get(url)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            allowed = client.get(url, auth=("alice", "secret"))
        assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Basic")
        assert allowed.status_code == 200
        assert allowed.headers["x-frame-options"] == "deny"
        assert "node_cpu_seconds_total" in allowed.text
    finally:
        proc.terminate()
        proc.wait(PATIENCE_S)
