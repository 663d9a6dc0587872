"""vigil's head beside Prometheus's: memory per active series, and WAL replay time.

Both programs get the same series: T fake-exporter targets (one job each) served by a small
threaded HTTP server on 127.0.0.1, each `metric_<i % 200>{id="<t>_<i>"}`, which Prometheus
labels with `job` and `instance`; vigil appends the same label sets through
`TSDB.appender()` (refs cached as a scrape loop caches them), in a fresh process.

- memory: process RSS after `--scrapes` scrapes minus the RSS of the same program holding no
  series (Prometheus: a run scraping one empty target; vigil: the process after imports and
  `TSDB.open`).
- replay: N series x 2 h at 15 s (480 samples each). Scraping cannot write 2 h quickly
  (Prometheus refuses scraped samples over 10 min ahead of its clock), so Prometheus gets
  them through its remote-write receiver, 40 steps per request, the same appender and WAL
  as scrapes; it is killed with SIGKILL once it has appended everything, and restarted: its
  "WAL replay completed" log line gives the replay time. vigil writes the same samples (one
  commit per 15 s step) and a fresh process times `TSDB.open`.

Run: `.venv/bin/python bench/tsdb_memory.py memory --series 100000 1000000` and
`.venv/bin/python bench/tsdb_memory.py replay --series 100000`. Needs /usr/bin/prometheus.
"""

from __future__ import annotations

import argparse
import gc
import http.server
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

PROMETHEUS = "/usr/bin/prometheus"
STEP_MS = 15_000
REPLAY_SAMPLES = 480  # 2 h at 15 s
PER_SCRAPE = 40  # steps per series in one replay-bench remote-write request


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _rss_bytes(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _targets(n_series: int, replay: bool = False) -> int:
    """100k series per target; 25k for the replay bench, whose bodies hold 40 steps each."""
    return max(1, n_series // (25_000 if replay else 100_000))


def _prefixes(target: int, per_target: int) -> list[bytes]:
    return [f'metric_{i % 200}{{id="{target}_{i}"}} '.encode() for i in range(per_target)]


# ----- the fake exporter -----


class _Exporter:
    """Serves `/t/<target>`: every series of that target, value 1."""

    def __init__(self, n_series: int) -> None:
        self.targets = _targets(n_series) if n_series else 1
        per_target = n_series // self.targets
        prefixes = [_prefixes(t, per_target) for t in range(self.targets)]
        self.static = [b"1\n".join(p) + b"1\n" if p else b"" for p in prefixes]
        self.port = _free_port()
        exporter = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target = int(self.path.rsplit("/", 1)[1])
                body = exporter.static[target]
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def config(self, interval_s: int) -> str:
        jobs = "".join(
            f"  - job_name: bench{t}\n    metrics_path: /t/{t}\n"
            f"    static_configs: [{{targets: ['127.0.0.1:{self.port}']}}]\n"
            for t in range(self.targets)
        )
        return (
            f"global: {{scrape_interval: {interval_s}s, scrape_timeout: {interval_s}s}}\n"
            f"scrape_configs:\n{jobs}"
        )

    def close(self) -> None:
        self.server.shutdown()


# ----- Prometheus -----


@contextmanager
def _prometheus(
    data: Path, config: str, log_path: Path, *flags: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    config_file = data.parent / f"{data.name}.yml"
    config_file.write_text(config)
    port = _free_port()
    with log_path.open("ab") as log_file:
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
                *flags,
            ],
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        yield proc, f"http://127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(60)


def _metric(url: str, name: str) -> float:
    try:
        text = urllib.request.urlopen(f"{url}/metrics", timeout=5).read().decode()
    except OSError:
        return 0.0
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and line[len(name)] in " {"
    )


def _wait(check: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.25)


def prometheus_rss(n_series: int, scrapes: int, work: Path) -> int:
    """Prometheus's RSS once it has appended `scrapes` scrapes of n_series series."""
    exporter = _Exporter(n_series)
    interval = 5 if n_series <= 200_000 else 10
    data = work / f"prom-mem-{n_series}"
    try:
        with _prometheus(data, exporter.config(interval), work / "prometheus.log") as (proc, url):
            wanted = max(n_series, 1) * scrapes
            _wait(
                lambda: (
                    _metric(url, "prometheus_tsdb_head_samples_appended_total") >= wanted
                    or proc.poll() is not None
                ),
                scrapes * interval * 4 + 120,
                f"Prometheus appending {wanted} samples",
            )
            time.sleep(1.0)
            return _rss_bytes(proc.pid)
    finally:
        exporter.close()
        shutil.rmtree(data, ignore_errors=True)


def prometheus_replay_s(n_series: int, work: Path) -> tuple[float, float, int]:
    """(WAL replay seconds from Prometheus's own log line, seconds until /-/ready, RSS growth
    from the empty start to the full 2 h head)."""
    start_ms = int(time.time() * 1000) - REPLAY_SAMPLES * STEP_MS
    data = work / f"prom-replay-{n_series}"
    log_path = work / f"prom-replay-{n_series}.log"
    receiver = "--web.enable-remote-write-receiver"
    with _prometheus(data, "scrape_configs: []\n", log_path, receiver) as (proc, url):
        _wait(lambda: _metric(url, "prometheus_build_info") > 0, 60, "Prometheus up")
        baseline = _rss_bytes(proc.pid)
        targets = _targets(n_series, replay=True)
        per_target = n_series // targets
        labels = [_encoded_labels(t, per_target) for t in range(targets)]
        for first in range(0, REPLAY_SAMPLES, PER_SCRAPE):
            steps = range(first, min(first + PER_SCRAPE, REPLAY_SAMPLES))
            samples = b"".join(_encoded_sample(step, start_ms + step * STEP_MS) for step in steps)
            for target_labels in labels:
                _remote_write(url, target_labels, samples)
        wanted = n_series * REPLAY_SAMPLES
        _wait(
            lambda: _metric(url, "prometheus_tsdb_head_samples_appended_total") >= wanted,
            120,
            f"Prometheus appending {wanted} samples",
        )
        head_bytes = _rss_bytes(proc.pid) - baseline
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    log_path.write_bytes(b"")
    started = time.monotonic()
    with _prometheus(data, "scrape_configs: []\n", log_path) as (proc, url):

        def ready() -> bool:
            try:
                return bool(urllib.request.urlopen(f"{url}/-/ready", timeout=5).status == 200)
            except OSError:
                return False

        _wait(ready, 1200, "Prometheus ready after replay")
        ready_s = time.monotonic() - started
    shutil.rmtree(data, ignore_errors=True)
    found = re.search(
        r'msg="WAL replay completed".*total_replay_duration=(\S+)', log_path.read_text()
    )
    if found is None:
        raise RuntimeError(f"no 'WAL replay completed' line in {log_path}")
    return _go_duration_s(found.group(1)), ready_s, head_bytes


def _varint(n: int) -> bytes:
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(payload)) + payload


