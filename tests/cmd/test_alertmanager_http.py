"""`vigil alertmanager` on the small HTTP server, spoken to over raw sockets as Go clients and
shippers speak: chunked and Content-Length POSTs on one kept-alive connection, HEAD, query
strings; garbage, cut-short and oversized bodies answered with a clear 4xx."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator

import pytest

from tests.conftest import PATIENCE_S, free_port, running
from vigil.web.alertmanager_api import MAX_BODY_BYTES

CONFIG = "route:\n  receiver: 'null'\nreceivers:\n- name: 'null'\n"
ALERT = b'[{"labels": {"alertname": "Chunked", "job": "x"}}]'


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    tmp = tmp_path_factory.mktemp("am")
    config = tmp / "alertmanager.yml"
    config.write_text(CONFIG)
    port = free_port()
    args = [
        sys.executable, "-m", "vigil", "alertmanager", f"--config.file={config}",
        f"--storage.path={tmp / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    with running(args, f"http://127.0.0.1:{port}/-/ready"):
        yield port


def _answers(port: int, request: bytes, half_close: bool = False) -> list[tuple[int, bytes]]:
    """(status, body) of every response to `request` until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=PATIENCE_S) as sock:
        sock.sendall(request)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    answers = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        fields = dict(line.lower().split(b": ", 1) for line in lines[1:])
        length = int(fields.get(b"content-length", b"0"))
        answers.append((int(lines[0].split()[1]), rest[:length]))
        received = rest[length:]
    return answers


def _chunked(body: bytes) -> bytes:
    middle = len(body) // 2
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:middle], body[middle:]))


def test_requests_on_one_connection(port: int) -> None:
    post = b"POST /api/v2/alerts HTTP/1.1\r\nHost: am\r\nContent-Type: application/json\r\n"
    answers = _answers(
        port,
        post + b"Transfer-Encoding: chunked\r\n\r\n" + _chunked(ALERT) + b"0\r\n\r\n"
        + post + b"Content-Length: %d\r\n\r\n%s" % (len(ALERT), ALERT.replace(b"x", b"y"))
        + b"HEAD /-/healthy HTTP/1.1\r\nHost: am\r\n\r\n"
        + b"GET /api/v2/alerts?filter=alertname%3D%22Chunked%22&active=true HTTP/1.1\r\n"
        b"Host: am\r\nConnection: close\r\n\r\n",
    )  # fmt: skip
    statuses = [status for status, _ in answers]
    listed = json.loads(answers[-1][1])
    assert statuses == [200, 200, 200, 200]
    assert sorted(alert["labels"]["job"] for alert in listed) == ["x", "y"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "says"),
    [
        (b"Content-Length: 9\r\n\r\n[{garbage", 400, b"parsing alerts body"),
        (b'Transfer-Encoding: chunked\r\n\r\n5\r\n[{"la', 400, b"cut short"),
        (b"Content-Length: %d\r\n\r\n" % (MAX_BODY_BYTES + 1), 413, b"larger than"),
        (
            b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % (MAX_BODY_BYTES + 1),
            413,
            b"larger than",
        ),
    ],
    ids=["garbage", "chunked body cut short", "too large", "chunked too large"],
)
def test_bad_bodies_get_a_clear_4xx(
    port: int, request_bytes: bytes, status: int, says: bytes
) -> None:
    head = b"POST /api/v2/alerts HTTP/1.1\r\nHost: am\r\nContent-Type: application/json\r\n"
    [(got, body)] = _answers(port, head + request_bytes, half_close=True)
    assert (got, says in body) == (status, True), body
