"""The WebSocket client of `vigil logs tail`: Loki's `/loki/api/v1/tail` over a plain socket
driven by wsproto (the sans-IO library uvicorn also serves WebSockets with), one JSON
message at a time."""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)

from vigil.cmd.query import QueryCommandError

_CONNECT_TIMEOUT_S = 30.0


class TailFailedError(QueryCommandError):
    """The server refused the WebSocket or closed it with an error."""


def tail_messages(
    addr: str, path: str, params: Sequence[tuple[str, str]], headers: Mapping[str, str]
) -> Iterator[dict[str, Any]]:
    """Each message the server sends until it closes the connection."""
    url = urlsplit(addr)
    secure = url.scheme == "https"
    host = url.hostname or "localhost"
    port = url.port or (443 if secure else 80)
    try:
        sock = socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S)
    except OSError as err:
        raise TailFailedError(f"cannot connect to {addr}: {err.strerror or err}") from None
    if secure:
        sock = ssl.create_default_context().wrap_socket(sock, server_hostname=host)
    sock.settimeout(None)
    with sock:
        ws = WSConnection(ConnectionType.CLIENT)
        target = url.path.rstrip("/") + path + "?" + urlencode(params)
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]
        sock.sendall(ws.send(Request(host=url.netloc, target=target, extra_headers=extra)))
        yield from _messages(sock, ws)


def _messages(sock: socket.socket, ws: WSConnection) -> Iterator[dict[str, Any]]:
    text: list[str] = []
    refused: list[bytes] = []
    while True:
        data = sock.recv(65536)
        ws.receive_data(data or None)
        for event in ws.events():
            if isinstance(event, AcceptConnection):
                continue
            if isinstance(event, RejectConnection):
                refused.append(f"{event.status_code} ".encode())
                if not event.has_body:
                    raise TailFailedError(b"".join(refused).decode().strip())
            elif isinstance(event, RejectData):
                refused.append(event.data)
                if event.body_finished:
                    raise TailFailedError(b"".join(refused).decode("utf-8", "replace").strip())
            elif isinstance(event, TextMessage):
                text.append(event.data)
                if event.message_finished:
                    yield json.loads("".join(text))
                    text.clear()
            elif isinstance(event, Ping):
                sock.sendall(ws.send(event.response()))
            elif isinstance(event, CloseConnection):
                if event.code not in (1000, 1001):
                    raise TailFailedError(
                        f"the server closed the tail: {event.reason or event.code}"
                    )
                return
        if not data:
            return
