"""remote_write to VictoriaMetrics: vigil vs the Debian `prometheus`, same exporter, same run.

Each subject scrapes one synthetic exporter of `--series` series every `--interval` s, twice:
with a remote_write to a local VictoriaMetrics and without. The CPU the remote_write costs
is the difference of the subject's CPU-seconds (utime + stime from /proc) over the same
measured window; divided by the samples the queue sent in that window it gives
CPU-seconds per million samples, printed for vigil beside Prometheus's. `--synthetic`
also times vigil's queue alone on a WAL filled directly (no scraping), in this process.
Not a test.

    .venv/bin/python bench/remote_write.py [--series 100000] [--interval 15] [--window 120]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from prometheus_client import CollectorRegistry

from vigil.config.prometheus import parse_config
from vigil.model import Labels
from vigil.model.clock import SystemClock
from vigil.remote.write import QueueManager, RemoteWriteMetrics
from vigil.tsdb.wal import encode_samples, encode_series
from vigil.tsdb.wlog import WAL

TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ok(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not come up")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def metric(url: str, name: str) -> float:
    total = 0.0
    for line in httpx.get(url, timeout=10).text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


@contextmanager
def exporter(series: int) -> Iterator[int]:
    """`series` gauges over 100 metric names; every scrape moves every value."""
    prefixes = [
        f'bench_metric_{i % 100}{{shard="{i // 100 % 100}",instance_id="{i}"}} '
        for i in range(series)
    ]
    scrapes = [0]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            scrapes[0] += 1
            values = (np.arange(series) * 0.25 + scrapes[0]).astype(str)
            body = "".join(p + v + "\n" for p, v in zip(prefixes, values, strict=True)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()


@contextmanager
def process(args: list[str], ready: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ok(ready)
        yield proc
    finally:
        proc.terminate()
        proc.wait(60)


def config_text(exporter_port: int, interval: int, vm_url: str | None) -> str:
    text = (
        f"global: {{scrape_interval: {interval}s, scrape_timeout: {min(interval, 10)}s}}\n"
        "scrape_configs:\n"
        f"  - job_name: bench\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
    )
    if vm_url:
        text += f"remote_write:\n  - url: {vm_url}\n    name: vm\n"
    return text


def subject_args(name: str, config: Path, data: Path, port: int) -> list[str]:
    if name == "vigil":
        return [
            sys.executable, "-m", "vigil", "server", "--agent.disable", "--otlp.listen-address=",
            f"--config.file={config}", f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
        ]  # fmt: skip
    return [
        shutil.which("prometheus") or "prometheus",
        f"--config.file={config}", f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip


def measure(
    name: str, exporter_port: int, vm_url: str | None, args: argparse.Namespace, work: Path
) -> tuple[float, float]:
    """(CPU-seconds, samples sent) of one subject over the measured window."""
    run = work / f"{name}-{'rw' if vm_url else 'plain'}"
    run.mkdir()
    config = run / "prometheus.yml"
    config.write_text(config_text(exporter_port, args.interval, vm_url))
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    with process(subject_args(name, config, run / "data", port), f"{api}/-/ready") as proc:
        time.sleep(args.warmup)
        cpu0, sent0 = (
            cpu_seconds(proc.pid),
            metric(f"{api}/metrics", "prometheus_remote_storage_samples_total"),
        )
        time.sleep(args.window)
        cpu1, sent1 = (
            cpu_seconds(proc.pid),
            metric(f"{api}/metrics", "prometheus_remote_storage_samples_total"),
        )
    return cpu1 - cpu0, sent1 - sent0


def synthetic(vm_url: str, series: int, scrapes: int, work: Path) -> tuple[float, float, int]:
    """vigil's queue alone: (wall s, CPU s, samples) to send a WAL of series × scrapes."""
    wal_dir = work / "synthetic" / "wal"
    wal = WAL(wal_dir)
    wal.log(
        [
            encode_series(
                (
                    i,
                    Labels.from_dict(
                        {
                            "__name__": f"bench_metric_{i % 100}",
                            "shard": str(i // 100 % 100),
                            "instance_id": str(i),
                            "job": "synthetic",
                        }
                    ),
                )
                for i in range(series)
            )
        ]
    )
    refs = np.arange(series, dtype=np.int64)
    t0 = int(time.time() * 1000) - scrapes * 15_000
    for k in range(scrapes):
        wal.log(
            [
                encode_samples(
                    refs, np.full(series, t0 + k * 15_000, dtype=np.int64), refs * 0.25 + k
                )
            ]
        )
    wal.close()
    config = parse_config(f"remote_write:\n  - url: {vm_url}\n    name: synthetic\n").remote_write[
        0
    ]
    from vigil.remote.watcher import Position

    Position(0, 0).save(work / "synthetic" / "state" / "synthetic" / "position.json")
    total = series * scrapes

    async def run() -> tuple[float, float]:
        queue = QueueManager(
            config, Labels(), wal_dir, work / "synthetic" / "state",
            RemoteWriteMetrics(CollectorRegistry()), clock=SystemClock(),
        )  # fmt: skip
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await queue.start()
        while queue._m_samples._value.get() < total:
            await asyncio.sleep(0.05)
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        await queue.stop()
        return wall, cpu

    wall, cpu = asyncio.run(run())
    return wall, cpu, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--interval", type=int, default=15)
    parser.add_argument("--warmup", type=float, default=40)
    parser.add_argument("--window", type=float, default=120)
    parser.add_argument(
        "--synthetic", type=int, default=0, help="also: scrapes for the WAL-only run"
    )
    parser.add_argument("--only-synthetic", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-rw-"))
    vm_port = free_port()
    vm = [
        shutil.which("victoria-metrics") or "victoria-metrics",
        f"-storageDataPath={work / 'vm'}", f"-httpListenAddr=127.0.0.1:{vm_port}",
        "-retentionPeriod=100y", "-loggerLevel=ERROR",
    ]  # fmt: skip
    vm_url = f"http://127.0.0.1:{vm_port}/api/v1/write"
    try:
        with process(vm, f"http://127.0.0.1:{vm_port}/health"):
            if args.synthetic or args.only_synthetic:
                scrapes = args.synthetic or 10
                wall, cpu, total = synthetic(vm_url, args.series, scrapes, work)
                print(
                    f"vigil queue alone (WAL → VM): {total} samples in {wall:.1f} s = "
                    f"{total / wall:,.0f} samples/s, {cpu / total * 1e6:.2f} CPU-s per million"
                )
            if args.only_synthetic:
                return
            print(
                f"{args.series} series every {args.interval} s; window {args.window:.0f} s after "
                f"{args.warmup:.0f} s warm-up; CPU of remote_write = CPU with it − CPU without"
            )
            with exporter(args.series) as exporter_port:
                rows = []
                for name in ("vigil", "prometheus"):
                    cpu_rw, sent = measure(name, exporter_port, vm_url, args, work)
                    cpu_plain, _ = measure(name, exporter_port, None, args, work)
                    extra = cpu_rw - cpu_plain
                    rows.append((name, sent, extra, cpu_rw, cpu_plain))
                for name, sent, extra, cpu_rw, cpu_plain in rows:
                    per_million = extra / sent * 1e6 if sent else float("nan")
                    print(
                        f"{name:>10}: {sent / args.window:10,.0f} samples/s sent, "
                        f"{per_million:6.2f} CPU-s per million samples "
                        f"(CPU {cpu_rw:.1f} s with remote_write, {cpu_plain:.1f} s without)"
                    )
                ratio = (rows[0][2] / rows[0][1]) / (rows[1][2] / rows[1][1])
                print(f"vigil / prometheus CPU per million samples: {ratio:.2f}× (target ≤ 1.5×)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
