"""A real Prometheus remote-writes what it scrapes into `vigil server
--web.enable-remote-write-receiver`; vigil's `/api/v1/query` then returns the very samples
Prometheus's own API returns (every series, every raw sample of a time window)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from tests.conftest import free_port, peer, running

pytestmark = pytest.mark.slow


def _raw_samples(url: str, t: float) -> dict[frozenset[tuple[str, str]], list[list[Any]]]:
    """Every series' raw samples in the 10 minutes up to `t`, keyed by label set."""
    params = {"query": '{__name__=~".+"}[10m]', "time": f"{t:.3f}"}
    body = httpx.get(f"{url}/api/v1/query", params=params, timeout=10).json()
    assert body["status"] == "success", body
    return {frozenset(s["metric"].items()): s["values"] for s in body["data"]["result"]}


def test_vigil_returns_what_prometheus_scraped_and_pushed(tmp_path: Path) -> None:
    vigil_port, prom_port = free_port(), free_port()
    vigil_url, prom_url = f"http://127.0.0.1:{vigil_port}", f"http://127.0.0.1:{prom_port}"
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "prometheus",
                        "static_configs": [{"targets": [f"127.0.0.1:{prom_port}"]}],
                    }
                ],
                "remote_write": [
                    {
                        "url": f"{vigil_url}/api/v1/write",
                        "queue_config": {"batch_send_deadline": "200ms", "max_backoff": "1s"},
                    }
                ],
            }
        )
    )
    vigil_args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--config.file={tmp_path / 'vigil.yml'}",
        f"--storage.tsdb.path={tmp_path / 'vigil'}",
        f"--web.listen-address=127.0.0.1:{vigil_port}",
        "--web.enable-remote-write-receiver",
        "--agent.disable",
        "--rules.default.disable",
        "--alertmanager.disable",
    ]
    (tmp_path / "vigil.yml").write_text("scrape_configs: []\n")
    prom_args = [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'prometheus'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
    ]
    with running(vigil_args, f"{vigil_url}/-/ready"), running(prom_args, f"{prom_url}/-/ready"):
        want, got = _scraped_and_received(prom_url, vigil_url)
    assert len(want) > 100  # Prometheus's own metrics: hundreds of series
    assert got == want


def _scraped_and_received(
    prom_url: str, vigil_url: str, seconds: float = 60
) -> tuple[dict[Any, Any], dict[Any, Any]]:
    """Once Prometheus holds a few scrapes, both sides' samples up to a moment already
    scraped, after vigil has caught up with the pushes (a bounded poll)."""
    deadline = time.monotonic() + seconds
    while True:
        up = httpx.get(
            f"{prom_url}/api/v1/query", params={"query": "count_over_time(up[1m])"}, timeout=5
        ).json()["data"]["result"]
        if up and float(up[0]["value"][1]) >= 4:
            break
        assert time.monotonic() < deadline, "Prometheus did not scrape itself"
        time.sleep(0.2)
    t = time.time() - 1.5
    want = _raw_samples(prom_url, t)
    while True:
        got = _raw_samples(vigil_url, t)
        if got == want or time.monotonic() > deadline:
            return want, got
        time.sleep(0.5)
