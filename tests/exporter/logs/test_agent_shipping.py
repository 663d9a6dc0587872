"""`vigil agent --logs.push-url` as a process: files shipped to a Loki-push endpoint, nothing
lost across a `kill -9` and a restart (at least once: only lines shipped after the last
saved position may come twice)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.conftest import PATIENCE_S, free_port, wait_ok
from tests.notify.capture import HTTPCapture, http_capture

pytestmark = pytest.mark.slow


def _lines(capture: HTTPCapture) -> list[str]:
    return [
        value[1]
        for request in list(capture.requests)
        for stream in orjson.loads(request.body)["streams"]
        for value in stream["values"]
    ]


def _wait_for(capture: HTTPCapture, line: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while line not in _lines(capture):
        assert time.monotonic() < deadline, f"{line!r} never arrived"
        time.sleep(0.1)


def _agent(tmp_path: Path, url: str) -> subprocess.Popen[bytes]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "vigil",
            "agent",
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            "--no-collector.containers",
            f"--logs.push-url={url}",
            f"--logs.files={tmp_path}/*.log",
            "--logs.docker-containers=",
            f"--logs.positions-file={tmp_path}/positions.json",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "src")},
    )
    wait_ok(f"http://127.0.0.1:{port}/metrics")
    return proc


def test_kill_9_and_restart_lose_no_line(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("".join(f"line {i}\n" for i in range(200)))
    with http_capture([204]) as capture:
        agent = _agent(tmp_path, capture.url("/loki/api/v1/push"))
        try:
            _wait_for(capture, "line 199")
        finally:
            agent.send_signal(signal.SIGKILL)
            agent.wait(30)
        with log.open("a") as f:
            f.write("".join(f"line {i}\n" for i in range(200, 400)))
        agent = _agent(tmp_path, capture.url("/loki/api/v1/push"))
        try:
            _wait_for(capture, "line 399")
        finally:
            agent.terminate()
            agent.wait(30)
    got = _lines(capture)
    want = [f"line {i}" for i in range(400)]
    assert sorted(set(got), key=want.index) == want
    first_seen = list(dict.fromkeys(got))
    assert first_seen == want  # in order
