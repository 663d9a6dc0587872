"""SIGTERM while a long LogQL query runs: the server cancels the query (its request gets 503,
"shutting down") instead of waiting for it to finish, exits, and keeps every push it
acknowledged. The query is long by its data: a Python-per-line pipeline over many lines, far
more work than the rest of the test."""

from __future__ import annotations

import signal
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.conftest import PATIENCE_S, free_port, running, wait_ok
from vigil.logs import Entries, Lines
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels

pytestmark = pytest.mark.slow

LINES = 600_000
BATCH = 20_000
SLOW_QUERY = '{job="big"} | logfmt | line_format "{{.msg}} {{.took}}" |= "absent"'
HOUR_NS = 3600 * 10**9


def _write_big_stream(path: Path, now_ns: int) -> None:
    """LINES logfmt lines over the last hour, written straight into the server's log store."""
    step = HOUR_NS // LINES
    with LogStore.open(path, LogStoreOptions()) as store:
        for k in range(0, LINES, BATCH):
            ts = now_ns - HOUR_NS + np.arange(k, k + BATCH, dtype=np.int64) * step
            lines = Lines.of(
                [f'level=info i={i} msg="order placed u-{i % 97}" took={i % 1000}ms' for i in
                 range(k, k + BATCH)]
            )  # fmt: skip
            store.push([Entries(Labels.from_dict({"job": "big"}), ts, lines)])


def _running_queries(base: str) -> float:
    for line in httpx.get(f"{base}/metrics", timeout=PATIENCE_S).text.splitlines():
        if line.startswith("vigil_logql_queries_running "):
            return float(line.split()[1])
    raise AssertionError("no vigil_logql_queries_running on /metrics")


def test_sigterm_cancels_a_long_log_query_and_keeps_acknowledged_pushes(tmp_path: Path) -> None:
    now_ns = time.time_ns()
    _write_big_stream(tmp_path / "logs", now_ns)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        sys.executable, "-m", "vigil", "server",
        f"--storage.tsdb.path={tmp_path}", f"--web.listen-address=127.0.0.1:{port}",
        "--query.timeout=1h", "--rules.default.disable",
    ]  # fmt: skip
    with running(args, f"{base}/-/ready") as proc:
        wait_ok(f"{base}/loki/ready", proc=proc)
        pushed = {"stream": {"job": "acked"}, "values": [[str(now_ns), "kept across SIGTERM"]]}
        push = httpx.post(
            f"{base}/loki/api/v1/push", json={"streams": [pushed]}, timeout=PATIENCE_S
        )
        assert push.status_code == 204, push.text

        answers: list[httpx.Response] = []

        def query() -> None:
            params = {
                "query": SLOW_QUERY,
                "start": str(now_ns - 2 * HOUR_NS),
                "end": str(now_ns + 1),
                "limit": "10",
            }
            answers.append(
                httpx.get(f"{base}/loki/api/v1/query_range", params=params, timeout=PATIENCE_S)
            )

        asking = threading.Thread(target=query)
        asking.start()
        deadline = time.monotonic() + PATIENCE_S
        while _running_queries(base) < 1:
            assert time.monotonic() < deadline, "the query never started"
            assert not answers, f"the query ended before SIGTERM: {answers[0].text[:300]}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        asking.join(PATIENCE_S)
        assert proc.wait(PATIENCE_S) == -signal.SIGTERM  # uvicorn re-raises it once stopped
    assert [(a.status_code, a.text.strip()) for a in answers] == [
        (503, "query cancelled: the server is shutting down")
    ]
    with LogStore.open(tmp_path / "logs", LogStoreOptions()) as store:
        found = [
            (e.labels.get("job"), [line.decode() for line in e.lines])
            for e in store.querier(0, 2**62).select([])
            if e.labels.get("job") == "acked"
        ]
    assert found == [("acked", ["kept across SIGTERM"])]
