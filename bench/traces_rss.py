"""Memory that traces add to `vigil server`: the server on its default job (it scrapes itself,
evaluates its default alert pack, runs its built-in Alertmanager) is left idle for --seconds,
then receives --rate spans a second over OTLP/HTTP protobuf on its OTLP port, where an SDK
sends them (one export a second of bench/traces_ingest.py's spans: server spans with HTTP
attributes, SQL client spans, an exception event on every 20th), for --seconds more.

Printed: RSS when ready, after the idle phase, after the first export (what the trace modules
cost once imported), at each minute and the end of the load, and its peak; the RSS the spans added beside the
target (<= 30 MiB) and beside the anchor from the same run: the same server's own drift over
the idle phase of the same length (what it grows by without any span), with the bytes of
protobuf it received.

With --speed N the server runs on a clock N times as fast (bench/fast_clock.py; --seconds
and --warmup are then of its clock): N exports a second, each stamped with its second of
the server's clock, so hours of the span head filling and being cut into blocks take
minutes; RSS is then printed at each 10 minutes of the server's clock.

    .venv/bin/python bench/traces_rss.py [--rate 100] [--seconds 120] [--warmup 20] [--speed 1]
Not a test: the machine is shared, only figures from one run mean anything together.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.traces_ingest import PROTOBUF, export
from tests.conftest import free_port, wait_ok

TICK = os.sysconf("SC_CLK_TCK")
MIB = 1024 * 1024
TARGET_MIB = 30.0


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


@dataclass(slots=True)
class Phase:
    """RSS sampled once a second, and the server's CPU-seconds over the phase."""

    samples: list[float] = field(default_factory=list)
    cpu_s: float = 0.0

    @property
    def last(self) -> float:
        return self.samples[-1]

    @property
    def peak(self) -> float:
        return max(self.samples)


def _phase(pid: int, seconds: float, each_second: Callable[[int], None] | None = None) -> Phase:
    """`seconds` of the wall clock."""
    phase, cpu = Phase(), _cpu_s(pid)
    began = time.monotonic()
    for second in range(int(seconds)):
        if each_second is not None:
            each_second(second)
        time.sleep(max(0.0, began + second + 1 - time.monotonic()))
        phase.samples.append(_rss_mib(pid))
    phase.cpu_s = _cpu_s(pid) - cpu
    return phase


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=100, help="spans per second")
    parser.add_argument("--seconds", type=float, default=120, help="of idle, then of load")
    parser.add_argument("--warmup", type=float, default=20, help="seconds after ready")
    parser.add_argument("--speed", type=int, default=1, help="the server's clock, x wall clock")
    args = parser.parse_args()
    speed = args.speed
    web, otlp = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    t0, monotonic0 = time.time(), time.monotonic()

    def server_ns() -> int:
        return round((t0 + (time.monotonic() - monotonic0) * speed) * 1e9)

    runner = ["-m", "vigil"]
    if speed != 1:
        runner = [str(Path(__file__).with_name("fast_clock.py")), str(speed), repr(t0)]
        runner.append(repr(monotonic0))
    with tempfile.TemporaryDirectory() as data:
        command = [
            sys.executable, *runner, "server",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{web}",
            f"--otlp.listen-address=127.0.0.1:{otlp}",
        ]  # fmt: skip
        server = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            wait_ok(f"http://127.0.0.1:{web}/-/ready")
            ready = _rss_mib(server.pid)
            time.sleep(args.warmup / speed)
            idle = _phase(server.pid, args.seconds / speed)
            sent = [0]
            url = f"http://127.0.0.1:{otlp}/v1/traces"

            def body(k: int) -> bytes:
                """Export k, its spans from the server's now on (export() starts export
                k's spans k x rate ms later: taken back so they never run ahead)."""
                now_ns = server_ns() - k * args.rate * 1_000_000
                return export(args.rate, k, now_ns).SerializeToString()

            with httpx.Client(timeout=60) as client:
                first = body(0)
                answer = client.post(url, content=first, headers={"Content-Type": PROTOBUF})
                assert answer.status_code == 200, answer.text
                sent[0] += len(first)
                imported = _rss_mib(server.pid)

                def send(second: int) -> None:
                    for k in range(second * speed + 1, (second + 1) * speed + 1):
                        data = body(k)
                        answer = client.post(url, content=data, headers={"Content-Type": PROTOBUF})
                        assert answer.status_code == 200, answer.text
                        sent[0] += len(data)

                load = _phase(server.pid, args.seconds / speed, send)
        finally:
            server.terminate()
            server.wait(60)
    spans = (int(args.seconds / speed) * speed + 1) * args.rate
    added = load.last - idle.last
    clock = "" if speed == 1 else f"; its clock {speed}x the wall clock's"
    print(
        f"vigil server RSS, MiB (default job; {args.rate} spans/s over OTLP/HTTP protobuf{clock})"
    )
    rows = [
        ("ready", ready, ""),
        (f"+{args.warmup:.0f} s, then {args.seconds:.0f} s idle", idle.last, ""),
        ("after the first export (imports)", imported, f"(+{imported - idle.last:.1f})"),
        (
            f"after {args.seconds:.0f} s at {args.rate} spans/s",
            load.last,
            f"(peak {load.peak:.1f})",
        ),
    ]
    for name, mib, note in rows:
        print(f"  {name:40} {mib:7.1f}  {note}")
    every = 60 if speed == 1 else 600
    step = max(1, every // speed)
    minutes = " ".join(f"{mib:.1f}" for mib in load.samples[step - 1 :: step])
    print(f"  under load, at each {every // 60:2} min of its clock    {minutes}")
    print(
        f"added by traces (end of load - end of idle): {added:+.1f} MiB   target <= {TARGET_MIB:.0f} MiB "
        f"({'met' if added <= TARGET_MIB else 'missed'})"
    )
    print(
        f"anchor, same run: the server's own drift over {args.seconds:.0f} s idle "
        f"{idle.last - idle.samples[0]:+.1f} MiB; spans received {spans} "
        f"({sent[0] / MIB:.1f} MiB of OTLP protobuf)"
    )
    print(
        f"server CPU: idle {idle.cpu_s / args.seconds * 60:.2f} CPU-s/min, "
        f"under load {load.cpu_s / args.seconds * 60:.2f} CPU-s/min"
    )


if __name__ == "__main__":
    main()
