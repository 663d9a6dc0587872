"""Native histograms remote-written to the real VictoriaMetrics (Debian's 1.79): vigil scrapes
a protobuf target exposing one histogram with native and classic buckets, stores both, and
sends both. VictoriaMetrics 1.79 answers 204 to every request but keeps nothing of
`TimeSeries.histograms` (it predates native histograms: no series is created for them, no
conversion to vmrange buckets happens), while the classic `_bucket`/`_sum`/`_count` series
of the same scrapes arrive whole. What vigil stored locally keeps the native histogram."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from tests.conftest import PATIENCE_S, free_port, peer, running, wait_ok
from tests.scrape.test_protobuf_scrape import OBSERVATIONS, delimited, histogram_family

from vigil.exposition.protobuf import CONTENT_TYPE

pytestmark = pytest.mark.slow
T = TypeVar("T")


@contextmanager
def protobuf_exporter() -> Iterator[int]:
    body = delimited([histogram_family(OBSERVATIONS)])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _until(check: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached within {PATIENCE_S:.0f} s")


def _vector(api: str, query: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{api}/api/v1/query", params={"query": query}, timeout=30)
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result


def _metric(api: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(f"{api}/metrics", timeout=5).text.splitlines():
        if line.startswith((name + "{", name + " ")):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_victoriametrics_keeps_the_classic_buckets_and_drops_native_histograms(
    tmp_path: Path,
) -> None:
    vm_port, port = free_port(), free_port()
    vm_api, api = f"http://127.0.0.1:{vm_port}", f"http://127.0.0.1:{port}"
    vm_argv = [
        peer("victoria-metrics"), f"-storageDataPath={tmp_path / 'vm'}",
        f"-httpListenAddr=127.0.0.1:{vm_port}", "-search.latencyOffset=0s",
        "-search.disableCache", "-loggerLevel=ERROR",
    ]  # fmt: skip
    with protobuf_exporter() as exporter_port:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s}}
scrape_configs:
  - job_name: proto
    scrape_native_histograms: true
    always_scrape_classic_histograms: true
    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]
remote_write:
  - url: {vm_api}/api/v1/write
    queue_config: {{batch_send_deadline: 1s, max_samples_per_send: 50}}
"""
        )
        server = [
            sys.executable, "-m", "vigil", "server", "--agent.disable",
            f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]  # fmt: skip
        vm = subprocess.Popen(vm_argv, stdout=subprocess.DEVNULL)
        try:
            wait_ok(f"{vm_api}/health")
            with running(server, f"{api}/-/ready"):
                local = _until(lambda: _vector(api, "latency_seconds"), "a scraped histogram")
                _until(
                    lambda: _metric(api, "prometheus_remote_storage_samples_total") >= 20,
                    "samples sent",
                )
                failed = _metric(api, "prometheus_remote_storage_samples_failed_total")
            httpx.get(f"{vm_api}/internal/force_flush", timeout=30)
            remote = {
                series["metric"]["__name__"]: float(series["value"][1])
                for series in _vector(vm_api, '{job="proto", le=""}')
            }
            remote_buckets = _vector(vm_api, 'latency_seconds_bucket{le="2.0"}')
            native_series = httpx.get(
                f"{vm_api}/api/v1/series", params={"match[]": "latency_seconds"}, timeout=30
            ).json()["data"]
        finally:
            vm.terminate()
            vm.wait(10)
    assert local[0]["histogram"][1]["count"] == str(len(OBSERVATIONS))
    assert failed == 0  # VictoriaMetrics accepted every request
    assert native_series == []
    assert remote["latency_seconds_count"] == len(OBSERVATIONS)
    assert remote["latency_seconds_sum"] == sum(OBSERVATIONS)
    assert [float(s["value"][1]) for s in remote_buckets] == [
        sum(1 for v in OBSERVATIONS if v <= 2.0)
    ]
