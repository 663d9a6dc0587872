"""Local sinks that record what a notifier sends: an HTTP server (Slack, webhooks) answering
with statuses the test chooses, and a minimal SMTP server (EHLO, optional AUTH PLAIN/LOGIN,
MAIL, RCPT, DATA) that keeps each message. Both listen on 127.0.0.1 in a thread."""

from __future__ import annotations

import base64
import contextlib
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import PATIENCE_S


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HTTPCapture:
    """Records requests; answers each with the next of `statuses` (the last one repeats)."""

    statuses: list[int] = field(default_factory=lambda: [200])
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait(self, count: int, seconds: float = PATIENCE_S) -> list[Request]:
        """The first `count` requests, waiting (bounded) for a peer process to send them."""
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, f"got {len(self.requests)} of {count} requests"
        return self.requests[:count]


@contextmanager
def http_capture(statuses: list[int] | None = None) -> Iterator[HTTPCapture]:
    capture = HTTPCapture(statuses=statuses or [200])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with lock:
                capture.requests.append(Request(self.path, dict(self.headers.items()), body))
                index = min(len(capture.requests), len(capture.statuses)) - 1
                status = capture.statuses[index]
            payload = b"ok" if status < 300 else f"failure {status}".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    capture.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    data: bytes
    helo: str
    auth: tuple[str, str, str] | None  # mechanism, user, password
    tls: bool


@dataclass
class SMTPCapture:
    port: int = 0
    auth: tuple[str, ...] = ()  # mechanisms to offer
    tls: ssl.SSLContext | None = None  # offer STARTTLS with this server context
    mails: list[Mail] = field(default_factory=list)

    def wait(self, count: int, seconds: float = PATIENCE_S) -> list[Mail]:
        deadline = time.monotonic() + seconds
        while len(self.mails) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.mails) >= count, f"got {len(self.mails)} of {count} mails"
        return self.mails[:count]


@contextmanager
def smtp_capture(
    auth: tuple[str, ...] = (), tls: ssl.SSLContext | None = None
) -> Iterator[SMTPCapture]:
    capture = SMTPCapture(auth=auth, tls=tls)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def read(self) -> str:
            return self.rfile.readline().decode().rstrip("\r\n")

        def handle(self) -> None:
            with contextlib.suppress(OSError):  # the client hung up (after QUIT, say)
                self.converse()

        def converse(self) -> None:
            helo, sender, rcpts, who, secure = "", "", [], None, False
            self.reply("220 capture ESMTP")
            while True:
                line = self.read()
                verb = line[:4].upper()
                if not line:
                    return
                if verb == "QUIT":
                    self.reply("221 bye")
                    return
                if verb in ("EHLO", "HELO"):
                    helo = line[5:]
                    extensions = ["250-capture", "250-8BITMIME"]
                    if capture.tls is not None and not secure:
                        extensions.append("250-STARTTLS")
                    if capture.auth:
                        extensions.append("250-AUTH " + " ".join(capture.auth))
                    extensions.append("250 SIZE 10000000")
                    for ext in extensions:
                        self.reply(ext)
                elif verb == "STAR" and capture.tls is not None:
                    self.reply("220 go ahead")
                    self.connection = capture.tls.wrap_socket(self.connection, server_side=True)
                    self.rfile = self.connection.makefile("rb")
                    self.wfile = self.connection.makefile("wb", buffering=0)
                    secure = True
                elif line.upper().startswith("AUTH PLAIN"):
                    token = line[11:] or self._challenge("")
                    _, user, password = base64.b64decode(token).decode().split("\0")
                    who = ("PLAIN", user, password)
                    self.reply("235 ok")
                elif line.upper().startswith("AUTH LOGIN"):
                    user = base64.b64decode(self._challenge("VXNlcm5hbWU6")).decode()
                    password = base64.b64decode(self._challenge("UGFzc3dvcmQ6")).decode()
                    who = ("LOGIN", user, password)
                    self.reply("235 ok")
                elif verb == "MAIL":
                    sender = line.split(":", 1)[1].split()[0].strip("<>")
                    self.reply("250 sender ok")
                elif verb == "RCPT":
                    rcpts.append(line.split(":", 1)[1].strip().strip("<>"))
                    self.reply("250 recipient ok")
                elif verb == "DATA":
                    self.reply("354 go ahead")
                    data = b""
                    while (chunk := self.rfile.readline()) != b".\r\n":
                        if not chunk:
                            return  # cut off mid-message: not a mail
                        data += chunk[1:] if chunk.startswith(b"..") else chunk
                    capture.mails.append(Mail(sender, rcpts, data, helo, who, secure))
                    self.reply("250 2.0.0 queued as 1")
                elif verb == "RSET" or verb == "NOOP":
                    self.reply("250 ok")
                else:
                    self.reply("502 not implemented")

        def _challenge(self, prompt: str) -> str:
            self.reply(f"334 {prompt}")
            return self.read()

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    server = Server(("127.0.0.1", 0), Handler)
    capture.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield capture
    finally:
        server.shutdown()
        server.server_close()
