"""`/api/v1/targets` and `/api/v1/targets/metadata` over a scrape manager on a manual clock."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.scrape.fakes import START, Exporters, FakeStorage, run_until
from vigil.config.prometheus import parse_config
from vigil.model.clock import ManualClock
from vigil.scrape.manager import ScrapeManager
from vigil.web.targets import GlobalURLOptions, TargetsAPI, global_url

CONFIG = """
scrape_configs:
  - job_name: node
    scrape_interval: 10s
    scrape_timeout: 5s
    static_configs:
      - targets: ['127.0.0.1:9100', 'down:9100', 'skip:1']
        labels: {team: infra}
    relabel_configs:
      - {source_labels: [__address__], regex: 'skip:.*', action: drop}
"""

BODY = b"""# HELP node_load1 1m load average.
# TYPE node_load1 gauge
node_load1 0.5
# TYPE node_cpu_seconds counter
node_cpu_seconds_total{cpu="0"} 10
"""

OPTIONS = GlobalURLOptions(listen_address="0.0.0.0:9090", host="vm.example:9090")


def _get(
    path: str, tmp_path: Path, refusals: dict[str, int] | None = None, **params: str
) -> tuple[int, Any]:
    async def main() -> tuple[int, Any]:
        clock = ManualClock(START)
        exporters, storage = Exporters(), FakeStorage()
        storage.refusals = refusals or {}
        exporters["127.0.0.1:9100"].body = BODY
        manager = ScrapeManager(storage.appender, clock=clock, transport=exporters.transport())
        try:
            await manager.apply(parse_config(CONFIG, str(tmp_path / "prometheus.yml")))
            await run_until(clock, START + 10)
            app = Starlette(routes=TargetsAPI(manager, OPTIONS).routes())
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://vigil"
            ) as client:
                response = await client.get(path, params=params)
            return response.status_code, response.json()
        finally:
            await manager.stop()

    return asyncio.run(main())


def _last_scrape(target: dict[str, Any]) -> dict[str, Any]:
    assert target["lastScrape"].startswith("2023-11-14T22:13:2"), target["lastScrape"]
    return {k: v for k, v in target.items() if k != "lastScrape"}


def test_targets(tmp_path: Path) -> None:
    status, body = _get("/api/v1/targets", tmp_path)
    assert status == 200
    assert body["status"] == "success"
    data = body["data"]
    discovered = {
        "__scheme__": "http",
        "__metrics_path__": "/metrics",
        "__scrape_interval__": "10s",
        "__scrape_timeout__": "5s",
        "job": "node",
        "team": "infra",
    }
    assert [_last_scrape(t) for t in data["activeTargets"]] == [
        {
            "discoveredLabels": {**discovered, "__address__": "127.0.0.1:9100"},
            "labels": {"instance": "127.0.0.1:9100", "job": "node", "team": "infra"},
            "scrapePool": "node",
            "scrapeUrl": "http://127.0.0.1:9100/metrics",
            "globalUrl": "http://vm.example:9100/metrics",
            "lastError": "",
            "lastScrapeDuration": 0,
            "health": "up",
            "scrapeInterval": "10s",
            "scrapeTimeout": "5s",
        },
        {
            "discoveredLabels": {**discovered, "__address__": "down:9100"},
            "labels": {"instance": "down:9100", "job": "node", "team": "infra"},
            "scrapePool": "node",
            "scrapeUrl": "http://down:9100/metrics",
            "globalUrl": "http://down:9100/metrics",
            "lastError": 'Get "http://down:9100/metrics": connect: connection refused',
            "lastScrapeDuration": 0,
            "health": "down",
            "scrapeInterval": "10s",
            "scrapeTimeout": "5s",
        },
    ]
    assert data["droppedTargets"] == [{"discoveredLabels": {**discovered, "__address__": "skip:1"}}]
    assert data["droppedTargetCounts"] == {"node": 1}


def test_samples_the_storage_refused_are_the_healthy_targets_last_error(tmp_path: Path) -> None:
    _, body = _get("/api/v1/targets", tmp_path, refusals={"too_far_in_future": 2})
    [up] = [t for t in body["data"]["activeTargets"] if t["health"] == "up"]
    assert up["lastError"] == (
        "samples refused by the storage: 2 too far in the future (beyond --storage.tsdb.max-future)"
    )


def test_targets_state_filter(tmp_path: Path) -> None:
    _, active = _get("/api/v1/targets", tmp_path, state="active")
    _, dropped = _get("/api/v1/targets", tmp_path, state="dropped")
    assert (len(active["data"]["activeTargets"]), len(active["data"]["droppedTargets"])) == (2, 0)
    assert (len(dropped["data"]["activeTargets"]), len(dropped["data"]["droppedTargets"])) == (0, 1)


def test_targets_metadata(tmp_path: Path) -> None:
    target = {"instance": "127.0.0.1:9100", "job": "node", "team": "infra"}
    _, body = _get("/api/v1/targets/metadata", tmp_path, match_target='{job="node"}')
    assert body == {
        "status": "success",
        "data": [
            {
                "target": target,
                "metric": "node_cpu_seconds",
                "type": "counter",
                "help": "",
                "unit": "",
            },
            {
                "target": target,
                "metric": "node_load1",
                "type": "gauge",
                "help": "1m load average.",
                "unit": "",
            },
        ],
    }
    _, one = _get("/api/v1/targets/metadata", tmp_path, metric="node_load1")
    assert [entry["metric"] for entry in one["data"]] == ["node_load1"]
    _, none = _get("/api/v1/targets/metadata", tmp_path, match_target='{job="other"}')
    assert none["data"] == []
    status, bad = _get("/api/v1/targets/metadata", tmp_path, match_target="{job=")
    assert (status, bad["status"], bad["errorType"]) == (400, "error", "bad_data")


def test_global_url() -> None:
    options = GlobalURLOptions(listen_address=":9090", host="vm:9090", scheme="https")
    assert global_url("http://localhost:9100/metrics", options) == "http://vm:9100/metrics"
    assert global_url("http://127.0.0.1:9090/metrics", options) == "https://vm:9090/metrics"
    assert global_url("http://10.0.0.1:9100/metrics?a=b", options) == (
        "http://10.0.0.1:9100/metrics?a=b"
    )
