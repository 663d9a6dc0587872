"""Scrape + ingest of one big target: `vigil server` beside Prometheus, same prometheus.yml,
same run.

One fake exporter serves S series (a third integer counters, a third float counters, a
third gauges; the values move with wall time, so both scrapers read the same ones). vigil
and Prometheus start together on one config (that target, --interval); --duration seconds
after its launch each is measured:
- CPU-s per 1M samples appended, steady state (from the end of the first scrape) and all
  CPU since launch (start-up and series creation included);
- RSS of the process;
- disk: the WAL plus Prometheus's memory-mapped head chunks (vigil keeps its head in memory).
Samples and series are the processes' own prometheus_tsdb_head_* counters. vigil runs with
--rules.default.disable (Prometheus evaluates no rules here either) and without its OTLP
listener (its fixed port would refuse a second vigil on the machine, and Prometheus has none).

--alone (1M series) runs vigil without Prometheus, every --alone-interval, and prints its
RSS --duration seconds after its first scrape beside the budget its series limit assumes
(tsdb/limits.py: HEAD_BYTES_PER_SERIES a series, HEAD_SHARE of the memory for the head).

--profile also samples vigil with py-spy (`pip install py-spy`) from the end of its first
scrape and prints its functions with the most CPU samples of their own; the sampling costs
vigil some CPU, so compare the figures of a run without it.

    .venv/bin/python bench/ingest.py [--series 10000,100000] [--alone 1000000] [--duration 60]
                                     [--profile]
Not a test: the machine is shared, only the ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port, peer, wait_ok

from vigil.tsdb.limits import HEAD_BYTES_PER_SERIES, HEAD_SHARE

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
MIB = 1 << 20

EXPORTER = r"""
import socket, sys, time
import numpy as np
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

series, interval, port = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
i = np.arange(series)
kinds = i % 3
names = ["bench_requests_total", "bench_cpu_seconds_total", "bench_memory_bytes"]
prefixes = [
    f'{names[k]}_{n % 40}{{shard="{n % 100}",series="{n}",path="/api/v1/items/{n % 37}"}} '
    for n, k in zip(i.tolist(), kinds.tolist())
]
helps = "".join(
    f"# HELP {name}_{m} A bench value.\n# TYPE {name}_{m} {'gauge' if k == 2 else 'counter'}\n"
    for k, name in enumerate(names) for m in range(40)
)
cache = {}

def body(step):
    if step not in cache:
        values = np.where(
            kinds == 0,
            (i % 50) * step + i,
            np.where(kinds == 1, np.round(step * 0.01 * (i % 17 + 1) + i * 0.5, 2),
                     1e9 + 4096.0 * (i + (step + i) % 4)),
        )
        text = [p + repr(v) for p, v in zip(prefixes, values.tolist())]
        cache.clear()
        cache[step] = (helps + "\n".join(text) + "\n").encode()
    return cache[step]

