"""A test double of the Docker engine API on a unix socket: the container list, inspect, and a
chunked `GET /events` stream the test feeds (replaying, as dockerd does, the events at or after
the `since` a client reconnects with), answered from tests/fixtures/docker/."""

from __future__ import annotations

import json
import queue
import re
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).parents[2] / "fixtures" / "docker"
_VERSION = re.compile(r"^/v\d+\.\d+")
_END = object()


def load_fixture_containers() -> dict[str, dict[str, Any]]:
    """Inspect bodies by container id."""
    return {
        body["Id"]: body
        for body in (json.loads(p.read_text()) for p in sorted(FIXTURES.glob("inspect-*.json")))
    }


def fixture_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / "events.jsonl").read_text().splitlines()]


def _since_ns(query: dict[str, list[str]]) -> int | None:
    """Docker's `since` (`SECONDS[.NANOS]`) in nanoseconds."""
    if "since" not in query:
        return None
    seconds, _, nanos = query["since"][0].partition(".")
    return int(seconds) * 1_000_000_000 + int(nanos.ljust(9, "0")[:9] or 0)


def _event_ns(event: dict[str, Any]) -> int:
    return int(event.get("timeNano") or int(event["time"]) * 1_000_000_000)


class FakeDockerd:
    """Serves `containers` (inspect bodies by id). `garbage=True` answers every call with HTML,
    as a wrong socket (or a proxy) would. Events pushed with `push_event` reach every open stream."""

    def __init__(
        self, socket_path: Path, containers: dict[str, dict[str, Any]], *, garbage: bool = False
    ) -> None:
        self.socket_path = socket_path
        self.containers = containers
        self.garbage = garbage
        self.requests: list[str] = []
        self.initial_events: list[dict[str, Any]] = []
        """Sent first on every new stream, which then ends if `end_after_initial`."""
        self.end_after_initial = False
        self._streams: list[queue.Queue[object]] = []
        self._history: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._connected = threading.Condition(self._lock)
        daemon = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                path = _VERSION.sub("", url.path)
                with daemon._lock:
                    daemon.requests.append(path)
                if daemon.garbage:
                    return self._send(
                        200, b"<html><body>502 Bad Gateway</body></html>", "text/html"
                    )
                if path == "/_ping":
                    return self._send(200, b"OK", "text/plain")
                if path == "/containers/json":
                    listing = [
                        {
                            "Id": c["Id"],
                            "Names": [c["Name"]],
                            "Image": c["Config"]["Image"],
                            "State": c["State"]["Status"],
                        }
                        for c in daemon.containers.values()
                    ]
                    return self._json(200, listing)
                if m := re.fullmatch(r"/containers/([0-9a-f]+)/json", path):
                    body = daemon.containers.get(m[1])
                    if body is None:
                        return self._json(404, {"message": f"No such container: {m[1]}"})
                    return self._json(200, body)
                if path == "/events":
                    return self._events(parse_qs(url.query))
                return self._json(404, {"message": "page not found"})

            def _send(self, status: int, body: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Api-Version", "1.43")
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, body: Any) -> None:
                self._send(status, json.dumps(body).encode(), "application/json")

            def _events(self, query: dict[str, list[str]]) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.send_header("Api-Version", "1.43")
                self.end_headers()
                self.wfile.flush()
                stream: queue.Queue[object] = queue.Queue()
                for event in daemon.initial_events:
                    stream.put(event)
                if daemon.end_after_initial:
                    stream.put(_END)
                since = _since_ns(query)
                with daemon._connected:
                    if since is not None:
                        for event in daemon._history:
                            if _event_ns(event) >= since:
                                stream.put(event)
                    daemon._streams.append(stream)
                    daemon._connected.notify_all()
                try:
                    while True:
                        item = stream.get()
                        if item is _END:
                            self.wfile.write(b"0\r\n\r\n")
                            return
                        data = (json.dumps(item) + "\n").encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                finally:
                    with daemon._lock:
                        daemon._streams.remove(stream)

        class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
            daemon_threads = True

        self._server = Server(str(socket_path), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    def __enter__(self) -> FakeDockerd:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.end_streams()
        self._server.shutdown()
        self._server.server_close()

    def wait_for_stream(self, timeout: float = 5.0) -> None:
        with self._connected:
            if not self._connected.wait_for(lambda: bool(self._streams), timeout):
                raise TimeoutError("no client opened GET /events")

    def push_event(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._history.append(event)
            for stream in self._streams:
                stream.put(event)

    def end_streams(self) -> None:
        with self._lock:
            for stream in self._streams:
                stream.put(_END)
