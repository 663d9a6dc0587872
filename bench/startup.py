"""Start-up and idle CPU: `vigil server` on its default job beside the programs it stands in
for, on the same job, in the same run.

vigil runs without --config.file: it scrapes itself (its /metrics serves this host's metrics),
evaluates its default alert pack and runs its built-in Alertmanager on the default
alertmanager.yml. The peers do the same job as three programs: Prometheus scraping itself and
a node_exporter every 15 s, evaluating the same rule files (vigil's pack) and sending to
Alertmanager on the same alertmanager.yml.

- start-up: each program is launched --starts times on an empty data dir; its CPU-seconds when
  /-/ready first answers 200 (polled every 20 ms), median and range. vigil's first launch is a
  warm-up, not counted (it writes the .pyc files an installed vigil already has; run this
  without PYTHONDONTWRITEBYTECODE).
- idle: one of each left running; from --warmup seconds after ready (the first scrapes and
  rule evaluations are done), CPU-seconds over --idle seconds, printed per minute.
--profile samples vigil with py-spy during the idle phase and lists its functions by own CPU
samples (the sampling costs vigil CPU: compare the idle figures of a run without it).

    .venv/bin/python bench/startup.py [--starts 5] [--warmup 20] [--idle 120] [--profile]
Not a test: the machine is shared, only the ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ingest import own_cpu_top, py_spy
from tests.conftest import free_port, peer

TICK = os.sysconf("SC_CLK_TCK")
SRC = Path(__file__).resolve().parent.parent / "src" / "vigil"
RULES = sorted(str(path) for path in (SRC / "rules" / "default").glob("*.yml"))
ALERTMANAGER_YML = SRC / "alerting" / "default" / "alertmanager.yml"


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


@dataclass(frozen=True, slots=True)
class Program:
    """How to launch one program on a data dir, and the URL that says it is ready."""

    name: str
    argv: tuple[str, ...]
    ready: str
    env: dict[str, str] | None = None

    def on(self, data: Path) -> list[str]:
        return [arg.replace("{data}", str(data)) for arg in self.argv]


def _programs(root: Path) -> list[Program]:
    node, am, prom, vigil, otlp = (free_port() for _ in range(5))
    config = root / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 15s, evaluation_interval: 15s}\n"
        f"rule_files: {RULES}\n"
        f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{am}']}}]}}]}}\n"
        "scrape_configs:\n"
        f"  - {{job_name: prometheus, static_configs: [{{targets: ['127.0.0.1:{prom}']}}]}}\n"
        f"  - {{job_name: node, static_configs: [{{targets: ['127.0.0.1:{node}']}}]}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return [
        Program(
            "node_exporter",
            (peer("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{node}"),
            f"http://127.0.0.1:{node}/metrics",
        ),
        Program(
            "alertmanager",
            (
                peer("prometheus-alertmanager"),
                f"--config.file={ALERTMANAGER_YML}",
                "--storage.path={data}",
                f"--web.listen-address=127.0.0.1:{am}",
                "--cluster.listen-address=",
            ),
            f"http://127.0.0.1:{am}/-/ready",
        ),
        Program(
            "prometheus",
            (
                peer("prometheus"),
                f"--config.file={config}",
                "--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{prom}",
            ),
            f"http://127.0.0.1:{prom}/-/ready",
        ),
        Program(
            "vigil server",
            (
                sys.executable, "-m", "vigil", "server", "--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{vigil}",
                f"--otlp.listen-address=127.0.0.1:{otlp}",
            ),
            f"http://127.0.0.1:{vigil}/-/ready",
            env,
        ),
    ]  # fmt: skip


@contextmanager
def _launched(program: Program, data: Path) -> Iterator[tuple[int, float]]:
    """The program's pid and its CPU-seconds when it first answered ready; stopped after."""
    data.parent.mkdir(parents=True, exist_ok=True)
    log = data.with_suffix(".log")
    with log.open("wb") as out:
        proc = subprocess.Popen(program.on(data), stdout=out, stderr=out, env=program.env)
    try:
        deadline = time.monotonic() + 120
        with httpx.Client(timeout=5) as client:
            while True:
                try:
                    if client.get(program.ready).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or proc.poll() is not None:
                    tail = log.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{program.name} did not become ready:\n{tail}")
                time.sleep(0.02)
        yield proc.pid, _cpu_seconds(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)


def _startups(program: Program, root: Path, starts: int) -> list[float]:
    found = []
    for n in range(starts):
        with _launched(program, root / f"{program.name}-{n}".replace(" ", "-")) as (_, cpu):
            found.append(cpu)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="launches of each program (5)")
    parser.add_argument("--warmup", type=float, default=20.0, help="s after ready (20)")
    parser.add_argument("--idle", type=float, default=120.0, help="s measured idle (120)")
    parser.add_argument("--profile", action="store_true", help="sample vigil with py-spy")
    parser.add_argument("--top", type=int, default=25, help="profile entries printed (25)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        programs = _programs(root)
        _startups(programs[-1], root / "warm-up", 1)
        startup = {p.name: _startups(p, root / "starts", args.starts) for p in programs}
        with ExitStack() as stack:
            running = [
                (p.name, stack.enter_context(_launched(p, root / "idle" / p.name))[0])
                for p in programs
            ]
            time.sleep(args.warmup)
            begin = {name: _cpu_seconds(pid) for name, pid in running}
            raw = root / "py-spy.txt"
            spy = py_spy(running[-1][1], args.idle, raw) if args.profile else None
            time.sleep(args.idle)
            idle = {name: _cpu_seconds(pid) - begin[name] for name, pid in running}
            if spy is not None:
                spy.wait(120)
                top = own_cpu_top(raw, args.top)

    print(f"start-up CPU-s to ready, median [min-max] of {args.starts} launches")
    for name, found in startup.items():
        print(f"  {name:16}{statistics.median(found):7.3f}  [{min(found):.3f}-{max(found):.3f}]")
    peers = sum(statistics.median(found) for name, found in startup.items() if "vigil" not in name)
    vigil = statistics.median(startup["vigil server"])
    print(f"  {'peers (sum)':16}{peers:7.3f}   vigil / peers {vigil / peers:.1f}")
    minutes = args.idle / 60
    print(f"\nidle CPU-s per minute ({args.idle:g} s from {args.warmup:g} s after ready)")
    for name, cpu in idle.items():
        print(f"  {name:16}{cpu / minutes:7.3f}")
    peers = sum(cpu for name, cpu in idle.items() if "vigil" not in name)
    ours = idle["vigil server"]
    ratio = f"{ours / peers:.2f}" if peers else "-"
    print(f"  {'peers (sum)':16}{peers / minutes:7.3f}   vigil / peers {ratio}")
    if spy is not None:
        print("  vigil's functions by own CPU samples (py-spy; figures above include it):")
        print("\n".join(f"    {line}" for line in top))


if __name__ == "__main__":
    main()
