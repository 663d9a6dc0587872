"""A live `vigil server` and the real Prometheus 2.42 with the same query flags, and what an
attack table needs to watch them: peak RSS from /proc/<pid>/status, and /-/healthy polled while
each request runs."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, peer, running

# Small enough that both servers refuse the sample bombs before they cost either one memory.
QUERY_FLAGS = ["--query.max-samples=100000", "--query.timeout=10s"]


@dataclass(frozen=True, slots=True)
class LiveServer:
    url: str
    pid: int

    def _status_kib(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise AssertionError(f"no {key} in /proc/{self.pid}/status: the server has exited")

    def reset_peak_rss(self) -> int:
        """Restart the kernel's peak-RSS count (VmHWM) from now; the current RSS in KiB."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")
        return self._status_kib("VmRSS")

    def peak_rss_kib(self) -> int:
        return self._status_kib("VmHWM")


@dataclass(slots=True)
class HealthWatch:
    """/-/healthy asked every 50 ms from another thread: each answer's status (0: none) and
    seconds, and when it arrived (time.monotonic())."""

    url: str
    answers: list[tuple[int, float]] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Until stopped, and once more after: the last answer is from after the attack."""
        with httpx.Client(timeout=30) as client:
            while True:
                began = time.monotonic()
                try:
                    status = client.get(self.url + "/-/healthy").status_code
                except httpx.HTTPError:
                    status = 0
                self.answers.append((status, time.monotonic() - began))
                self.arrived.append(time.monotonic())
                if self._stop.wait(0.05):
                    break

    def stop(self) -> None:
        self._stop.set()


@contextmanager
def health_watched(server: LiveServer) -> Iterator[HealthWatch]:
    watch = HealthWatch(server.url)
    thread = threading.Thread(target=watch.run, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch.stop()
        thread.join(60)


def _config(root: Path) -> Path:
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    return config


@pytest.fixture(scope="module")
def vigil(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("vigil-attacked")
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--config.file={_config(root)}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--agent.disable",
        "--rules.default.disable",
        *QUERY_FLAGS,
    ]
    with running(args, f"http://127.0.0.1:{port}/-/ready", 60) as proc:
        yield LiveServer(f"http://127.0.0.1:{port}", proc.pid)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("prometheus-attacked")
    port = free_port()
    args = [
        peer("prometheus"),
        f"--config.file={_config(root)}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        *QUERY_FLAGS,
    ]
    with running(args, f"http://127.0.0.1:{port}/-/ready", 60) as proc:
        yield LiveServer(f"http://127.0.0.1:{port}", proc.pid)


def send(
    server: LiveServer, method: str, path: str, params: dict[str, str]
) -> tuple[int, str | None, float]:
    """One request: (status, Prometheus errorType or None, seconds)."""
    began = time.monotonic()
    if method == "GET":
        response = httpx.get(server.url + path, params=params, timeout=60)
    else:
        response = httpx.request(method, server.url + path, data=params, timeout=60)
    seconds = time.monotonic() - began
    error_type = None
    if response.headers.get("content-type", "").startswith("application/json"):
        error_type = response.json().get("errorType")
    return response.status_code, error_type, seconds
