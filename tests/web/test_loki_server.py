"""`vigil server` serves Loki's API under /loki/ on its main port and, with
--loki.listen-address, where Loki has it on a port of its own; `vigil logs` reads either."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.conftest import PATIENCE_S, free_port, running
from vigil.cmd import build_parser
from vigil.cmd.logs import run
from vigil.cmd.server_flags import options
from vigil.cmd.server_process import Server
from vigil.logs import Entries, Lines
from vigil.logs.store import LogStore
from vigil.model import Labels

pytestmark = pytest.mark.slow


def _seed(data: Path) -> None:
    """Two streams a minute old, written before the server opens the store."""
    now_ns = time.time_ns()
    with LogStore.open(data / "logs") as store:
        store.push(
            [
                Entries(
                    Labels.from_dict({"job": job, "env": "prod"}),
                    np.array([now_ns - 60 * 10**9], dtype=np.int64),
                    Lines.of([f"{job} started"]),
                )
                for job in ("api", "db")
            ]
        )


def _vigil_logs(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(build_parser().parse_args(["logs", *argv]), out, err)
    return code, out.getvalue(), err.getvalue()


def test_main_port_and_loki_listener(tmp_path: Path) -> None:
    _seed(tmp_path / "data")
    main, loki = f"http://127.0.0.1:{free_port()}", f"http://127.0.0.1:{free_port()}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address={main.removeprefix('http://')}",
        f"--loki.listen-address={loki.removeprefix('http://')}",
        "--agent.disable",
    ]
    with running(args, f"{main}/-/ready"), httpx.Client(timeout=PATIENCE_S) as client:
        labels = {"status": "success", "data": ["env", "job"]}
        for base in (main, loki):
            assert client.get(f"{base}/loki/api/v1/labels").json() == labels
        assert (client.get(f"{loki}/ready").text, client.get(f"{main}/loki/ready").text) == (
            "ready\n",
            "ready\n",
        )
        assert client.get(f"{loki}/api/v1/query", params={"query": "up"}).status_code == 404
        answer = client.get(f"{loki}/loki/api/v1/query_range", params={"query": '{job="db"}'})
        assert [
            (s["stream"], [v[1] for v in s["values"]]) for s in answer.json()["data"]["result"]
        ] == [({"env": "prod", "job": "db"}, ["db started"])]
        assert _vigil_logs("labels", "job", f"--addr={loki}") == (0, "api\ndb\n", "")
        assert _vigil_logs("series", '{env="prod"}', f"--addr={main}") == (
            0,
            '{env="prod", job="api"}\n{env="prod", job="db"}\n',
            "",
        )


def test_loki_listener_in_use_is_named_with_its_flag(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "vigil",
                "server",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{free_port()}",
                f"--loki.listen-address={address}",
                "--agent.disable",
            ],
            capture_output=True,
            text=True,
            timeout=PATIENCE_S,
        )
    assert done.returncode == 1, done.stderr
    assert (
        f"vigil server: cannot listen on {address} (--loki.listen-address): address already in use"
        in done.stderr
    )
    assert "listening" not in done.stderr and "Traceback" not in done.stderr


def _push(client: httpx.Client, base: str, line: str) -> None:
    stream = {"stream": {"job": "tailed"}, "values": [[str(time.time_ns()), line]]}
    response = client.post(f"{base}/loki/api/v1/push", json={"streams": [stream]})
    assert response.status_code == 204, response.text


def _until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {PATIENCE_S:.0f} s"
        time.sleep(0.05)


def test_pushed_lines_are_queried_and_tailed(tmp_path: Path) -> None:
    """What a shipper pushes, `vigil logs query` finds and `vigil logs tail` shows as it
    arrives, over the server's own WebSocket."""
    main = f"http://127.0.0.1:{free_port()}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address={main.removeprefix('http://')}",
        "--agent.disable",
    ]
    out, err = io.StringIO(), io.StringIO()
    with running(args, f"{main}/-/ready"), httpx.Client(timeout=PATIENCE_S) as client:
        _push(client, main, "first")
        assert _vigil_logs("query", '{job="tailed"}', "-o", "raw", f"--addr={main}") == (
            0,
            "first\n",
            'Common labels: {detected_level="unknown", job="tailed", service_name="tailed"}\n',
        )
        tail_args = build_parser().parse_args(
            ["logs", "tail", '{job="tailed"}', "-o", "raw", f"--addr={main}"]
        )
        tail = threading.Thread(target=run, args=(tail_args, out, err), daemon=True)
        tail.start()
        _until(lambda: "first\n" in out.getvalue(), "history line")
        _push(client, main, "second")
        _until(lambda: "second\n" in out.getvalue(), "tailed line")
    tail.join(PATIENCE_S)
    assert not tail.is_alive()
    assert out.getvalue() == "first\nsecond\n"


@pytest.mark.parametrize(
    ("limit", "status", "body"),
    [
        ("3", 200, '{"status":"success"'),
        ("4", 400, "max entries limit per query exceeded, limit > max_entries_limit (4 > 3)\n"),
    ],
)
def test_max_entries_flag_bounds_log_queries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str, status: int, body: str
) -> None:
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        ["server", "--storage.tsdb.path=data", "--agent.disable", "--logs.query.max-entries=3"]
    )
    with TestClient(Server(options(args)).app()) as client:
        response = client.get(
            "/loki/api/v1/query_range", params={"query": '{job="app"}', "limit": limit}
        )
    assert (response.status_code, response.text[: len(body)]) == (status, body)
