"""Alert ingestion: `vigil alertmanager` beside the real Alertmanager 0.25, same run.

10k active alerts across 500 groups are POSTed to each in batches of 64 (Prometheus's batch
size), several rounds (Prometheus resends firing alerts every minute); printed for both:
POST throughput (alerts/s, median round), RSS after the rounds, and how many webhook
notifications reached a local sink (one per group expected).

    .venv/bin/python bench/alertmanager.py [--alerts 10000 --groups 500 --rounds 5]
    .venv/bin/python bench/alertmanager.py --profile   # vigil in-process under cProfile
    .venv/bin/python bench/alertmanager.py --bulk 100000   # one POST of 100k alerts, then reads
    .venv/bin/python bench/alertmanager.py --idle 10   # RSS 10 s after ready, default config

`--bulk N` POSTs N alerts (in 1,000 groups) in one request, then GETs `/api/v2/alerts` and
`/api/v2/alerts/groups`, asking `/-/healthy` every 0.1 s meanwhile; printed for both: each
request's seconds, the health answers' median and worst latency, and the CPU the process
used in the 10 s after the reads (busy = still working for nobody). Without the inhibit rule:
Alertmanager 0.25 checks every target against every source alert, which at 100k alerts takes
it longer than the whole run.
`--idle S` starts each on vigil's default alertmanager.yml (its receivers send nowhere) and
prints its RSS S seconds after it first answered `/-/ready`, with nothing sent to it (the
figure of the README's table), over --runs launches.
Not a test: the machine is shared, only the ratios from one run mean anything. Under
PYTHONDONTWRITEBYTECODE=1 with vigil's sources not compiled, vigil compiles every module at
start, which adds a few MiB to its RSS that a pip-installed vigil does not pay.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
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

        class Server(ThreadingHTTPServer):
            request_queue_size = 4096  # every group of a bulk POST flushes at once

        self.server = Server(("127.0.0.1", 0), Handler)
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
) -> tuple[list[float], float]:
    rates = []
    with httpx.Client(timeout=60) as client:
        for _ in range(rounds):
            start = time.perf_counter()
            for i in range(0, len(alerts), BATCH):
                client.post(f"{base}/api/v2/alerts", json=alerts[i : i + BATCH]).raise_for_status()
            rates.append(len(alerts) / (time.perf_counter() - start))
    return rates, _rss_mib(pid)


async def _profile_in_process(alerts: list[dict[str, object]], rounds: int) -> None:
    """The POST handler's work without HTTP: JSON decode, `postable_alerts`, `put_alerts`
    (store, inhibitor, dispatcher), under cProfile; the first round (cold caches) apart."""
    from vigil.cmd.alertmanager_service import AlertmanagerOptions, AlertmanagerService
    from vigil.config.alertmanager import parse_config
    from vigil.model.clock import SystemClock
    from vigil.notify.kinds import KINDS
    from vigil.web.alertmanager_api import postable_alerts

    # No notifications: group_wait outlasts the run.
    text = CONFIG.format(url="http://127.0.0.1:9/").replace("group_wait: 2s", "group_wait: 1h")
    with tempfile.TemporaryDirectory() as tmp:
        options = AlertmanagerOptions(Path(tmp))
        service = AlertmanagerService(parse_config(text, KINDS), text, options, SystemClock())
        await service.start()
        bodies = [json.dumps(alerts[i : i + BATCH]).encode() for i in range(0, len(alerts), BATCH)]
        profile = cProfile.Profile()
        for round_ in range(rounds):
            if round_ == 1:
                profile.enable()
            start = time.perf_counter()
            for body in bodies:
                service.put_alerts(postable_alerts(json.loads(body)))
            rate = len(alerts) / (time.perf_counter() - start)
            print(f"round {round_}: {rate:.0f} alerts/s{' (profiled)' if round_ else ''}")
        profile.disable()
        await service.stop()
    pstats.Stats(profile).sort_stats("tottime").print_stats(25)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _HealthProbe:
    """Asks `/-/healthy` every 0.1 s on its own thread; latencies of the answers."""

    def __init__(self, base: str) -> None:
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(base,), daemon=True)
        self._thread.start()

    def _run(self, base: str) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.wait(0.1):
                start = time.perf_counter()
                try:
                    ok = client.get(f"{base}/-/healthy").status_code == 200
                except httpx.HTTPError:
                    ok = False
                if ok:
                    self.latencies.append(time.perf_counter() - start)
                else:
                    self.failures += 1

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join()
        return self.latencies


def _bulk(count: int) -> None:
    alerts = _alerts(count, 1000)
    body = json.dumps(alerts).encode()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        sink = _Sink()
        for name in ("alertmanager", "vigil"):
            config = Path(tmp) / f"{name}.yml"
            text = CONFIG.format(url=f"http://127.0.0.1:{sink.port}/{name}")
            config.write_text(text[: text.index("inhibit_rules:")])
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
            with running(command, f"{base}/-/ready") as proc, httpx.Client(timeout=600) as client:
                probe = _HealthProbe(base)
                seconds = []
                for method, path in (
                    ("POST", "/api/v2/alerts"),
                    ("GET", "/api/v2/alerts"),
                    ("GET", "/api/v2/alerts/groups"),
                ):
                    start = time.perf_counter()
                    reply = client.request(
                        method,
                        f"{base}{path}",
                        content=body if method == "POST" else None,
                        headers={"Content-Type": "application/json"},
                    )
                    reply.raise_for_status()
                    seconds.append(time.perf_counter() - start)
                    print(f"{name}: {method} {path} {seconds[-1]:.2f} s", file=sys.stderr)
                    if path == "/api/v2/alerts" and method == "GET":
                        assert len(reply.json()) == count, len(reply.json())
                health = probe.stop()
                before = _cpu_seconds(proc.pid)
                time.sleep(10)
                idle_cpu = (_cpu_seconds(proc.pid) - before) / 10
                rows.append(
                    (
                        name,
                        *seconds,
                        statistics.median(health) if health else float("nan"),
                        max(health, default=float("nan")),
                        probe.failures,
                        idle_cpu,
                        _rss_mib(proc.pid),
                    )
                )
    print(f"{count} alerts in 1000 groups, one POST")
    print(
        f"{'':14}{'POST s':>8}{'GET alerts s':>14}{'GET groups s':>14}"
        f"{'healthy med s':>15}{'max s':>8}{'failed':>8}{'CPU after':>11}{'RSS MiB':>9}"
    )
    for name, post, get, groups, med, worst, failed, cpu, rss in rows:
        print(
            f"{name:14}{post:8.2f}{get:14.2f}{groups:14.2f}"
            f"{med:15.3f}{worst:8.2f}{failed:8d}{cpu:10.0%}{rss:9.0f}"
        )


def _idle(seconds: float, runs: int) -> None:
    config = Path(__file__).resolve().parent.parent / "src/vigil/alerting/default/alertmanager.yml"
    rss: dict[str, list[float]] = {"alertmanager": [], "vigil": []}
    with tempfile.TemporaryDirectory() as tmp:
        for run in range(runs):
            for name in rss:
                port = free_port()
                command = (
                    [peer("prometheus-alertmanager"), "--cluster.listen-address="]
                    if name == "alertmanager"
                    else [sys.executable, "-m", "vigil", "alertmanager"]
                )
                command += [
                    f"--config.file={config}",
                    f"--storage.path={Path(tmp) / f'{name}{run}'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ]
                with running(command, f"http://127.0.0.1:{port}/-/ready") as proc:
                    time.sleep(seconds)
                    rss[name].append(_rss_mib(proc.pid))
    print(
        f"RSS MiB {seconds:g} s after ready, default alertmanager.yml, {runs} runs, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name, values in rss.items():
        print(
            f"{name:14}"
            + " ".join(f"{v:6.1f}" for v in values)
            + f"   median {statistics.median(values):.1f}"
        )
    ratio = statistics.median(rss["vigil"]) / statistics.median(rss["alertmanager"])
    print(f"vigil/alertmanager: {ratio:.2f}x (target <= 1x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="profile vigil in-process")
    parser.add_argument("--bulk", type=int, metavar="N", help="one POST of N alerts, then reads")
    parser.add_argument("--idle", type=float, metavar="S", help="RSS S s after ready, idle")
    parser.add_argument("--runs", type=int, default=3, help="launches of each for --idle")
    args = parser.parse_args()
    if args.idle:
        _idle(args.idle, args.runs)
        return
    if args.bulk:
        _bulk(args.bulk)
        return
    alerts = _alerts(args.alerts, args.groups)
    if args.profile:
        asyncio.run(_profile_in_process(alerts, args.rounds))
        return
    sink = _Sink()
    rows = []
    rounds_seen: list[str] = []
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
                rates, rss = _measure(base, proc.pid, alerts, args.rounds)
                rate = statistics.median(rates)
                deadline = time.monotonic() + 30
                while sink.counts.get(f"/{name}", 0) < args.groups and time.monotonic() < deadline:
                    time.sleep(0.2)
                rows.append((name, rate, idle, rss, sink.counts.get(f"/{name}", 0)))
                rounds_seen.append(f"{name} rounds: " + " ".join(f"{r:.0f}" for r in rates))
    print(f"{args.alerts} alerts in {args.groups} groups, batches of {BATCH}, {args.rounds} rounds")
    print(f"{'':14}{'alerts/s':>12}{'RSS idle MiB':>14}{'RSS MiB':>10}{'notifications':>15}")
    for name, rate, idle, rss, notes in rows:
        print(f"{name:14}{rate:12.0f}{idle:14.1f}{rss:10.1f}{notes:15d}")
    print("alerts/s per round (the groups' first notifications go out during rounds 1-2):")
    for line in rounds_seen:
        print(f"  {line}")
    (_, am_rate, _, am_rss, _), (_, v_rate, _, v_rss, _) = rows
    print(
        f"vigil/alertmanager: throughput {v_rate / am_rate:.2f}x, RSS {v_rss / am_rss:.2f}x "
        "(target: throughput >= 1x, RSS <= 1x)"
    )


if __name__ == "__main__":
    main()
