"""vigil's scrape manager next to the real Prometheus, both scraping the same exporter with
the same config: same targets (labels, discovered labels, health), same series."""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.conftest import free_port, peer
from vigil.config.prometheus import parse_config
from vigil.scrape.manager import ScrapeManager

from .fakes import FakeStorage

EXPOSITION = b"""# HELP demo_requests_total Requests served.
# TYPE demo_requests_total counter
demo_requests_total{code="200",method="get"} 1027
demo_requests_total{code="500",method="get"} 3
# HELP demo_info Labels that clash with the target's.
# TYPE demo_info gauge
demo_info{job="inner",instance="elsewhere",exported_job="x"} 1
# TYPE demo_text untyped
demo_text{msg="a\\"b\\\\c\\nd"} 2
demo_drop_me 5
# TYPE demo_latency_seconds histogram
demo_latency_seconds_bucket{le="0.1"} 3
demo_latency_seconds_bucket{le="+Inf"} 4
demo_latency_seconds_sum 0.9
demo_latency_seconds_count 4
"""


async def _metrics(_: Request) -> Response:
    return Response(EXPOSITION, media_type="text/plain; version=0.0.4; charset=utf-8")


def _config(exporter: str, dead: str, honor: bool) -> str:
    return f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: demo
    honor_labels: {str(honor).lower()}
    static_configs:
      - targets: ['{exporter}', '{dead}', 'dropped.invalid:1']
        labels: {{env: test}}
    relabel_configs:
      - {{source_labels: [__address__], regex: 'dropped.*', action: drop}}
      - {{source_labels: [__address__], target_label: host, regex: '([^:]+):.*'}}
    metric_relabel_configs:
      - {{source_labels: [__name__], regex: demo_drop_me, action: drop}}
"""


async def _prometheus_view(api: str, deadline: float) -> tuple[list[dict[str, Any]], Any]:
    """Prometheus's targets once every target has a verdict, and its series once the exporter's
    series are in."""
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            try:
                targets = (await client.get(api + "/targets")).json()["data"]
                series = (
                    await client.get(api + "/series", params={"match[]": '{env="test"}'})
                ).json()["data"]
            except (httpx.HTTPError, ValueError):
                await asyncio.sleep(0.2)
                continue
            active = targets["activeTargets"]
            if (
                len(active) == 2
                and all(t["health"] != "unknown" for t in active)
                and any(s["__name__"] == "demo_text" for s in series)
                and sum(s["__name__"] == "up" for s in series) == 2
            ):
                return [targets], series
            await asyncio.sleep(0.2)
    raise AssertionError("Prometheus did not scrape both targets in time")


def _target_view(targets: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            sorted(t["labels"].items()),
            sorted(t["discoveredLabels"].items()),
            t["health"],
            t["scrapeUrl"],
        )
        for t in targets
    )


@pytest.mark.slow
@pytest.mark.parametrize("honor", [False, True], ids=["honor_labels=false", "honor_labels=true"])
def test_same_targets_health_and_series_as_prometheus(tmp_path: Path, honor: bool) -> None:
    exporter_port, dead_port, prom_port = free_port(), free_port(), free_port()
    exporter, dead = f"127.0.0.1:{exporter_port}", f"127.0.0.1:{dead_port}"
    text = _config(exporter, dead, honor)
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(text)

    async def main() -> None:
        server = uvicorn.Server(
            uvicorn.Config(
                Starlette(routes=[Route("/metrics", _metrics)]),
                host="127.0.0.1",
                port=exporter_port,
                log_level="error",
                lifespan="off",
            )
        )
        serving = asyncio.create_task(server.serve())
        prometheus = subprocess.Popen(
            [
                peer("prometheus"),
                f"--config.file={config_file}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        storage = FakeStorage()
        manager = ScrapeManager(storage.appender)
        try:
            for _ in range(100):
                if server.started:
                    break
                await asyncio.sleep(0.05)
            await manager.apply(parse_config(text, str(config_file)))
            (targets,), prom_series = await _prometheus_view(
                f"http://127.0.0.1:{prom_port}/api/v1", time.monotonic() + 40
            )
            for _ in range(100):
                if all(t.outcome is not None for t in manager.active_targets()["demo"]):
                    break
                await asyncio.sleep(0.05)
            ours = [
                {
                    "labels": dict(t.labels),
                    "discoveredLabels": dict(t.discovered_labels),
                    "health": str(t.health),
                    "scrapeUrl": t.url,
                }
                for t in manager.active_targets()["demo"]
            ]
            assert _target_view(ours) == _target_view(targets["activeTargets"])
            assert [list(d.discovered_labels) for d in manager.dropped_targets()["demo"]] == [
                sorted(d["discoveredLabels"].items()) for d in targets["droppedTargets"]
            ]
            down = [t for t in manager.active_targets()["demo"] if t.health == "down"]
            assert len(down) == 1 and down[0].outcome is not None
            assert "connect" in down[0].outcome.error.lower(), down[0].outcome.error
            vigil_series = sorted(list(labels) for labels in storage.series_names())
            assert vigil_series == sorted(sorted(s.items()) for s in prom_series)
        finally:
            await manager.stop()
            prometheus.terminate()
            try:
                prometheus.wait(20)
            except subprocess.TimeoutExpired:
                prometheus.kill()
                prometheus.wait(5)
            server.should_exit = True
            await serving

    asyncio.run(main())
