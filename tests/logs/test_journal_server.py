"""`vigil server --logs.journal`: a real journal file (written by systemd-journal-remote)
followed by the real journalctl into the log store, answered by the Loki API."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, running
from tests.exporter.logs.test_journal import _entry, _write

pytestmark = pytest.mark.slow


def test_journal_entries_reach_the_log_store_with_unit_and_level(tmp_path: Path) -> None:
    journal = tmp_path / "host.journal"
    now_us = int(time.time() * 1e6)
    _write(
        journal,
        [
            {**_entry(0, "payment failed", PRIORITY="3"), "__REALTIME_TIMESTAMP": str(now_us)},
            {**_entry(1, "served", PRIORITY="6"), "__REALTIME_TIMESTAMP": str(now_us + 1)},
        ],
    )
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        sys.executable, "-m", "vigil", "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--logs.docker-containers=",
        "--logs.journal",
        f"--logs.journal.path={journal}",
    ]  # fmt: skip
    query = {"query": '{unit="shop.service"} | detected_level="error"', "limit": "10"}
    with running(args, f"{base}/-/ready"):
        deadline = time.monotonic() + PATIENCE_S
        while True:
            got = httpx.get(f"{base}/loki/api/v1/query_range", params=query, timeout=PATIENCE_S)
            streams = got.json()["data"]["result"]
            if streams or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert [(s["stream"]["service_name"], [v[1] for v in s["values"]]) for s in streams] == [
        ("shop", ["payment failed"])
    ]