async def metrics(request):
    return Response(body(int(time.time() // interval)), media_type="text/plain; version=0.0.4")

sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
app = Starlette(routes=[Route("/metrics", metrics)])
server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", access_log=False))
server.run(sockets=[sock])
"""


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _rss_bytes(pid: int) -> int:
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE


def _dir_bytes(*dirs: Path) -> int:
    total = 0
    for directory in dirs:
        for root, _, files in os.walk(directory):
            total += sum(os.stat(os.path.join(root, name)).st_size for name in files)
    return total


def _head_counters(client: httpx.Client, base: str) -> tuple[float, float]:
    """(samples appended, head series) from the process's own /metrics."""
    samples = series = 0.0
    for line in client.get(f"{base}/metrics").text.splitlines():
        if line.startswith("prometheus_tsdb_head_samples_appended_total"):
            samples += float(line.rsplit(" ", 1)[1])
        elif line.startswith("prometheus_tsdb_head_series "):
            series = float(line.rsplit(" ", 1)[1])
    return samples, series


@dataclass
class Server:
    """One measured program: launched at `launched`, its counters at the first scrape's end."""

    name: str
    pid: int
    base: str
    data: Path
    launched: float
    cpu_first: float = 0.0
    samples_first: float = 0.0

    def disk(self) -> int:
        return _dir_bytes(self.data / "wal", self.data / "chunks_head")


@dataclass(frozen=True, slots=True)
class Figures:
    cpu_per_m: float  # steady state
    cpu_per_m_all: float  # since launch
    samples: float
    series: float
    rss: int
    disk: int
    wal: int

    @property
    def wal_per_sample(self) -> float:
        """The fair WAL figure when one side appended fewer samples (a busy machine)."""
        return self.wal / self.samples


def _config(target: str, interval: float) -> str:
    return (
        f"global: {{scrape_interval: {interval:g}s, scrape_timeout: {interval:g}s}}\n"
        f"scrape_configs:\n  - job_name: bench\n    static_configs: [{{targets: ['{target}']}}]\n"
    )


def _launch(stack: ExitStack, name: str, argv: list[str], port: int, data: Path) -> Server:
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stack.callback(proc.wait, 60)
    stack.callback(proc.terminate)
    return Server(name, proc.pid, f"http://127.0.0.1:{port}", data, time.monotonic())


def _after_first_scrape(
    client: httpx.Client, server: Server, series: int, deadline_s: float = 300
) -> None:
    """Wait until the first scrape's samples are in the head; note CPU and samples then."""
    wait_ok(f"{server.base}/-/ready", seconds=deadline_s)
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        samples, _ = _head_counters(client, server.base)
        if samples >= series:
            server.cpu_first, server.samples_first = _cpu_seconds(server.pid), samples
            return
        time.sleep(0.05)
    raise RuntimeError(f"{server.name} did not scrape {series} series")


def _measure(client: httpx.Client, server: Server, until: float) -> Figures:
    time.sleep(max(0.0, until - time.monotonic()))
    cpu, rss = _cpu_seconds(server.pid), _rss_bytes(server.pid)
    samples, series = _head_counters(client, server.base)
    steady = samples - server.samples_first
    return Figures(
        (cpu - server.cpu_first) / steady * 1e6 if steady else float("nan"),
        cpu / samples * 1e6,
        samples,
        series,
        rss,
        server.disk(),
        _dir_bytes(server.data / "wal"),
    )


def py_spy(pid: int, seconds: float, raw: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling process `pid` from now for `seconds`, its collapsed stacks to `raw`."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [spy, "record", "-F", "--nonblocking", "-r", "50", "-f", "raw", "-o", str(raw),
            "-d", str(max(1, int(seconds))), "-p", str(pid)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _report_scrape_errors(client: httpx.Client, server: Server) -> None:
    targets = client.get(f"{server.base}/api/v1/targets").json()["data"]["activeTargets"]
    for target in targets:
        if target["lastError"]:
            print(f"  {server.name}: last scrape failed: {target['lastError']}", file=sys.stderr)


def own_cpu_top(raw: Path, count: int) -> list[str]:
    """Functions with the most samples of their own, from py-spy's collapsed stacks."""
    own: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        own[stack.rsplit(";", 1)[-1]] += int(samples)
    total = sum(own.values()) or 1
    return [f"{100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(count)]


def _target_and_vigil(
    stack: ExitStack, root: Path, series: int, interval: float, vigil_port: int, ready_s: float
) -> tuple[Path, list[str]]:
    """The exporter of `series` series, started (and stopped with `stack`), the config that
    scrapes it every `interval` s, and the vigil command line that reads that config."""
    exporter_port = free_port()
    target = f"127.0.0.1:{exporter_port}"
    exporter = subprocess.Popen(
        [sys.executable, "-c", EXPORTER, str(series), str(interval), str(exporter_port)]
    )
    stack.callback(exporter.wait, 30)
    stack.callback(exporter.terminate)
    wait_ok(f"http://{target}/metrics", seconds=ready_s)
    config = root / "prometheus.yml"
    config.write_text(_config(target, interval))
    vigil_argv = [
        sys.executable, "-m", "vigil", "server", f"--config.file={config}",
        f"--storage.tsdb.path={root / 'vigil'}", f"--web.listen-address=127.0.0.1:{vigil_port}",
        "--rules.default.disable", "--otlp.listen-address=",
    ]  # fmt: skip
    return config, vigil_argv


def run(series: int, args: argparse.Namespace, root: Path) -> tuple[Figures, Figures, list[str]]:
    prom_port, vigil_port = free_port(), free_port()
    with ExitStack() as stack:
        config, vigil_argv = _target_and_vigil(stack, root, series, args.interval, vigil_port, 60)
        prom_argv = [
            peer("prometheus"), f"--config.file={config}", f"--storage.tsdb.path={root / 'prom'}",
            f"--web.listen-address=127.0.0.1:{prom_port}",
        ]  # fmt: skip
        servers = [
            _launch(stack, "prometheus", prom_argv, prom_port, root / "prom"),
            _launch(stack, "vigil", vigil_argv, vigil_port, root / "vigil"),
        ]
        raw = root / "py-spy.txt"
        with httpx.Client(timeout=30) as client:
            for server in servers:
                _after_first_scrape(client, server, series)
            if args.profile:
                ours = servers[1]
                spy = py_spy(ours.pid, ours.launched + args.duration - time.monotonic(), raw)
            prom, vigil = (
                _measure(client, server, server.launched + args.duration) for server in servers
            )
            for server in servers:
                _report_scrape_errors(client, server)
        if not args.profile:
            return prom, vigil, []
        spy.wait(120)
        return prom, vigil, own_cpu_top(raw, args.top)


def run_alone(series: int, args: argparse.Namespace, root: Path) -> Figures:
    """vigil alone on one target of `series` series, measured --duration s after its first
    scrape."""
    vigil_port = free_port()
    with ExitStack() as stack:
        _, vigil_argv = _target_and_vigil(
            stack, root, series, args.alone_interval, vigil_port, ready_s=300
        )
        vigil = _launch(stack, "vigil", vigil_argv, vigil_port, root / "vigil")
        with httpx.Client(timeout=60) as client:
            _after_first_scrape(client, vigil, series, deadline_s=1800)
            figures = _measure(client, vigil, time.monotonic() + args.duration)
            _report_scrape_errors(client, vigil)
        return figures


def _print_alone(series: int, args: argparse.Namespace, vigil: Figures) -> None:
    budget = series * HEAD_BYTES_PER_SERIES
    print(
        f"\n{series} series, vigil alone, one target every {args.alone_interval:g} s, measured"
        f" {args.duration:g} s after its first scrape (head series {vigil.series:.0f})"
    )
    print(f"  {'RSS MiB':32}{vigil.rss / MIB:12.1f}")
    print(f"  {'RSS bytes / series':32}{vigil.rss / series:12.0f}")
    print(
        f"  {'budget: head MiB at 3 h':32}{budget / MIB:12.1f}  ({HEAD_BYTES_PER_SERIES} bytes a"
        f" series; the series limit wants {budget / HEAD_SHARE / 2**30:.1f} GiB of memory)"
    )
    print(f"  {'CPU-s / 1M samples, steady':32}{vigil.cpu_per_m:12.2f}")
    print(f"  {'samples appended':32}{vigil.samples:12.0f}")


def _print(series: int, args: argparse.Namespace, prom: Figures, vigil: Figures) -> None:
    print(
        f"\n{series} series, one target every {args.interval:g} s, measured {args.duration:g} s"
        f" after launch (head series: prometheus {prom.series:.0f}, vigil {vigil.series:.0f})"
    )
    rows = (
        ("CPU-s / 1M samples, steady", "cpu_per_m", 1.0, ".2f"),
        ("CPU-s / 1M samples, all", "cpu_per_m_all", 1.0, ".2f"),
        ("samples appended", "samples", 1.0, ".0f"),
        ("RSS MiB", "rss", MIB, ".1f"),
        ("disk MiB (WAL + head chunks)", "disk", MIB, ".2f"),
        ("  of which WAL MiB", "wal", MIB, ".2f"),
        ("WAL bytes / sample appended", "wal_per_sample", 1.0, ".2f"),
    )
    print(f"  {'':32}{'vigil':>12}{'prometheus':>12}{'ratio':>8}")
    for title, key, unit, spec in rows:
        ours, theirs = getattr(vigil, key) / unit, getattr(prom, key) / unit
        ratio = f"{ours / theirs:8.2f}" if theirs else f"{'-':>8}"
        print(f"  {title:32}{ours:12{spec}}{theirs:12{spec}}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="10000,100000", help="comma-separated (10000,100000)")
    parser.add_argument("--interval", type=float, default=5.0, help="scrape interval, s (5)")
    parser.add_argument("--alone", default="1000000", help="series, vigil alone (1000000)")
    parser.add_argument(
        "--alone-interval", type=float, default=120.0, help="scrape interval alone, s (120)"
    )
    parser.add_argument("--duration", type=float, default=60.0, help="s after launch (60)")
    parser.add_argument("--profile", action="store_true", help="sample vigil with py-spy")
    parser.add_argument("--top", type=int, default=20, help="profile entries printed (20)")
    args = parser.parse_args()
    for series in (int(s) for s in args.series.split(",") if s):
        with tempfile.TemporaryDirectory() as tmp:
            prom, vigil, top = run(series, args, Path(tmp))
        _print(series, args, prom, vigil)
        if top:
            print("  vigil's functions by own CPU samples (py-spy; figures above include it):")
            print("\n".join(f"    {line}" for line in top))
    for series in (int(s) for s in args.alone.split(",") if s):
        with tempfile.TemporaryDirectory() as tmp:
            _print_alone(series, args, run_alone(series, args, Path(tmp)))


if __name__ == "__main__":
    main()
