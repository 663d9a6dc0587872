"""`vigil server` serves Jaeger's and Tempo's query APIs under /jaeger/ and /tempo/ on its main
port and, with --jaeger.listen-address and --tempo.listen-address, at the root of ports of
their own, over the spans its span store holds."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, running
from tests.web.tempo_proto import decode
from tests.web.trace_store import CHECKOUT, spans
from vigil.traces import Spans
from vigil.traces.store import TraceStore

pytestmark = pytest.mark.slow


def _seed(data: Path) -> None:
    """The seeded traces moved to end a minute ago, written before the server opens the
    store."""
    shift = time.time_ns() - 60 * 10**9 - max(s.end_ns for s in spans())
    moved = [
        dataclasses.replace(s, start_ns=s.start_ns + shift, end_ns=s.end_ns + shift)
        for s in spans()
    ]
    with TraceStore.open(data / "traces") as store:
        store.append(Spans.of(moved))


def test_main_port_and_own_listeners(tmp_path: Path) -> None:
    _seed(tmp_path / "data")
    main, jaeger, tempo = (f"127.0.0.1:{free_port()}" for _ in range(3))
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address={main}",
        f"--jaeger.listen-address={jaeger}",
        f"--tempo.listen-address={tempo}",
        "--agent.disable",
    ]
    with running(args, f"http://{main}/-/ready"), httpx.Client(timeout=PATIENCE_S) as client:
        for base in (f"http://{main}/jaeger", f"http://{jaeger}"):
            services = client.get(f"{base}/api/services").json()["data"]
            assert services == ["frontend", "payments"]
            (trace,) = client.get(f"{base}/api/traces/{CHECKOUT.hex()}").json()["data"]
            assert len(trace["spans"]) == 4
        for base in (f"http://{main}/tempo", f"http://{tempo}"):
            assert client.get(f"{base}/api/echo").text == "echo"
            answer = client.get(
                f"{base}/api/v2/traces/{CHECKOUT.hex()}",
                headers={"Accept": "application/protobuf"},
            )
            assert len(decode("TraceByIDResponse", answer.content).trace.resourceSpans) == 2
            found = client.get(f"{base}/api/search", params={"tags": "service.name=frontend"})
            assert [t["rootTraceName"] for t in found.json()["traces"]] == [
                "GET /health",
                "GET /checkout",
            ]
        assert client.get(f"http://{tempo}/ready").text == "ready\n"
        assert client.get(f"http://{jaeger}/jaeger/api/services").status_code == 404