def _encoded_labels(target: int, per_target: int) -> list[bytes]:
    """prompb.Label fields (TimeSeries field 1) of each series, as vigil's bench labels."""
    out = []
    for i in range(per_target):
        pairs = [
            ("__name__", f"metric_{i % 200}"),
            ("id", f"{target}_{i}"),
            ("instance", "127.0.0.1:9100"),
            ("job", f"bench{target}"),
        ]
        out.append(
            b"".join(
                _field(0x0A, _field(0x0A, name.encode()) + _field(0x12, value.encode()))
                for name, value in pairs
            )
        )
    return out


def _encoded_sample(value: float, t_ms: int) -> bytes:
    """A prompb.Sample as TimeSeries field 2."""
    return _field(0x12, b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(t_ms))


def _remote_write(url: str, series_labels: list[bytes], samples: bytes) -> None:
    """One prompb.WriteRequest, every series with the same samples; snappy block format
    with a single literal (valid snappy, no compression needed on loopback)."""
    body = b"".join(_field(0x0A, labels + samples) for labels in series_labels)
    framed = _varint(len(body)) + bytes((63 << 2,)) + struct.pack("<I", len(body) - 1) + body
    request = urllib.request.Request(
        f"{url}/api/v1/write",
        data=framed,
        headers={
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "X-Prometheus-Remote-Write-Version": "0.1.0",
        },
    )
    with urllib.request.urlopen(request, timeout=300) as response:
        assert response.status in (200, 204), response.status


def _go_duration_s(text: str) -> float:
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|µs|us|ns|h|m|s)", text))


# ----- vigil (each measurement in a fresh child process) -----


def _vigil_labels(n_series: int, replay: bool = False) -> list[object]:
    from vigil.model import Labels

    targets = _targets(n_series, replay)
    per_target = n_series // targets
    return [
        Labels.from_dict(
            {
                "__name__": f"metric_{i % 200}",
                "id": f"{t}_{i}",
                "instance": "127.0.0.1:9100",
                "job": f"bench{t}",
            }
        )
        for t in range(targets)
        for i in range(per_target)
    ]


def _child_memory(n_series: int, scrapes: int, data: Path) -> None:
    from prometheus_client import CollectorRegistry

    from vigil.tsdb.db import TSDB, TSDBOptions

    options = TSDBOptions(max_series=0)
    with TSDB.open(data, options, registry=CollectorRegistry()) as db:
        gc.collect()
        baseline = _rss_bytes()
        appender = db.appender()
        labels = _vigil_labels(n_series)
        refs = appender.refs_for(labels)  # type: ignore[arg-type]
        del labels
        now = int(time.time() * 1000)
        for i in range(scrapes):
            ts = np.full(len(refs), now + i * STEP_MS, dtype=np.int64)
            appender.append_batch(refs, ts, np.full(len(refs), float(i)))
            appender.commit()
        gc.collect()
        print(_rss_bytes() - baseline)


