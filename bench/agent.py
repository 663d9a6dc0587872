"""CPU time per scrape and steady RSS: `vigil agent` next to the real `prometheus-node-exporter`
on this machine, same collectors, 200 scrapes each. Run: .venv/bin/python bench/agent.py"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx

from vigil.exporter import DEFAULT_ENABLED

SCRAPES = 200
WARMUP = 20
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Figures:
    cpu_ms_per_scrape: float
    rss_mib: float
    body_bytes: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@contextmanager
def serving(args: list[str], url: str) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                httpx.get(url, timeout=0.5)
                break
            except httpx.TransportError:
                try:
                    proc.wait(timeout=0.05)
                    raise RuntimeError(f"{args[0]} exited with {proc.returncode}")
                except subprocess.TimeoutExpired:
                    pass
        else:
            raise RuntimeError(f"nothing served {url}")
        yield proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def measure(args: list[str], url: str) -> Figures:
    with serving(args, url) as proc, httpx.Client() as client:
        for _ in range(WARMUP):
            client.get(url)
        start = cpu_seconds(proc.pid)
        size = 0
        for _ in range(SCRAPES):
            size = len(client.get(url).content)
        used = cpu_seconds(proc.pid) - start
        return Figures(used / SCRAPES * 1000, rss_mib(proc.pid), size)


def main() -> int:
    node_exporter = shutil.which("prometheus-node-exporter")
    if node_exporter is None:
        print("prometheus-node-exporter is not installed", file=sys.stderr)
        return 1
    collectors = sorted(DEFAULT_ENABLED)
    port = free_port()
    theirs = measure(
        [
            node_exporter,
            f"--web.listen-address=127.0.0.1:{port}",
            "--collector.disable-defaults",
            *(f"--collector.{name}" for name in collectors),
        ],
        f"http://127.0.0.1:{port}/metrics",
    )
    port = free_port()
    ours = measure(
        [
            sys.executable,
            "-m",
            "vigil",
            "agent",
            f"--web.listen-address=127.0.0.1:{port}",
            "--no-collector.containers",
        ],
        f"http://127.0.0.1:{port}/metrics",
    )
    port = free_port()
    full = measure(
        [sys.executable, "-m", "vigil", "agent", f"--web.listen-address=127.0.0.1:{port}"],
        f"http://127.0.0.1:{port}/metrics",
    )
    print(f"{SCRAPES} scrapes each, collectors: {', '.join(collectors)}")
    print("vigil (same collectors) is --no-collector.containers; vigil (default) adds the")
    print("container, Docker and OOM-kill collectors, which node_exporter does not have.")
    header = f"{'':24}{'vigil (same)':>14}{'node_exporter':>16}{'ratio':>8}{'vigil (default)':>17}"
    print(header)
    rows = (
        (
            "CPU per scrape (ms)",
            ours.cpu_ms_per_scrape,
            theirs.cpu_ms_per_scrape,
            full.cpu_ms_per_scrape,
        ),
        ("steady RSS (MiB)", ours.rss_mib, theirs.rss_mib, full.rss_mib),
        ("body (bytes)", float(ours.body_bytes), float(theirs.body_bytes), float(full.body_bytes)),
    )
    for label, a, b, c in rows:
        print(f"{label:24}{a:14.2f}{b:16.2f}{a / b:8.2f}{c:17.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
