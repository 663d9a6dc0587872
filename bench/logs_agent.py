"""Log shipping at the edge: `vigil agent` following 10 files written at 2k lines/s in all,
beside Debian's rsyslog (imfile reading the same files into one file) from the same run:
CPU % of one core and RSS of each, and whether every line arrived.

Run: .venv/bin/python bench/logs_agent.py [seconds]   (default 60)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.agent import cpu_seconds, free_port, rss_mib

FILES = 10
RATE = 2000  # lines per second, all files together
LINE = (
    "2024-05-01 10:00:00.123  INFO 4242 --- [nio-8080-exec-7] c.e.shop.OrderController  : "
    "order placed appointmentId=A-{n:08d} userId=u-{u} amount=42.00 client=203.0.113.7"
)


class _Sink:
    """A Loki-push endpoint that counts lines and throws them away."""

    def __init__(self) -> None:
        self.lines = 0
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    import gzip

                    body = gzip.decompress(body)
                sink.lines += sum(len(s["values"]) for s in json.loads(body)["streams"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/loki/api/v1/push"


def _write(directory: Path, seconds: float, stop: threading.Event) -> int:
    """Append RATE lines/s round-robin over the files, in 10 ms ticks; lines written."""
    files = [open(directory / f"app{i}.log", "a", buffering=1) for i in range(FILES)]  # noqa: SIM115
    n = 0
    start = time.monotonic()
    while not stop.is_set() and time.monotonic() - start < seconds:
        due = int((time.monotonic() - start) * RATE)
        while n < due:
            files[n % FILES].write(LINE.format(n=n, u=n % 97) + "\n")
            n += 1
        time.sleep(0.01)
    for f in files:
        f.close()
    return n


def _measure(
    proc: subprocess.Popen[bytes], directory: Path, seconds: float
) -> tuple[float, float, int]:
    time.sleep(2)  # started, files opened
    cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
    written = _write(directory, seconds, threading.Event())
    time.sleep(5)  # the last lines shipped (multiline waits 3 s for a trace to go on)
    cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0) * 100
    return cpu, rss_mib(proc.pid), written


def vigil(seconds: float) -> str:
    sink = _Sink()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable, "-m", "vigil", "agent",
                f"--web.listen-address=127.0.0.1:{port}",
                "--collector.disable-defaults", "--no-collector.containers",
                f"--logs.push-url={sink.url}", f"--logs.files={directory}/*.log",
                "--logs.docker-containers=", f"--logs.positions-file={directory}/pos.json",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            cpu, rss, written = _measure(proc, directory, seconds)
        finally:
            proc.terminate()
            proc.wait()
    return (
        f"vigil agent  CPU {cpu:5.1f}% of a core  RSS {rss:5.1f} MiB  lines {sink.lines}/{written}"
    )


def rsyslog(seconds: float) -> str:
    binary = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not os.path.exists(binary):
        return "rsyslogd   not installed (apt-get install rsyslog)"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        out = directory / "out" / "all.log"
        out.parent.mkdir()
        conf = directory / "rsyslog.conf"
        conf.write_text(
            f'global(workDirectory="{directory}")\n'
            'module(load="imfile" mode="inotify")\n'
            f'input(type="imfile" File="{directory}/*.log" Tag="app")\n'
            f'action(type="omfile" File="{out}")\n'
        )
        proc = subprocess.Popen(
            [binary, "-n", "-f", str(conf), "-i", str(directory / "rsyslog.pid")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            cpu, rss, written = _measure(proc, directory, seconds)
        finally:
            proc.terminate()
            proc.wait()
        got = sum(1 for _ in out.open()) if out.exists() else 0
    return f"rsyslogd     CPU {cpu:5.1f}% of a core  RSS {rss:5.1f} MiB  lines {got}/{written}"


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    print(
        f"{FILES} files, {RATE} lines/s in all, {seconds:.0f} s (target: vigil ≤ 5% CPU, ≤ 40 MiB)"
    )
    print(vigil(seconds))
    print(rsyslog(seconds))


if __name__ == "__main__":
    main()
