"""Scrape ingestion cost: vigil's scrape manager next to the real Prometheus, same targets.

N local fake targets (one exporter process, one port each) expose S series whose values
change on every scrape. vigil scrapes them for a fixed number of rounds into the real TSDB
head (or a counting appender); then Prometheus scrapes the same targets for as long. Printed:
CPU-seconds per million samples ingested and RSS for both, then vigil's cProfile top list.

    .venv/bin/python bench/scrape.py [--targets 10] [--series 10000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import os
import pstats
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx
import numpy as np
import numpy.typing as npt

from vigil.config.prometheus import parse_config
from vigil.model import Labels
from vigil.scrape.manager import ScrapeManager
from vigil.tsdb import Appender
from vigil.tsdb.head import Head

CLK_TCK = os.sysconf("SC_CLK_TCK")

EXPORTER = r"""
import socket, sys
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

series, variants, ports = int(sys.argv[1]), 4, [int(p) for p in sys.argv[2:]]
bodies = []
for v in range(variants):
    lines = ["# HELP bench_value A value that changes every scrape.", "# TYPE bench_value gauge"]
    lines += [
        f'bench_value{{shard="{i % 100}",series="{i}",path="/api/v1/items/{i % 37}"}} {i * 1.5 + v}'
        for i in range(series)
    ]
    bodies.append(("\n".join(lines) + "\n").encode())
served = [0]

async def metrics(request):
    served[0] += 1
    return Response(bodies[served[0] % variants], media_type="text/plain; version=0.0.4")

sockets = []
for port in ports:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    sockets.append(s)
app = Starlette(routes=[Route("/metrics", metrics)])
server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", access_log=False))
server.run(sockets=sockets)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class CountingAppender:
    """An Appender that only counts: the scrape path's own cost, without storage."""

    def __init__(self, totals: list[int]) -> None:
        self._totals = totals
        self._pending = 0

    def refs_for(self, labels: Sequence[Labels]) -> npt.NDArray[np.int64]:
        start = self._totals[1]
        self._totals[1] += len(labels)
        return np.arange(start, start + len(labels), dtype=np.int64)

    def append(self, labels: Labels, t_ms: int, value: float) -> int:
        self._pending += 1
        return 0

    def append_by_ref(self, ref: int, t_ms: int, value: float) -> None:
        self._pending += 1

    def append_batch(
        self,
        refs: npt.NDArray[np.int64],
        t_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
    ) -> None:
        self._pending += len(refs)

    def commit(self) -> None:
        self._totals[0] += self._pending
        self._pending = 0

    def rollback(self) -> None:
        self._pending = 0


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def config_text(ports: list[int], interval: str) -> str:
    targets = ", ".join(f"'127.0.0.1:{p}'" for p in ports)
    return (
        f"global: {{scrape_interval: {interval}, scrape_timeout: {interval}}}\n"
        f"scrape_configs:\n  - job_name: bench\n    static_configs: [{{targets: [{targets}]}}]\n"
    )


async def run_vigil(
    ports: list[int], rounds: int, store: str, profile: cProfile.Profile | None
) -> tuple[float, int, float, int]:
    """(CPU seconds, samples ingested, RSS MiB, head series) over `rounds` scrapes per target,
    after one warm-up round that creates the series."""
    totals = [0, 0]
    head = Head()
    appendable: Callable[[], Appender] = (
        head.appender if store == "head" else (lambda: CountingAppender(totals))
    )
    ingested = [0]
    if store == "head":
        original = appendable

        def counted() -> Appender:
            app = original()
            real_batch = app.append_batch

            def append_batch(
                refs: npt.NDArray[np.int64],
                t_ms: npt.NDArray[np.int64],
                values: npt.NDArray[np.float64],
            ) -> None:
                ingested[0] += len(refs)
                real_batch(refs, t_ms, values)

            app.append_batch = append_batch  # type: ignore[method-assign]
            return app

        appendable = counted
    manager = ScrapeManager(appendable)
    await manager.apply(parse_config(config_text(ports, "1s")))
    loops = manager.loops()
    try:
        while min(loop.scrapes for loop in loops) < 1:
            await asyncio.sleep(0.05)
        before = resource.getrusage(resource.RUSAGE_SELF)
        counted_before = ingested[0] if store == "head" else totals[0]
        if profile is not None:
            profile.enable()
        start = [loop.scrapes for loop in loops]
        while min(loop.scrapes - s for loop, s in zip(loops, start, strict=True)) < rounds:
            await asyncio.sleep(0.05)
        if profile is not None:
            profile.disable()
        after = resource.getrusage(resource.RUSAGE_SELF)
        samples = (ingested[0] if store == "head" else totals[0]) - counted_before
        errors = {loop.target.outcome.error for loop in loops if loop.target.outcome}
        if errors - {""}:
            print(f"  vigil scrape errors: {errors - {''}}", file=sys.stderr)
    finally:
        await manager.stop()
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return cpu, samples, rss_mib(), head.num_series if store == "head" else totals[1]


