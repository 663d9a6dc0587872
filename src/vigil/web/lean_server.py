"""A small HTTP/1.1 server for an ASGI app, on asyncio streams: what `vigil agent` serves
/metrics with instead of uvicorn, whose stack (uvicorn, uvloop, httptools, Starlette) is a
seventh of the agent's resident memory.

It keeps what scrapers, curl and browsers need: keep-alive, HEAD (headers only), request
bodies by Content-Length (with `Expect: 100-continue`), chunked responses for streamed
bodies, TLS from an ssl context, its own 400/411/413/431/500 answers, and a graceful stop on
SIGTERM/SIGINT (idle connections closed, requests in progress answered, then the app's
lifespan shutdown; the signal is raised again once stopped, as uvicorn does). It leaves out
WebSockets, chunked request bodies and HTTP/2."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import ssl
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [
        MutableMapping[str, Any],
        Callable[[], Awaitable[Message]],
        Callable[[Message], Awaitable[None]],
    ],
    Awaitable[None],
]

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 1 << 20
KEEP_ALIVE_S = 5.0  # uvicorn's timeout_keep_alive
BODY_TIMEOUT_S = 30.0

log = logging.getLogger("vigil")


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LeanServer:
    """Serves `app` on listening sockets until SIGTERM or SIGINT; `command` names it in the
    log lines ("agent: SIGTERM received, shutting down", "agent stopped")."""

    def __init__(self, app: ASGIApp, command: str, tls: ssl.SSLContext | None = None) -> None:
        self.app = app
        self.command = command
        self.tls = tls
        self._idle: dict[asyncio.Task[None], bool] = {}
        self._stopping = False

    def run(self, sockets: Sequence[socket.socket]) -> int:
        """0 once stopped by a signal (raised again first), 3 when the app's startup failed."""
        received = asyncio.run(self.serve(sockets))
        if received is None:
            return 3
        signal.signal(received, signal.SIG_DFL)
        signal.raise_signal(received)
        return 0

    async def serve(self, sockets: Sequence[socket.socket]) -> int | None:
        """Serve until a signal (returned) arrives, or the lifespan startup fails (None)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        received: list[int] = []

        def on_signal(sig: int) -> None:
            if not received:
                log.info("%s: %s received, shutting down", self.command, signal.Signals(sig).name)
            received.append(sig)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal, sig)
        lifespan = _Lifespan(self.app)
        if not await lifespan.startup():
            return None
        servers = [
            await asyncio.start_server(
                self._connection, sock=sock, ssl=self.tls, limit=MAX_HEAD_BYTES
            )
            for sock in sockets
        ]
        await stop.wait()
        self._stopping = True
        for server in servers:
            server.close()
        for task, idle in list(self._idle.items()):
            if idle:
                task.cancel()
        await asyncio.gather(*self._idle, return_exceptions=True)
        await lifespan.shutdown()
        log.info("%s stopped", self.command)
        return received[0]

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._idle[task] = True
        try:
            while not self._stopping:
                try:
                    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), KEEP_ALIVE_S)
                except asyncio.LimitOverrunError:
                    await _refuse(writer, 431, "request header fields too large")
                    return
                except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
                    return
                self._idle[task] = False
                if not await self._exchange(head, reader, writer):
                    return
                self._idle[task] = True
        except asyncio.CancelledError:
            pass
        finally:
            del self._idle[task]
            writer.close()

    async def _exchange(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """One request and its response; whether the connection stays open."""
        try:
            scope = _scope(head, writer, "https" if self.tls is not None else "http")
            body = await _body(scope, reader, writer)
        except _BadRequest as err:
            await _refuse(writer, err.status, err.reason)
            return False
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            return False
        response = _Response(writer, scope, keep_alive=_keep_alive(scope) and not self._stopping)
        sent_request = False

        async def receive() -> Message:
            nonlocal sent_request
            if not sent_request:
                sent_request = True
                return {"type": "http.request", "body": body, "more_body": False}
            await response.done.wait()
            return {"type": "http.disconnect"}

        try:
            await self.app(scope, receive, response.send)
        except (ConnectionError, asyncio.CancelledError):
            return False
        except Exception:
            log.exception("%s: %s %s failed", self.command, scope["method"], scope["path"])
            if not response.started:
                await _refuse(writer, 500, "internal server error")
            return False
        if not response.done.is_set():
            if response.started:
                return False
            await _refuse(writer, 500, "the application sent no response")
            return False
        return response.keep_alive and not self._stopping


def _scope(head: bytes, writer: asyncio.StreamWriter, scheme: str) -> dict[str, Any]:
    request_line, *lines = head[:-4].split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or parts[2] not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise _BadRequest(400, "malformed request line")
    method, target, version = parts
    if not method.isalpha() or not method.isupper() or not target.startswith(b"/"):
        raise _BadRequest(400, "malformed request line")
    headers: list[tuple[bytes, bytes]] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip() or line[:1] in (b" ", b"\t"):
            raise _BadRequest(400, "malformed header line")
        headers.append((name.lower(), value.strip(b" \t")))
    raw_path, _, query = target.partition(b"?")
    try:
        path = unquote(raw_path.decode("ascii"))
    except UnicodeDecodeError:
        raise _BadRequest(400, "malformed request target") from None
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": version[5:].decode(),
        "method": method.decode(),
        "scheme": scheme,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": _address(writer.get_extra_info("peername")),
        "server": _address(writer.get_extra_info("sockname")),
        "state": {},
    }


def _address(info: Any) -> tuple[str, int] | None:
    return (str(info[0]), int(info[1])) if isinstance(info, tuple) else None


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def _body(
    scope: dict[str, Any], reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> bytes:
    if _header(scope, b"transfer-encoding") is not None:
        raise _BadRequest(411, "a request body needs Content-Length")
    length = _header(scope, b"content-length")
    if length is None:
        return b""
    if not length.isdigit():
        raise _BadRequest(400, "malformed Content-Length")
    size = int(length)
    if size > MAX_BODY_BYTES:
        raise _BadRequest(413, f"request body larger than {MAX_BODY_BYTES} bytes")
    if size and (_header(scope, b"expect") or b"").lower() == b"100-continue":
        writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    return await asyncio.wait_for(reader.readexactly(size), BODY_TIMEOUT_S)


def _keep_alive(scope: dict[str, Any]) -> bool:
    tokens = {t.strip().lower() for t in (_header(scope, b"connection") or b"").split(b",")}
    if scope["http_version"] == "1.0":
        return b"keep-alive" in tokens
    return b"close" not in tokens


async def _refuse(writer: asyncio.StreamWriter, status: int, reason: str) -> None:
    """The server's own answer (the connection closes after it)."""
    body = f"{HTTPStatus(status).phrase}: {reason}\n".encode()
    writer.write(
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\ncontent-type: text/plain; "
        f"charset=utf-8\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(ConnectionError):
        await writer.drain()


class _Response:
    """The ASGI `send` of one request: the head goes out with the first body message (with
    Content-Length when the body comes in one message and the app set none, else chunked)."""

    def __init__(self, writer: asyncio.StreamWriter, scope: dict[str, Any], keep_alive: bool):
        self.writer = writer
        self.head_only = scope["method"] == "HEAD"
        self.http10 = scope["http_version"] == "1.0"
        self.keep_alive = keep_alive
        self.started = False
        self.done = asyncio.Event()
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunked = False
        self._head_sent = False

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start" and not self.started:
            self.started = True
            self._status = int(message["status"])
            self._headers = [(bytes(k).lower(), bytes(v)) for k, v in message.get("headers", ())]
            return
        if kind != "http.response.body" or not self.started or self.done.is_set():
            raise RuntimeError(f"unexpected ASGI message {kind!r}")
        body = bytes(message.get("body", b""))
        more = bool(message.get("more_body", False))
        if not self._head_sent:
            self._write_head(len(body) if not more else None)
        if not self.head_only and body:
            self.writer.write(b"%x\r\n%s\r\n" % (len(body), body) if self._chunked else body)
        if not more:
            if self._chunked and not self.head_only:
                self.writer.write(b"0\r\n\r\n")
            self.done.set()
        await self.writer.drain()

    def _write_head(self, length: int | None) -> None:
        names = {name for name, _ in self._headers}
        headers = list(self._headers)
        if b"content-length" not in names:
            if length is not None:
                headers.append((b"content-length", str(length).encode()))
            elif self.http10:
                self.keep_alive = False
            else:
                self._chunked = True
                headers.append((b"transfer-encoding", b"chunked"))
        if not self.keep_alive:
            headers.append((b"connection", b"close"))
        try:
            phrase = HTTPStatus(self._status).phrase
        except ValueError:
            phrase = ""
        lines = [f"HTTP/1.1 {self._status} {phrase}".encode()]
        lines += [name + b": " + value for name, value in headers]
        self.writer.write(b"\r\n".join(lines) + b"\r\n\r\n")
        self._head_sent = True


class _Lifespan:
    """ASGI's lifespan protocol: the app's startup before serving, its shutdown after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> bool:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(self._run(scope))
        await self._inbox.put({"type": "lifespan.startup"})
        answer = await self._outbox.get()
        if answer["type"] == "lifespan.startup.failed":
            log.error("startup failed: %s", answer.get("message", ""))
            return False
        return True

    async def shutdown(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        answer = await self._outbox.get()
        if answer["type"] == "lifespan.shutdown.failed":
            log.error("shutdown failed: %s", answer.get("message", ""))
        if self._task is not None:
            await self._task

    async def _run(self, scope: dict[str, Any]) -> None:
        try:
            await self.app(scope, self._inbox.get, self._outbox.put)
        except Exception as err:
            log.exception("lifespan failed")
            await self._outbox.put({"type": "lifespan.startup.failed", "message": str(err)})
