"""`vigil server --logs.forward.url`: a Loki push taken by vigil reaches the external Loki-push
endpoint, labels, line and nanosecond timestamp as pushed."""

from __future__ import annotations

import gzip
import sys
import time
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import PATIENCE_S, free_port, running
from tests.notify.capture import http_capture

pytestmark = pytest.mark.slow


def test_a_push_is_forwarded(tmp_path: Path) -> None:
    port = free_port()
    now_ns = time.time_ns()
    push = {"streams": [{"stream": {"job": "app"}, "values": [[str(now_ns), "hello loki"]]}]}
    with http_capture([204]) as loki:
        args = [
            sys.executable, "-m", "vigil", "server",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--logs.forward.url={loki.url('/loki/api/v1/push')}",
            "--logs.docker-containers=",
            "--rules.default.disable",
        ]  # fmt: skip
        with running(args, f"http://127.0.0.1:{port}/-/ready"):
            url = f"http://127.0.0.1:{port}/loki/api/v1/push"
            deadline = time.monotonic() + PATIENCE_S
            while True:  # the forwarder starts following the WAL once the store is open
                httpx.post(url, json=push, timeout=10).raise_for_status()
                if loki.requests or time.monotonic() > deadline:
                    break
                time.sleep(1)
            loki.wait(1)
    body = orjson.loads(gzip.decompress(loki.requests[0].body))
    stream = body["streams"][0]
    assert stream["stream"]["job"] == "app"
    assert stream["values"][0][:2] == [str(now_ns), "hello loki"]
