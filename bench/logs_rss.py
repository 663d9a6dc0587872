"""Memory of `vigil server` holding days of logs: a log store dir with --days of --rate
Spring-like lines a second (four streams, one per level) ending now, written straight as day
blocks of the head's zstd chunks (bench/logql.py's writer; no WAL, no push), is opened by a
`vigil server` on its defaults; printed: its RSS (anonymous and mapped file pages apart) when
ready, then after a few queries through the Loki API (the logs volume over 24 h, a line
filter over the last hour, labels), beside the budget (the issue's 150 MiB; the shipped
unit's MemoryMax=200M).
    .venv/bin/python bench/logs_rss.py [--days 7] [--rate 100] [--keep DIR]
Not a test: the machine is shared, only figures from one run mean anything together.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.logql import write_volume_blocks
from tests.conftest import free_port, wait_ok

from vigil.logs.compact import DAY_NS

BUDGET_MIB = 150


def _rss_mib(pid: int) -> tuple[float, float]:
    """Anonymous memory and mapped file pages (the blocks' chunk files: page cache the
    kernel reclaims under a memory limit before it kills), MiB."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    anon, mapped = (int(status[k].split()[0]) / 1024 for k in ("RssAnon", "RssFile"))
    return anon, mapped


QUERIES = [
    ("logs volume, 24 h", 'sum by (level) (count_over_time({job="shop"}[1m]))', 24, "60"),
    ("line filter, 1 h", '{job="shop"} |= "status=500"', 1, "60"),
    ("error lines, 1 h", '{job="shop", level="error"}', 1, "60"),
]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--rate", type=int, default=100, help="lines per second")
    parser.add_argument("--keep", type=Path, help="the store dir, kept for the next run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        logs = args.keep or Path(tmp) / "logs"
        end_ns = (time.time_ns() - 600 * 10**9) // 10**9 * 10**9
        hours = 24 * args.days
        started = time.perf_counter()
        write_volume_blocks(logs, args.rate, hours, end_ns - hours * 3600 * 10**9, DAY_NS)
        written = time.perf_counter() - started
        size = sum(p.stat().st_size for p in logs.rglob("*") if p.is_file())
        web, otlp = free_port(), free_port()
        command = [
            sys.executable, "-m", "vigil", "server",
            f"--storage.tsdb.path={tmp}/tsdb",
            f"--logs.storage.path={logs}",
            f"--web.listen-address=127.0.0.1:{web}",
            f"--otlp.listen-address=127.0.0.1:{otlp}",
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_ok(f"http://127.0.0.1:{web}/-/ready")
            ready = _rss_mib(server.pid)
            rows = [("ready (log store open)", *ready, "")]
            base = f"http://127.0.0.1:{web}/loki/api/v1"
            with httpx.Client(timeout=600) as client:
                for name, query, span_h, step in QUERIES:
                    params = {
                        "query": query,
                        "start": str(end_ns - span_h * 3600 * 10**9),
                        "end": str(end_ns),
                        "step": step,
                        "limit": "1000",
                    }
                    began = time.perf_counter()
                    answer = client.get(f"{base}/query_range", params=params)
                    answer.raise_for_status()
                    took = time.perf_counter() - began
                    rows.append((f"after {name}", *_rss_mib(server.pid), f"({took:.2f} s)"))
                client.get(f"{base}/labels").raise_for_status()
                rows.append(("after labels", *_rss_mib(server.pid), ""))
        finally:
            server.terminate()
            server.wait(60)
    lines = args.rate * hours * 3600
    print(
        f"vigil server RSS, MiB, with {args.days} days of {args.rate} lines/s stored "
        f"({lines:,} lines, {size / 2**20:.0f} MiB of blocks, written in {written:.0f} s)"
    )
    print(f"  {'':32} {'anon':>7} {'file':>7}  (RSS = anon + mapped chunk-file pages)")
    for name, anon, mapped, note in rows:
        print(f"  {name:32} {anon:7.1f} {mapped:7.1f}  {note}")
    peak = max(anon for _, anon, _, _ in rows)
    print(
        f"budget: {BUDGET_MIB} MiB of anonymous memory (MemoryMax=200M): "
        f"{'met' if peak <= BUDGET_MIB else 'missed'} (peak {peak:.1f})"
    )


if __name__ == "__main__":
    main()
