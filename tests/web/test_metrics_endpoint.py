"""vigil's /metrics as real scrapers see it: promtool accepts it, a real Prometheus scrapes it."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from tests.conftest import free_port, peer, running
from vigil.cmd.agent_app import AgentOptions, build_app
from vigil.exposition import Format
from vigil.exposition.check import check_body


def test_negotiated_bodies_are_valid() -> None:
    client = TestClient(build_app(AgentOptions()))
    text = client.get("/metrics")
    assert text.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert check_body(text.content, Format.TEXT).error is None
    om = client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert om.headers["content-type"].startswith("application/openmetrics-text; version=1.0.0")
    assert check_body(om.content, Format.OPENMETRICS).error is None
    assert b"vigil_build_info{" in om.content
    index = client.get("/")
    assert 'href="/metrics"' in index.text


def test_promtool_accepts_metrics() -> None:
    body = TestClient(build_app(AgentOptions())).get("/metrics").content
    done = subprocess.run(
        [peer("promtool"), "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert done.returncode in (0, 3), done.stderr.decode()


@pytest.fixture
def agent() -> Iterator[str]:
    port = free_port()
    args = [sys.executable, "-m", "vigil", "agent", f"--web.listen-address=127.0.0.1:{port}"]
    with running(args, f"http://127.0.0.1:{port}/"):
        yield f"127.0.0.1:{port}"


@pytest.mark.slow
def test_real_prometheus_scrapes_vigil(agent: str, tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        f"scrape_configs:\n  - job_name: vigil\n    static_configs: [{{targets: ['{agent}']}}]\n"
    )
    port = free_port()
    prometheus = [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    api = f"http://127.0.0.1:{port}/api/v1"
    with running(prometheus, api + "/status/buildinfo", seconds=60):
        deadline = time.monotonic() + 60
        target: dict[str, object] = {}
        while time.monotonic() < deadline:
            targets = httpx.get(api + "/targets").json()["data"]["activeTargets"]
            if targets and targets[0]["health"] != "unknown":
                target = targets[0]
                break
            time.sleep(0.2)
        assert target.get("health") == "up", target
        assert target.get("lastError") == ""
        samples = httpx.get(
            api + "/query", params={"query": "scrape_samples_post_metric_relabeling"}
        ).json()
        assert float(samples["data"]["result"][0]["value"][1]) > 0
        build = httpx.get(api + "/query", params={"query": "vigil_build_info"}).json()
        assert build["data"]["result"], build
