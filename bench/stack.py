"""The seed's whole stack beside one `vigil server` doing the same job, in the same run.

Peers: Debian prometheus + prometheus-alertmanager + prometheus-node-exporter, on the seed's
three files with addresses changed. vigil: `vigil server` on the same files, its in-process
host collectors standing in for node_exporter (the seed's node-server job scrapes vigil's own
/metrics) and its in-process Alertmanager for Alertmanager (the `alerting:` block left out).
Both sides also scrape one fake node_exporter whose memory the workload moves across the
seed's 80 %/90 % thresholds, and both send Slack messages to one local sink.

Phases: idle for --idle minutes, then --load minutes of workload: the fake node's memory
toggled every --toggle seconds (alerts pending → firing → Slack → resolved), and --qps
queries per second to each side (instant and 1 h range queries, Grafana's kind). Printed
per phase: RSS (mean and peak of samples every second) and CPU-seconds of each process,
the peers' sum, and vigil / peers. Target (issue #10): vigil RSS ≤ 0.8 × peers, CPU ≤ peers.

    .venv/bin/python bench/stack.py [--idle 5 --load 2 --qps 4]
Not a test: the machine is shared, only the ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port, peer, running
from tests.notify.capture import HTTPCapture, http_capture
from tests.test_seed_stack import (
    FakeNode,
    Timings,
    alertmanager_args,
    fake_node,
    prometheus_args,
    seed_alertmanager,
    seed_prometheus,
    seed_rules,
    vigil_server_args,
    write_seed,
)

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

QUERIES = (
    "(node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes) / node_memory_MemTotal_bytes",
    'sum by (mode) (rate(node_cpu_seconds_total{job="node-server"}[1m]))',
    "up",
    'rate(node_network_receive_bytes_total{device!="lo"}[1m])',
)


def _pids(root: int) -> list[int]:
    """`root` and its live descendants (a process's helpers count as its own cost)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


@dataclass
class Process:
    """One measured program: CPU at the phase's start, RSS samples during it."""

    name: str
    pid: int
    cpu_start: float = 0.0
    rss: list[int] = field(default_factory=list)

    def cpu(self) -> float:
        return sum(_cpu_seconds(pid) for pid in _pids(self.pid))

    def sample(self) -> None:
        self.rss.append(sum(_rss_bytes(pid) for pid in _pids(self.pid)))

    def begin(self) -> None:
        self.cpu_start, self.rss = self.cpu(), []


@dataclass(frozen=True, slots=True)
class Figures:
    rss_mean: float
    rss_peak: float
    cpu: float


def _figures(process: Process) -> Figures:
    return Figures(
        statistics.fmean(process.rss), max(process.rss), process.cpu() - process.cpu_start
    )


def _phase(processes: list[Process], seconds: float, work: Callable[[], None]) -> list[Figures]:
    """Run `work` now and then (it returns quickly) for `seconds`, sampling RSS every second."""
    for process in processes:
        process.begin()
    end = time.monotonic() + seconds
    next_sample = time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() >= next_sample:
            for process in processes:
                process.sample()
            next_sample += 1.0
        work()
        time.sleep(0.01)
    return [_figures(process) for process in processes]


class Workload:
    """Memory toggled on the fake node and `qps` queries a second to each API, spread evenly."""

    def __init__(self, node: FakeNode, apis: list[str], qps: float, toggle: float) -> None:
        self.node, self.apis, self.toggle = node, apis, toggle
        self.period = 1.0 / qps if qps > 0 else float("inf")
        self.started = time.monotonic()
        self.next_query = self.started
        self.queries = itertools.cycle(QUERIES)
        self.errors = 0
        self.sent = 0
        self.clients = [httpx.Client(base_url=api, timeout=30) for api in apis]

    def __call__(self) -> None:
        now = time.monotonic()
        levels = (0.95, 0.85, 0.5)  # both alerts, the 80 % one alone, none
        self.node.used = levels[int((now - self.started) / self.toggle) % len(levels)]
        if now < self.next_query:
            return
        self.next_query += self.period
        query = next(self.queries)
        for client in self.clients:
            if self.sent % 2:
                end = time.time()
                params: dict[str, str | float] = {
                    "query": query,
                    "start": end - 3600,
                    "end": end,
                    "step": 15,
                }
                response = client.get("/api/v1/query_range", params=params)
            else:
                response = client.get("/api/v1/query", params={"query": query})
            self.errors += response.status_code != 200
        self.sent += 1


def _series(api: str) -> int:
    body = httpx.get(f"{api}/api/v1/query", params={"query": "sum(scrape_samples_scraped)"}).json()
    result = body["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _print(
    title: str, seconds: float, processes: list[Process], figures: list[Figures], peers: int
) -> None:
    print(f"\n{title} ({seconds / 60:.1f} min)")
    print(f"{'':26}{'RSS mean MiB':>14}{'RSS peak MiB':>14}{'CPU s':>9}")
    mib = 1 << 20
    for process, fig in zip(processes, figures, strict=True):
        print(
            f"  {process.name:24}{fig.rss_mean / mib:14.1f}{fig.rss_peak / mib:14.1f}{fig.cpu:9.2f}"
        )
    total = Figures(*(sum(getattr(f, key) for f in figures[:peers]) for key in Figures.__slots__))
    ours = figures[peers]
    print(
        f"  {'peers (sum)':24}{total.rss_mean / mib:14.1f}{total.rss_peak / mib:14.1f}{total.cpu:9.2f}"
    )
    ratios = [ours.rss_mean / total.rss_mean, ours.rss_peak / total.rss_peak]
    cpu_ratio = ours.cpu / total.cpu if total.cpu else float("inf")
    print(f"  {'vigil / peers':24}{ratios[0]:14.2f}{ratios[1]:14.2f}{cpu_ratio:9.2f}")
    verdict = "met" if ratios[0] <= 0.8 and cpu_ratio <= 1.0 else "NOT met"
    print(f"  target RSS ≤ 0.8×, CPU ≤ 1.0× peers: {verdict}")


def _slack(capture: HTTPCapture) -> list[str]:
    return [json.loads(r.body)["attachments"][0]["title"] for r in capture.requests]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=5.0, help="minutes idle (default 5)")
    parser.add_argument("--load", type=float, default=2.0, help="minutes of workload (default 2)")
    parser.add_argument("--qps", type=float, default=4.0, help="queries/s to each side")
    parser.add_argument("--toggle", type=float, default=60.0, help="s between memory levels")
    parser.add_argument(
        "--default-rules", action="store_true", help="vigil also evaluates its default alert pack"
    )
    args = parser.parse_args()
    # The seed's scrape and evaluation intervals; `for:` and group_wait shortened (in both
    # copies) so that the workload's memory levels fire and reach Slack within a toggle.
    timings = Timings(scrape="15s", rule_for="15s", group_wait="5s", group_interval="5m")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        root = Path(tmp)
        node = stack.enter_context(fake_node(0.5))
        real_slack = stack.enter_context(http_capture())
        vigil_slack = stack.enter_context(http_capture())
        node_port, am_port, prom_port, vigil_port = (free_port() for _ in range(4))
        exporter = f"127.0.0.1:{node_port}"
        real = write_seed(
            root / "real",
            seed_prometheus([exporter, node.address], f"127.0.0.1:{am_port}", timings),
            seed_rules(timings),
            seed_alertmanager(real_slack.url("/slack"), timings),
        )
        ours = write_seed(
            root / "vigil",
            seed_prometheus([f"127.0.0.1:{vigil_port}", node.address], None, timings),
            seed_rules(timings),
            seed_alertmanager(vigil_slack.url("/slack"), timings),
        )
        extra = () if args.default_rules else ("--rules.default.disable",)
        started = {
            "node_exporter": (
                [peer("prometheus-node-exporter"), f"--web.listen-address={exporter}"],
                f"http://{exporter}/metrics",
            ),
            "alertmanager": (
                alertmanager_args(real.parent / "alertmanager.yml", am_port),
                f"http://127.0.0.1:{am_port}/-/ready",
            ),
            "prometheus": (
                prometheus_args(real, prom_port),
                f"http://127.0.0.1:{prom_port}/-/ready",
            ),
            "vigil server": (
                vigil_server_args(ours, ours.parent / "alertmanager.yml", vigil_port, *extra),
                f"http://127.0.0.1:{vigil_port}/-/ready",
            ),
        }
        processes = [
            Process(name, stack.enter_context(running(argv, ready, 60)).pid)
            for name, (argv, ready) in started.items()
        ]
        startup = [process.cpu() for process in processes]
        prom, vigil = f"http://127.0.0.1:{prom_port}", f"http://127.0.0.1:{vigil_port}"
        idle = _phase(processes, args.idle * 60, lambda: None)
        workload = Workload(node, [prom, vigil], args.qps, args.toggle)
        loaded = _phase(processes, args.load * 60, workload)
        series = {"prometheus": _series(prom), "vigil": _series(vigil)}
        messages = {"peers": _slack(real_slack), "vigil": _slack(vigil_slack)}

    print(f"seed stack vs vigil server, scrape/eval every {timings.scrape}")
    print(
        f"samples per scrape round: prometheus {series['prometheus']}, vigil {series['vigil']}"
        " (node_exporter vs vigil's own /metrics, plus the fake node)"
    )
    print("CPU s to start and become ready: " + ", ".join(
        f"{p.name} {cpu:.2f}" for p, cpu in zip(processes, startup, strict=True)
    ))  # fmt: skip
    _print("idle", args.idle * 60, processes, idle, 3)
    _print(
        f"workload: {args.qps:g} queries/s each, memory level every {args.toggle:g} s",
        args.load * 60,
        processes,
        loaded,
        3,
    )
    print(f"  query errors: {workload.errors} of {workload.sent * 2}")
    for side, titles in messages.items():
        print(f"  Slack messages, {side}: {len(titles)} {titles}")


if __name__ == "__main__":
    main()
