"""remote_write into a real VictoriaMetrics: every sample vigil stored is in VM with the
labels write_relabel_configs give it, also across a VM outage (VM killed, restarted)."""

from __future__ import annotations

import math
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
from tests.conftest import free_port, peer, running, wait_ok

pytestmark = pytest.mark.slow
T = TypeVar("T")
SERIES = 20


@contextmanager
def fake_exporter() -> Iterator[int]:
    """Deterministic counters and gauges; the n-th scrape answers values of n."""
    scrapes = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scrapes[0] += 1
            n = scrapes[0]
            lines = ["# TYPE fake_requests_total counter"]
            lines += [f'fake_requests_total{{path="/p{i}"}} {n * (i + 1)}' for i in range(SERIES)]
            lines += ["# TYPE fake_temperature gauge", f"fake_temperature {n % 7 + 0.5}"]
            lines += ["# TYPE fake_secret gauge", "fake_secret 1"]
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _until(check: Callable[[], T | None], seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} not reached within {seconds:.0f} s")


def _metric(api: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(f"{api}/metrics", timeout=5).text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _raw(api: str, query: str, at: float) -> dict[tuple[tuple[tuple[str, str], ...], int], float]:
    """Raw samples of a range-vector query: {(sorted labels, ms): value}."""
    response = httpx.get(
        f"{api}/api/v1/query", params={"query": query, "time": f"{at:.3f}"}, timeout=30
    )
    response.raise_for_status()
    out = {}
    for series in response.json()["data"]["result"]:
        labels = tuple(sorted(series["metric"].items()))
        for t, v in series["values"]:
            out[labels, round(float(t) * 1000)] = float(v)
    return out


def _vm(port: int, data: Path) -> list[str]:
    return [
        peer("victoria-metrics"),
        f"-storageDataPath={data}",
        f"-httpListenAddr=127.0.0.1:{port}",
        "-retentionPeriod=100y",
        "-search.latencyOffset=0s",
        "-search.disableCache",
        "-loggerLevel=ERROR",
    ]


def test_every_stored_sample_reaches_victoriametrics_across_an_outage(tmp_path: Path) -> None:
    vm_port, port = free_port(), free_port()
    vm_api, api = f"http://127.0.0.1:{vm_port}", f"http://127.0.0.1:{port}"
    with fake_exporter() as exporter_port:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            f"""
global: {{scrape_interval: 1s, scrape_timeout: 1s, external_labels: {{replica: r1}}}}
scrape_configs:
  - job_name: fake
    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]
remote_write:
  - url: {vm_api}/api/v1/write
    name: vm
    write_relabel_configs:
      - {{source_labels: [__name__], regex: fake_secret, action: drop}}
      - {{target_label: via, replacement: remote_write}}
    queue_config: {{batch_send_deadline: 1s, min_backoff: 200ms, max_backoff: 2s, max_samples_per_send: 50}}
"""
        )
        server = [
            sys.executable, "-m", "vigil", "server", "--agent.disable",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]  # fmt: skip
        vm_data = tmp_path / "vm"
        vm = subprocess.Popen(_vm(vm_port, vm_data), stdout=subprocess.DEVNULL)
        try:
            wait_ok(f"{vm_api}/health")
            with running(server, f"{api}/-/ready"):
                _until(
                    lambda: _metric(api, "prometheus_remote_storage_samples_total") > 100,
                    60,
                    "samples sent",
                )
                # The outage. SIGTERM, not SIGKILL: VM acknowledges samples before they reach
                # its disk, so a kill -9 would lose some that vigil rightly counts as sent.
                vm.terminate()
                down_from = time.time()
                vm.wait(10)
                _until(
                    lambda: _metric(api, "prometheus_remote_storage_samples_retried_total") > 0,
                    60,
                    "a retried send",
                )
                time.sleep(12)  # a real outage of wall-clock length; the scrapes go on
                down_to = time.time()
                vm = subprocess.Popen(_vm(vm_port, vm_data), stdout=subprocess.DEVNULL)
                wait_ok(f"{vm_api}/health")
                cutoff = time.time() - 1
                _until(
                    lambda: (
                        _metric(
                            api, "prometheus_remote_storage_queue_highest_sent_timestamp_seconds"
                        )
                        > cutoff + 2
                    ),
                    120,
                    "the backlog sent",
                )
                local = _raw(api, '{job="fake"}[10m]', cutoff)
                retried = _metric(api, "prometheus_remote_storage_samples_retried_total")
            httpx.get(f"{vm_api}/internal/force_flush", timeout=30)
            remote = _raw(vm_api, '{job="fake"}[10m]', cutoff)
        finally:
            vm.kill()
            vm.wait(10)
    expected = {
        (tuple(sorted({**dict(labels), "replica": "r1", "via": "remote_write"}.items())), t): v
        for (labels, t), v in local.items()
        if dict(labels)["__name__"] != "fake_secret"
    }
    assert retried > 0
    assert len(expected) > 10 * (SERIES + 1)  # at least ten scrapes, some during the outage
    assert set(expected) - set(remote) == set()
    during = [t for _, t in expected if down_from * 1000 < t < down_to * 1000]
    assert len(during) >= 5 * (SERIES + 1)  # scraped while VM was down, sent after
    # VictoriaMetrics keeps about 12 significant digits of a float.
    assert {
        k: v for k, v in expected.items() if not math.isclose(v, remote[k], rel_tol=1e-11)
    } == {}
    names = {dict(labels)["__name__"] for labels, _ in remote}
    assert "fake_secret" not in names
    assert names >= {"fake_requests_total", "fake_temperature", "up"}
