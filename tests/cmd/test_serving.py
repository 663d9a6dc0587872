"""The uvicorn server every serving command runs: it answers with a current Date header, and
stops when `should_exit` is set from another thread (as `vigil server`'s fatal-error path and
tests do), although it wakes only once a second when idle."""

from __future__ import annotations

import email.utils
import socket
import threading
import time

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from tests.conftest import PATIENCE_S, wait_ok
from vigil.cmd.serving import _logged_server


async def _hello(_: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


def test_serves_with_a_date_header_and_stops_when_asked_from_another_thread() -> None:
    app = Starlette(routes=[Route("/", _hello)])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        server = _logged_server(config, "test", lambda: None)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        try:
            wait_ok(f"http://127.0.0.1:{port}/")
            answer = httpx.get(f"http://127.0.0.1:{port}/")
        finally:
            server.should_exit = True
            thread.join(PATIENCE_S)
    date = email.utils.parsedate_to_datetime(answer.headers["date"]).timestamp()
    assert (answer.text, thread.is_alive()) == ("hello", False)
    assert abs(date - time.time()) < PATIENCE_S
