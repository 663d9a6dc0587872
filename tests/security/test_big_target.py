"""A target serving a big body (tens of MB of new series) fails its scrape within its bounds —
a slow body is cut at scrape_timeout, sample_limit and body_size_limit stop the reading at
once — and a live `vigil server` keeps answering /-/healthy while it runs."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import free_port, running
from tests.security.conftest import LiveServer, health_watched

pytestmark = pytest.mark.slow

SERIES = 600_000  # about 27 MB of series never seen before
HEALTHY_WITHIN_S = 5.0  # a frozen loop took 7.6 s to minutes; a busy CI machine up to ~2 s


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    settings: str  # YAML flow-mapping entries added to the job
    error: str  # what the target's lastError says
    seconds: float  # bound on the scrape's duration, generous for a loaded machine


JOBS = [
    Job("slow", "scrape_interval: 4s, scrape_timeout: 2s", "context deadline exceeded", 5.0),
    Job(
        "samples",
        "scrape_interval: 3s, scrape_timeout: 3s, sample_limit: 10000",
        "sample limit exceeded",
        5.0,
    ),
    Job(
        "size",
        "scrape_interval: 3s, scrape_timeout: 3s, body_size_limit: 1MB",
        "body size limit exceeded",
        5.0,
    ),
]


def _body() -> bytes:
    lines = ["# TYPE big_value gauge"]
    lines += [f'big_value{{shard="{i % 1000}",series="{i}"}} {i}.5' for i in range(SERIES)]
    return ("\n".join(lines) + "\n").encode()


class _BigTarget(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        """The whole body at once; under /slow/, 64 KiB every 50 ms (about 20 s in all)."""
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        piece = 1 << 16 if self.path.startswith("/slow/") else len(self.body)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a limit stopped it
            for start in range(0, len(self.body), piece):
                self.wfile.write(self.body[start : start + piece])
                if piece < len(self.body):
                    time.sleep(0.05)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def scraping(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One big target, scraped by one job per row of JOBS."""
    root = tmp_path_factory.mktemp("big-target")
    _BigTarget.body = _body()
    target = ThreadingHTTPServer(("127.0.0.1", 0), _BigTarget)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{target.server_address[1]}"
    jobs = "".join(
        f"  - {{job_name: {job.name}, {job.settings},"
        f" metrics_path: /{job.name}/metrics, static_configs: [{{targets: ['{address}']}}]}}\n"
        for job in JOBS
    )
    config = Path(root / "prometheus.yml")
    config.write_text(f"global:\n  scrape_interval: 3s\nscrape_configs:\n{jobs}")
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--config.file={config}",
        f"--storage.tsdb.path={root / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--agent.disable",
        "--rules.default.disable",
    ]
    try:
        with running(args, f"http://127.0.0.1:{port}/-/ready", 120) as proc:
            yield LiveServer(f"http://127.0.0.1:{port}", proc.pid)
    finally:
        target.shutdown()
        target.server_close()


def _target(server: LiveServer, job: str) -> dict[str, Any]:
    active = httpx.get(server.url + "/api/v1/targets", timeout=30).json()["data"]["activeTargets"]
    found: dict[str, Any] = next(t for t in active if t["scrapePool"] == job)
    return found


@pytest.mark.parametrize("job", JOBS, ids=[job.name for job in JOBS])
def test_a_big_target_fails_within_its_bounds_and_health_keeps_answering(
    scraping: LiveServer, job: Job
) -> None:
    with health_watched(scraping) as watch:
        deadline = time.monotonic() + 120
        seen: set[str] = set()
        while len(seen) < 3:  # three scrapes: a whole interval, and the scrape in it, watched
            assert time.monotonic() < deadline, f"{job.name}: scraped {seen} in 120 s"
            target = _target(scraping, job.name)
            if target["lastScrape"] != "0001-01-01T00:00:00Z":
                seen.add(target["lastScrape"])
            time.sleep(0.2)
    assert (target["health"], job.error in target["lastError"]) == ("down", True), target
    print(
        "FIG",
        job.name,
        target["lastScrapeDuration"],
        max(a[1] for a in watch.answers),
        target["lastError"][:60],
    )
    assert target["lastScrapeDuration"] < job.seconds
    assert len(watch.answers) >= 3  # asked again and again while the scrapes ran
    assert [a for a in watch.answers if a[0] != 200 or a[1] > HEALTHY_WITHIN_S] == []
