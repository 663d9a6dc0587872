"""Alert ingestion: `vigil alertmanager` beside the real Alertmanager 0.25, same run.

10k active alerts across 500 groups are POSTed to each in batches of 64 (Prometheus's batch
size), several rounds (Prometheus resends firing alerts every minute); printed for both:
POST throughput (alerts/s, median round), RSS after the rounds, and how many webhook
notifications reached a local sink (one per group expected).

    .venv/bin/python bench/alertmanager.py [--alerts 10000 --groups 500 --rounds 5]
Not a test: the machine is shared, only the ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port, peer, running

CONFIG = """
route:
  receiver: sink
  group_by: [group]
  group_wait: 2s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs:
      - url: {url}
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [group]
"""
BATCH = 64


class _Sink:
    """Counts webhook notifications per Alertmanager (by URL path)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with sink.lock:
                    sink.counts[self.path] = sink.counts.get(self.path, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _alerts(count: int, groups: int) -> list[dict[str, object]]:
    return [
        {
            "labels": {
                "alertname": "Bench",
                "group": f"g{i % groups}",
                "instance": f"host-{i}:9100",
                "severity": "warning" if i % 10 else "critical",
            },
            "annotations": {"summary": f"alert {i} of the benchmark", "runbook": "none"},
            "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        }
        for i in range(count)
    ]


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _measure(
    base: str, pid: int, alerts: list[dict[str, object]], rounds: int
) -> tuple[float, float]:
    rates = []
    with httpx.Client(timeout=60) as client:
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(0, len(alerts), BATCH):
                client.post(f"{base}/api/v2/alerts", json=alerts[i : i + BATCH]).raise_for_status()
            rates.append(len(alerts) / (time.perf_counter() - start))
    return statistics.median(rates), _rss_mib(pid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    alerts = _alerts(args.alerts, args.groups)
    sink = _Sink()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("alertmanager", "vigil"):
            config = Path(tmp) / f"{name}.yml"
            config.write_text(CONFIG.format(url=f"http://127.0.0.1:{sink.port}/{name}"))
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            command = (
                [peer("prometheus-alertmanager"), "--cluster.listen-address="]
                if name == "alertmanager"
                else [sys.executable, "-m", "vigil", "alertmanager"]
            )
            command += [
                f"--config.file={config}",
                f"--storage.path={Path(tmp) / name}",
                f"--web.listen-address=127.0.0.1:{port}",
            ]
            with running(command, f"{base}/-/ready") as proc:
                idle = _rss_mib(proc.pid)
                rate, rss = _measure(base, proc.pid, alerts, args.rounds)
                deadline = time.monotonic() + 30
                while sink.counts.get(f"/{name}", 0) < args.groups and time.monotonic() < deadline:
                    time.sleep(0.2)
                rows.append((name, rate, idle, rss, sink.counts.get(f"/{name}", 0)))
    print(f"{args.alerts} alerts in {args.groups} groups, batches of {BATCH}, {args.rounds} rounds")
    print(f"{'':14}{'alerts/s':>12}{'RSS idle MiB':>14}{'RSS MiB':>10}{'notifications':>15}")
    for name, rate, idle, rss, notes in rows:
        print(f"{name:14}{rate:12.0f}{idle:14.1f}{rss:10.1f}{notes:15d}")
    (_, am_rate, _, am_rss, _), (_, v_rate, _, v_rss, _) = rows
    print(
        f"vigil/alertmanager: throughput {v_rate / am_rate:.2f}x, RSS {v_rss / am_rss:.2f}x "
        "(target: throughput >= 1x, RSS <= 1x)"
    )


if __name__ == "__main__":
    main()
