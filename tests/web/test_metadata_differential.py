"""`/api/v1/metadata` (Grafana's metric browser, the Query page's autocomplete) beside
Prometheus 2.42 scraping the same two targets: the same metrics, each with the same
distinct type/help/unit entries, and the same `metric`, `limit` and bad-parameter answers."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, peer, running

pytestmark = pytest.mark.slow

BODIES = {
    "/a/metrics": (
        "# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total 3\n"
        "# HELP queue_depth Items waiting.\n# TYPE queue_depth gauge\nqueue_depth 1\n"
        "# TYPE free_form untyped\nfree_form 1\n"
    ),
    "/b/metrics": (
        "# HELP jobs_total Jobs finished, the other way.\n# TYPE jobs_total counter\n"
        "jobs_total 5\n# HELP queue_depth Items waiting.\n# TYPE queue_depth gauge\n"
        "queue_depth 2\n# HELP latency_seconds Time taken.\n# TYPE latency_seconds summary\n"
        'latency_seconds{quantile="0.5"} 0.1\nlatency_seconds_sum 1\nlatency_seconds_count 3\n'
    ),
}


class _Targets(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = BODIES.get(self.path, "").encode()
        self.send_response(200 if body else 404)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """vigil and Prometheus, each scraping both targets every second."""
    root = tmp_path_factory.mktemp("metadata")
    targets = ThreadingHTTPServer(("127.0.0.1", 0), _Targets)
    threading.Thread(target=targets.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{targets.server_address[1]}"
    jobs = "".join(
        f"  - {{job_name: {name}, scrape_interval: 1s, metrics_path: /{name}/metrics,"
        f" static_configs: [{{targets: ['{address}']}}]}}\n"
        for name in ("a", "b")
    )
    config = root / "prometheus.yml"
    config.write_text(f"scrape_configs:\n{jobs}")
    vigil_port, prom_port = free_port(), free_port()
    urls = {
        "vigil": f"http://127.0.0.1:{vigil_port}",
        "prometheus": f"http://127.0.0.1:{prom_port}",
    }
    with ExitStack() as stack:
        stack.callback(targets.server_close)
        stack.callback(targets.shutdown)
        stack.enter_context(
            running(
                [
                    sys.executable,
                    "-m",
                    "vigil",
                    "server",
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'vigil'}",
                    f"--web.listen-address=127.0.0.1:{vigil_port}",
                    "--agent.disable",
                    "--rules.default.disable",
                ],
                urls["vigil"] + "/-/ready",
            )
        )
        stack.enter_context(
            running(
                [
                    peer("prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={root / 'prometheus'}",
                    f"--web.listen-address=127.0.0.1:{prom_port}",
                ],
                urls["prometheus"] + "/-/ready",
            )
        )
        for url in urls.values():
            _wait_for_metadata(url, len(_known_names()))
        yield urls


def _known_names() -> set[str]:
    return {
        line.split()[2]
        for body in BODIES.values()
        for line in body.splitlines()
        if line.startswith("# TYPE")
    }


def _wait_for_metadata(url: str, count: int) -> None:
    """Until both targets were scraped: every family of both bodies has metadata."""
    deadline = time.monotonic() + PATIENCE_S
    while len(_get(url, {})[1].get("data") or {}) < count:
        assert time.monotonic() < deadline, f"{url}: no metadata for both targets"
        time.sleep(0.2)


def _get(url: str, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(url + "/api/v1/metadata", params=params, timeout=30)
    return answer.status_code, answer.json()


def _normalised(status: int, body: dict[str, Any]) -> tuple[int, Any]:
    """The answer with each metric's entries as a set: both sides keep them unordered."""
    data = body.get("data")
    if isinstance(data, dict):
        return status, {name: sorted(map(str, entries)) for name, entries in data.items()}
    return status, (body.get("errorType"), body.get("error"))


CASES = [
    {},
    {"metric": "jobs_total"},
    {"metric": "queue_depth"},
    {"metric": "latency_seconds"},
    {"metric": "absent"},
    {"limit": "-1"},
    {"limit": "x"},
]


@pytest.mark.parametrize("params", CASES, ids=[str(c) or "all" for c in CASES])
def test_metadata_matches_prometheus(servers: dict[str, str], params: dict[str, str]) -> None:
    ours = _normalised(*_get(servers["vigil"], params))
    theirs = _normalised(*_get(servers["prometheus"], params))
    assert ours == theirs


def test_limit_caps_the_metrics(servers: dict[str, str]) -> None:
    """Which metrics survive a limit is Go's map order in Prometheus; only the count compares."""
    for limit in ("0", "1", "2"):
        ours = _get(servers["vigil"], {"limit": limit})[1]["data"]
        theirs = _get(servers["prometheus"], {"limit": limit})[1]["data"]
        assert len(ours) == len(theirs), limit


def test_the_ui_reads_help_for_autocomplete(servers: dict[str, str]) -> None:
    data = _get(servers["vigil"], {"metric": "jobs_total"})[1]["data"]
    assert sorted(e["help"] for e in data["jobs_total"]) == [
        "Jobs done.",
        "Jobs finished, the other way.",
    ]