def prometheus_samples(client: httpx.Client, port: int) -> float:
    text = client.get(f"http://127.0.0.1:{port}/metrics").text
    for line in text.splitlines():
        if line.startswith("prometheus_tsdb_head_samples_appended_total"):
            return float(line.rsplit(" ", 1)[1])
    raise RuntimeError("prometheus_tsdb_head_samples_appended_total not found")


def run_prometheus(ports: list[int], seconds: float, workdir: Path) -> tuple[float, float, float]:
    """(CPU seconds, samples appended, RSS MiB) of Prometheus scraping for `seconds`."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise SystemExit("prometheus is not installed (apt-get install prometheus)")
    config = workdir / "prometheus.yml"
    config.write_text(config_text(ports, "1s"))
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=5) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if prometheus_samples(client, port) >= len(ports) * 2:
                        break  # every target scraped at least once: series exist
                except (httpx.HTTPError, RuntimeError):
                    pass
                time.sleep(0.2)
            time.sleep(1.5)
            cpu0, samples0 = cpu_seconds(proc.pid), prometheus_samples(client, port)
            time.sleep(seconds)
            cpu1, samples1 = cpu_seconds(proc.pid), prometheus_samples(client, port)
            return cpu1 - cpu0, samples1 - samples0, rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--store", choices=("head", "count"), default="head")
    args = parser.parse_args()
    ports = [free_port() for _ in range(args.targets)]
    exporter = subprocess.Popen(
        [sys.executable, "-c", EXPORTER, str(args.series), *map(str, ports)],
        stdout=subprocess.DEVNULL,
    )
    try:
        with httpx.Client(timeout=5) as client:
            for _ in range(200):
                try:
                    client.get(f"http://127.0.0.1:{ports[-1]}/metrics")
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
        print(
            f"{args.targets} targets × {args.series} series, {args.rounds} rounds at 1s, "
            f"vigil into {'the TSDB head' if args.store == 'head' else 'a counting appender'}"
        )
        wall = time.monotonic()
        cpu, samples, rss, series = asyncio.run(run_vigil(ports, args.rounds, args.store, None))
        wall = time.monotonic() - wall
        with tempfile.TemporaryDirectory() as tmp:
            p_cpu, p_samples, p_rss = run_prometheus(ports, args.rounds, Path(tmp))
        print(f"{'':12}{'CPU s':>8}{'samples':>12}{'CPU s / 1M samples':>20}{'RSS MiB':>10}")
        print(f"{'vigil':12}{cpu:8.2f}{samples:12.0f}{cpu / samples * 1e6:20.3f}{rss:10.0f}")
        print(
            f"{'prometheus':12}{p_cpu:8.2f}{p_samples:12.0f}"
            f"{p_cpu / max(p_samples, 1) * 1e6:20.3f}{p_rss:10.0f}"
        )
        print(
            f"vigil / prometheus CPU per sample: {cpu / samples / (p_cpu / max(p_samples, 1)):.2f}×"
            f"  (vigil head series {series}, wall {wall:.0f}s)"
        )
        profile = cProfile.Profile()
        asyncio.run(run_vigil(ports, max(3, args.rounds // 4), args.store, profile))
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        table = stats.stats  # type: ignore[attr-defined]
        for key in [key for key in table if "select.epoll" in key[2]]:
            del table[key]  # waiting for the next scrape is not work
        stats.sort_stats("tottime").print_stats(16)
        print("\nvigil profile (tottime, steady-state rounds):")
        print("\n".join(out.getvalue().splitlines()[4:]))
    finally:
        exporter.terminate()
        exporter.wait(10)


if __name__ == "__main__":
    main()
