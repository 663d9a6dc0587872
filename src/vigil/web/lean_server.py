"""A small HTTP/1.1 server for an ASGI app, on asyncio streams: what `vigil agent` and `vigil
alertmanager` serve with instead of uvicorn, whose stack (uvicorn, uvloop, httptools) is a
sixth of their resident memory.

It keeps what scrapers, curl, browsers and amtool need: keep-alive, HEAD (headers only),
request bodies by Content-Length or chunked (with `Expect: 100-continue`), streamed to the app
as it reads them, chunked responses for streamed bodies, TLS from an ssl context, its own
400/408/413/431/500/501 answers, and a graceful stop on SIGTERM/SIGINT (idle connections
closed, requests in progress answered, then the app's lifespan shutdown; the signal is raised
again once stopped, as uvicorn does). It leaves out WebSockets and HTTP/2.

What a client can make it hold is bounded: a request head by MAX_HEAD_BYTES and
KEEP_ALIVE_S (a head trickled in slowly is dropped when the time is up), a body by the app's
cap (`max_body_bytes`: a larger Content-Length is refused before the app runs, a chunked body
when its bytes pass the cap) and BODY_TIMEOUT_S between two reads of it. What of a body the
app leaves unread is read and dropped after its response, as uvicorn does, so the connection
stays open."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote

if TYPE_CHECKING:
    import ssl

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
READ_BYTES = 64 * 1024
"""The most a body read hands the app at once."""
LINGER_S = 5.0
"""How long an answer given before the request body was read waits, dropping what the client
still sends, before the connection closes (nginx's lingering close): closing a socket with
unread bytes resets it, and a reset can destroy the answer before the client reads it."""
_HEX = frozenset(b"0123456789abcdefABCDEF")

log = logging.getLogger("vigil")


class _BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class LeanServer:
    """Serves `app` on listening sockets until SIGTERM or SIGINT; `command` names it in the
    log lines ("agent: SIGTERM received, shutting down", "agent stopped"). A request body
    larger than `max_body_bytes` is refused with 413."""

    def __init__(
        self,
        app: ASGIApp,
        command: str,
        tls: ssl.SSLContext | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.app = app
        self.command = command
        self.tls = tls
        self.max_body_bytes = max_body_bytes
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
        sock = writer.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # asyncio sets this only on sockets made with proto=IPPROTO_TCP, not on ours
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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
                after = await self._exchange(head, reader, writer)
                if after == "linger":
                    await _linger(reader, writer)
                if after != "keep":
                    return
                self._idle[task] = True
        except asyncio.CancelledError:
            pass
        finally:
            del self._idle[task]
            writer.close()

    async def _exchange(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> _After:
        """One request and its response; what becomes of the connection."""
        try:
            scope = _scope(head, writer, "https" if self.tls is not None else "http")
            body = _RequestBody(scope, reader, writer, self.max_body_bytes)
        except _BadRequest as err:
            await _refuse(writer, err.status, err.reason)
            return "linger"
        keep_alive = _keep_alive(scope) and not self._stopping
        response = _Response(writer, scope, keep_alive)
        sent_all = False

        async def receive() -> Message:
            nonlocal sent_all
            if not response.done.is_set() and not sent_all:
                try:
                    piece = b"" if body.complete else await body.read()
                except _BadRequest as err:
                    await response.refuse(err.status, err.reason)
                except ConnectionError:
                    response.abandon()
                else:
                    sent_all = body.complete
                    return {"type": "http.request", "body": piece, "more_body": not sent_all}
            await response.done.wait()
            return {"type": "http.disconnect"}

        try:
            await self.app(scope, receive, response.send)
        except (ConnectionError, asyncio.CancelledError):
            return "close"
        except Exception:
            if response.refused:  # the app failed on the disconnect that followed a refusal
                return "linger"
            log.exception("%s: %s %s failed", self.command, scope["method"], scope["path"])
            if not response.started:
                await _refuse(writer, 500, "internal server error")
            return "linger"
        if response.refused:
            return "linger"
        if not response.done.is_set():
            if response.started:
                return "close"
            await _refuse(writer, 500, "the application sent no response")
            return "linger"
        if not response.keep_alive or self._stopping or body.awaits_continue:
            return "close" if body.complete else "linger"
        try:
            while not body.complete:  # what the app left unread, dropped
                await body.read()
        except (_BadRequest, ConnectionError):
            return "linger"
        return "keep"


_After = Literal["keep", "close", "linger"]
"""After an exchange: wait for the next request, close, or close after `_linger`."""


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(TimeoutError, ConnectionError, OSError):
        if writer.can_write_eof():
            writer.write_eof()
        async with asyncio.timeout(LINGER_S):
            while await reader.read(READ_BYTES):
                pass


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


class _RequestBody:
    """A request's body, read from the connection as the app asks for it: Content-Length or
    chunked, never more than `limit` bytes in all. `read` raises _BadRequest (400 malformed or
    cut short, 408 stalled, 413 too large) or a connection error; "" once complete."""

    def __init__(
        self,
        scope: dict[str, Any],
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        limit: int,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._limit = limit
        self._received = 0
        self._chunked = False
        self._left = 0
        """Bytes left in the body (Content-Length) or in the current chunk (chunked)."""
        encoding = _header(scope, b"transfer-encoding")
        lengths = {value for name, value in scope["headers"] if name == b"content-length"}
        if encoding is not None:
            if lengths:
                raise _BadRequest(400, "both Content-Length and Transfer-Encoding")
            if encoding.lower() != b"chunked":
                raise _BadRequest(501, "only the chunked Transfer-Encoding is served")
            if scope["http_version"] == "1.0":
                raise _BadRequest(400, "Transfer-Encoding in an HTTP/1.0 request")
            self._chunked = True
        elif lengths:
            length = lengths.pop()
            if lengths or not length.isdigit():
                raise _BadRequest(400, "malformed Content-Length")
            self._left = int(length)
            if self._left > limit:
                raise _BadRequest(413, self._too_large())
        self.complete = not self._chunked and not self._left
        expect = (_header(scope, b"expect") or b"").lower() == b"100-continue"
        self.awaits_continue = expect and not self.complete
        """The client waits for "100 Continue" before it sends the body: sent by the first read."""

    def _too_large(self) -> str:
        return f"request body larger than {self._limit} bytes"

    async def read(self) -> bytes:
        """The next piece of the body (at most READ_BYTES), b"" when the body is complete."""
        if self.awaits_continue:
            self.awaits_continue = False
            self._writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        if self._chunked and not self._left:
            await self._next_chunk()
            if self.complete:
                return b""
        piece = await self._within(self._reader.read(min(self._left, READ_BYTES)))
        if not piece:
            raise _BadRequest(400, "request body cut short")
        self._left -= len(piece)
        if not self._chunked and not self._left:
            self.complete = True
        return piece

    async def _next_chunk(self) -> None:
        """Past the end of the previous chunk, the next one's size line (or the last chunk
        and the trailer fields after it)."""
        if self._received and await self._line():
            raise _BadRequest(400, "malformed chunked body")
        text = (await self._line()).split(b";", 1)[0].strip(b" \t")
        if not text or len(text) > 16 or not _HEX.issuperset(text):
            raise _BadRequest(400, "malformed chunk size")
        size = int(text, 16)
        if not size:
            while trailer := await self._line():  # trailer fields, not passed on
                self._count(len(trailer))
            self.complete = True
            return
        self._count(size)
        self._left = size

    def _count(self, size: int) -> None:
        self._received += size
        if self._received > self._limit:
            raise _BadRequest(413, self._too_large())

    async def _line(self) -> bytes:
        try:
            return (await self._within(self._reader.readuntil(b"\r\n")))[:-2]
        except asyncio.LimitOverrunError:
            raise _BadRequest(400, "malformed chunked body") from None
        except asyncio.IncompleteReadError:
            raise _BadRequest(400, "request body cut short") from None

    @staticmethod
    async def _within(read: Awaitable[bytes]) -> bytes:
        try:
            return await asyncio.wait_for(read, BODY_TIMEOUT_S)
        except TimeoutError:
            raise _BadRequest(408, "request body not received in time") from None


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

    def __init__(
        self,
        writer: asyncio.StreamWriter,
        scope: dict[str, Any],
        keep_alive: bool,
    ):
        self.writer = writer
        self.head_only = scope["method"] == "HEAD"
        self.http10 = scope["http_version"] == "1.0"
        self.keep_alive = keep_alive
        self.started = False
        self.refused = False
        """The server answered instead of the app (its body was refused, or the client went
        away): the app's later messages are dropped, the connection closes."""
        self.done = asyncio.Event()
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._chunked = False
        self._head_sent = False

    async def refuse(self, status: int, reason: str) -> None:
        """The server's own answer in place of the app's, when no response has started."""
        started = self.started
        self.abandon()
        if not started:
            await _refuse(self.writer, status, reason)

    def abandon(self) -> None:
        self.refused = self.started = True
        self.done.set()

    async def send(self, message: Message) -> None:
        if self.refused:
            return
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
        out = b"" if self._head_sent else self._head(len(body) if not more else None)
        if not self.head_only:
            if self._chunked:
                out += b"%x\r\n%s\r\n" % (len(body), body) if body else b""
                out += b"" if more else b"0\r\n\r\n"
            else:
                out += body
        if out:  # in one write: a response's parts in separate segments wait for delayed ACKs
            self.writer.write(out)
        if not more:
            self.done.set()
        await self.writer.drain()

    def _head(self, length: int | None) -> bytes:
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
        self._head_sent = True
        return b"\r\n".join(lines) + b"\r\n\r\n"


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
