"""An instrumented FastAPI app with VIGIL_URL set sends its spans over OTLP/HTTP to a real
`vigil server`, where Jaeger's API finds the request's trace by the trace id its log line
carries."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import PATIENCE_S, free_port, running
from tests.instrument.apps import fastapi_app

pytestmark = pytest.mark.slow


def _trace(client: httpx.Client, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + PATIENCE_S
    while True:
        answer = client.get(url)
        if answer.status_code == 200 and answer.json()["data"]:
            [trace] = answer.json()["data"]
            return dict(trace)
        assert time.monotonic() < deadline, f"{url}: {answer.status_code} {answer.text}"
        time.sleep(0.1)


def test_spans_arrive_at_a_vigil_server(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
    caplog.set_level(logging.INFO)
    main = f"127.0.0.1:{free_port()}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address={main}",
        "--agent.disable",
    ]
    with running(args, f"http://{main}/-/ready"), httpx.Client(timeout=PATIENCE_S) as client:
        app = fastapi_app(env={"VIGIL_URL": f"http://{main}/"}, sample_ratio=1.0)
        with TestClient(app, client=("10.0.0.1", 4711)) as shop:
            assert (
                shop.get("/items/7", headers={"X-Forwarded-For": "203.0.113.7"}).status_code == 200
            )
        [line] = [r for r in caplog.records if r.name == "shop"]
        trace = _trace(client, f"http://{main}/jaeger/api/traces/{line.mdc['trace_id']}")
    server = next(s for s in trace["spans"] if s["operationName"] == "GET /items/{item_id}")
    tags = {tag["key"]: tag["value"] for tag in server["tags"]}
    assert trace["processes"][server["processID"]]["serviceName"] == "shop-fastapi"
    assert (server["spanID"], tags["sampling.probability"]) == (line.mdc["span_id"], 1.0)