def _child_write(n_series: int, data: Path) -> None:
    from prometheus_client import CollectorRegistry

    from vigil.tsdb.db import TSDB, TSDBOptions

    start = int(time.time() * 1000) - REPLAY_SAMPLES * STEP_MS
    with TSDB.open(data, TSDBOptions(max_series=0), registry=CollectorRegistry()) as db:
        gc.collect()
        baseline = _rss_bytes()
        appender = db.appender()
        refs = appender.refs_for(_vigil_labels(n_series, replay=True))  # type: ignore[arg-type]
        for step in range(REPLAY_SAMPLES):
            ts = np.full(len(refs), start + step * STEP_MS, dtype=np.int64)
            appender.append_batch(refs, ts, np.full(len(refs), float(step)))
            appender.commit()
        gc.collect()
        print(db.wal.size_bytes(), _rss_bytes() - baseline)


def _child_replay(data: Path) -> None:
    from prometheus_client import CollectorRegistry

    from vigil.tsdb.db import TSDB, TSDBOptions

    started = time.perf_counter()
    with TSDB.open(data, TSDBOptions(max_series=0), registry=CollectorRegistry()) as db:
        print(time.perf_counter() - started, db.head.num_series)


def _child(*args: str) -> str:
    out = subprocess.run(
        [sys.executable, __file__, "child", *args], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def _mib(n: float) -> str:
    return f"{n / 2**20:.0f} MiB"


def bench_memory(series: list[int], scrapes: int, work: Path) -> None:
    empty = prometheus_rss(0, scrapes, work)
    print(f"Prometheus RSS scraping one empty target: {_mib(empty)}")
    print(f"{'series':>9} {'vigil B/series':>15} {'Prometheus B/series':>20} {'ratio':>6}")
    for n in series:
        vigil_delta = int(_child("memory", str(n), str(scrapes), str(work / f"vigil-mem-{n}")))
        shutil.rmtree(work / f"vigil-mem-{n}", ignore_errors=True)
        prom_delta = prometheus_rss(n, scrapes, work) - empty
        print(
            f"{n:>9} {vigil_delta / n:>15.0f} {prom_delta / n:>20.0f} "
            f"{vigil_delta / prom_delta:>6.2f}   (RSS delta vigil {_mib(vigil_delta)}, "
            f"Prometheus {_mib(prom_delta)}; {scrapes} scrapes)",
            flush=True,
        )


def bench_replay(series: list[int], work: Path) -> None:
    print(f"{'series':>9} {'vigil replay':>13} {'Prometheus replay':>18} {'ratio':>6}")
    for n in series:
        data = work / f"vigil-replay-{n}"
        wal_bytes, vigil_head = map(int, _child("write", str(n), str(data)).split())
        seconds, found = _child("replay", str(data)).split()
        shutil.rmtree(data, ignore_errors=True)
        assert int(found) == n, (found, n)
        vigil_s = float(seconds)
        prom_s, prom_ready_s, prom_head = prometheus_replay_s(n, work)
        print(
            f"{n:>9} {vigil_s:>12.2f}s {prom_s:>17.2f}s {vigil_s / prom_s:>6.2f}   "
            f"({n * REPLAY_SAMPLES / 1e6:.0f}M samples; vigil WAL {_mib(wal_bytes)}; "
            f"Prometheus ready after {prom_ready_s:.2f}s)\n"
            f"{'':>9} full 2 h head, RSS growth per series: vigil {vigil_head / n:.0f} B, "
            f"Prometheus {prom_head / n:.0f} B ({vigil_head / prom_head:.2f}x)",
            flush=True,
        )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        kind, *rest = sys.argv[2:]
        if kind == "memory":
            _child_memory(int(rest[0]), int(rest[1]), Path(rest[2]))
        elif kind == "write":
            _child_write(int(rest[0]), Path(rest[1]))
        else:
            _child_replay(Path(rest[0]))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["memory", "replay"])
    parser.add_argument("--series", type=int, nargs="+", default=[100_000])
    parser.add_argument("--scrapes", type=int, default=4)
    args = parser.parse_args()
    if not os.access(PROMETHEUS, os.X_OK):
        sys.exit(f"{PROMETHEUS} is needed for the comparison")
    with tempfile.TemporaryDirectory(prefix="vigil-bench-") as tmp:
        if args.what == "memory":
            bench_memory(args.series, args.scrapes, Path(tmp))
        else:
            bench_replay(args.series, Path(tmp))


if __name__ == "__main__":
    main()
