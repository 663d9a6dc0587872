"""`vigil server` answers HTTP while its WAL replays: `/-/ready` shows the progress, queries
get Prometheus's `unavailable` error, and both recover once the replay is done."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

import vigil.tsdb.startup
from tests.conftest import free_port
from vigil.cmd.server_process import Server, ServerOptions
from vigil.model import Labels
from vigil.tsdb.db import TSDB, TSDBLoader, TSDBOptions


def _write_wal(data: Path, segments: int) -> None:
    """One commit per segment (each open starts a new segment)."""
    options = TSDBOptions(max_series=0, wal_fsync="never")
    for i in range(segments):
        with TSDB.open(data, options, registry=CollectorRegistry()) as db:
            app = db.appender()
            refs = app.refs_for([Labels.from_dict({"__name__": "m"})])
            app.append_batch(refs, np.array([i * 1000], dtype=np.int64), np.array([float(i)]))
            app.commit()


SCRAPE_ONE = """
scrape_configs:
  - job_name: unreachable
    static_configs: [{targets: ["127.0.0.1:1"]}]
"""


def _wait_loops(server: Server) -> list[Any]:
    """The scrape loops, once the task that starts them after the replay has run."""
    deadline = time.monotonic() + 10
    while not server.manager.loops() and time.monotonic() < deadline:
        time.sleep(0.01)
    return server.manager.loops()


def _ready(client: TestClient) -> str:
    """`/-/ready` once the replay is done: the config is applied just after (bounded wait)."""
    deadline = time.monotonic() + 10
    answer = client.get("/-/ready").text
    while answer == "Service Unavailable: applying the configuration\n":
        assert time.monotonic() < deadline, answer
        time.sleep(0.01)
        answer = client.get("/-/ready").text
    return answer


@contextmanager
def _released(release: threading.Event) -> Iterator[None]:
    try:
        yield
    finally:
        release.set()


def test_ready_reports_replay_progress_and_queries_wait_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    _write_wal(data, 3)
    reached, release = threading.Event(), threading.Event()
    load = TSDBLoader.load

    def held_load(
        self: TSDBLoader, on_replay_progress: Callable[[int, int], None] | None = None
    ) -> TSDB:
        def progress(done: int, total: int) -> None:
            assert on_replay_progress is not None
            on_replay_progress(done, total)
            if done == 1:
                reached.set()
                assert release.wait(10)

        return load(self, progress)

    monkeypatch.setattr(TSDBLoader, "load", held_load)
    monkeypatch.setattr(vigil.tsdb.startup, "GRACE_S", 0.0)
    config = tmp_path / "prometheus.yml"
    config.write_text(SCRAPE_ONE)
    server = Server(ServerOptions(config_file=config, data_dir=data, host_collectors=False))
    with TestClient(server.app()) as client, _released(release):
        assert reached.wait(10)
        assert server.manager.loops() == [], "no scrape may start before the WAL is replayed"
        ready = client.get("/-/ready")
        query = client.get("/api/v1/query", params={"query": "m", "time": "10"})
        assert (ready.status_code, ready.text) == (
            503,
            "Service Unavailable: replaying WAL, segment 1 of 3 (33%)\n",
        )
        assert (query.status_code, query.json()["errorType"]) == (503, "unavailable")
        assert client.get("/api/v1/series", params={"match[]": "m"}).status_code == 503
        assert client.get("/api/v1/status/tsdb").status_code == 503
        assert client.get("/-/healthy").status_code == 200
        release.set()
        assert server.storage._thread is not None
        server.storage._thread.join(10)
        assert _ready(client) == "vigil is Ready.\n"
        assert [loop.target.url for loop in _wait_loops(server)] == ["http://127.0.0.1:1/metrics"]
        result = client.get("/api/v1/query", params={"query": "m", "time": "2"}).json()
        assert result["data"]["result"][0]["value"] == [2, "2"]


def test_a_corrupt_wal_is_repaired_at_start_up_and_the_server_serves_what_came_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    _write_wal(data, 3)
    middle = data / "wal" / "00000001"
    flipped = bytearray(middle.read_bytes())
    flipped[-1] ^= 0x01  # the last byte of the second commit's only record
    middle.write_bytes(bytes(flipped))
    dropped = len(flipped) + (data / "wal" / "00000002").stat().st_size
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs: []\n")
    server = Server(ServerOptions(config_file=config, data_dir=data, host_collectors=False))
    with caplog.at_level(logging.WARNING), TestClient(server.app()) as client:
        assert _ready(client) == "vigil is Ready.\n"
        query = client.get(
            "/api/v1/query", params={"query": "count_over_time(m[1h])", "time": "10"}
        )
        metrics = client.get("/metrics").text
        runtime = client.get("/api/v1/status/runtimeinfo").json()["data"]
    assert query.json()["data"]["result"] == [{"metric": {}, "value": [10, "1"]}]
    assert "\nprometheus_tsdb_wal_corruptions_total 1\n" in metrics
    assert runtime["corruptionCount"] == 1
    assert "\nvigil_tsdb_wal_repair_dropped_records_total 1\n" in metrics
    assert [r.getMessage() for r in caplog.records if "WAL corruption" in r.getMessage()] == [
        f"WAL corruption in {middle} at offset 0 (checksum mismatch): truncated the WAL there "
        f"and dropped {dropped} bytes: "
        "the bad record and 1 readable records after it, including 1 later segment(s)"
    ]


def test_a_corrupt_wal_stops_the_strict_server_and_names_the_repair(tmp_path: Path) -> None:
    data = tmp_path / "data"
    _write_wal(data, 3)
    first = min((data / "wal").glob("0*"))
    os.truncate(first, first.stat().st_size - 3)  # torn, but later segments follow
    config = tmp_path / "prometheus.yml"
    config.write_text("scrape_configs: []\n")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigil",
            "server",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{free_port()}",
            "--agent.disable",
            "--storage.tsdb.wal-repair.disable",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert f"vigil tsdb repair {data}" in run.stderr.splitlines()[-1]
