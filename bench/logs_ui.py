"""The Logs page in headless Chromium over a day of container logs at 1k lines/s (86.4 M lines,
10 containers): how long a 24 h query takes until its first page of results (the newest 1000
lines) is drawn, and until the volume histogram is (if within VOLUME_WAIT_S), against the
issue's target (first page < 1 s), with the API requests' own durations beside them.

The day is written as a server would hold it after that day: the hours its head has cut as
blocks written directly (one per finished UTC day, 2 h ones after; 90 s chunks per stream
encoded as the head encodes them, whose line frames a cut block would have compressed again
at zstd 9, which reading does not notice), the last one to three hours through the store's
appender (`LogStore.push`: head and WAL, replayed when the server opens the store). Lines
are drawn from a pool of Spring Boot-like lines (bench/logs.py's corpus) with the level the
agent's Level stage would record as structured metadata. Then `vigil server` opens that
store and the page is loaded cold `--runs` times on `/logs?query=…&from=…&to=…` (the day up
to its last line). Not a test.

    .venv/bin/python bench/logs_ui.py [--runs 5] [--hours 24] [--rate 1000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt

from vigil.logs import Entries, Lines
from vigil.logs.block import write_block
from vigil.logs.chunk import Chunk
from vigil.logs.compact import DAY_NS
from vigil.logs.head import HOUR_NS
from vigil.logs.limits import LogLimits
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.logs import spring_corpus  # noqa: E402
from bench.ui import Load, _Network, _process_cpu_s, _short  # noqa: E402
from tests.conftest import free_port, wait_ok  # noqa: E402
from tests.ui.conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

CONTAINERS = 10
POOL = 50_000
SLICE_S = 60
CHUNK_S = 90
BLOCK_NS = 2 * HOUR_NS
TARGET_FIRST_PAGE_S = 1.0
VOLUME_WAIT_S = 30.0
QUERIES = ['{service_name=~".+"}', '{container="shop-3"}', '{container="shop-3"} |= "ERROR"']
RESULTS_DONE = '.logs-results[data-state="done"] .log-rows'
VOLUME_DRAWN = ".logs-volume"


class LinePool:
    """Lines to draw from, with their sizes and each one's level metadata."""

    def __init__(self, size: int) -> None:
        corpus = spring_corpus(size)
        self.lines: list[bytes] = []
        levels: list[int] = []
        self.levels: list[Labels] = []
        for labels, stream_lines in corpus.streams:
            self.levels.append(Labels.from_dict({"level": labels.get("level") or "info"}))
            self.lines += stream_lines
            levels += [len(self.levels) - 1] * len(stream_lines)
        self.sizes = np.array([len(line) for line in self.lines], dtype=np.int64)
        self.level_of = np.array(levels, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.lines)

    def take(self, picks: npt.NDArray[np.int64]) -> tuple[Lines, tuple[Labels, ...]]:
        """The picked lines as one column, and their levels."""
        offsets = np.zeros(len(picks) + 1, dtype=np.int64)
        np.cumsum(self.sizes[picks], out=offsets[1:])
        data = b"".join(map(self.lines.__getitem__, picks.tolist()))
        return Lines(data, offsets), tuple(map(self.levels.__getitem__, self.level_of[picks]))


def _options() -> LogStoreOptions:
    limits = LogLimits(
        ingestion_rate_mb=0,
        ingestion_burst_size_mb=0,
        reject_old_samples=False,
        max_global_streams_per_user=0,
    )
    return LogStoreOptions(limits=limits)


class GeneratedChunks(Sequence[Chunk]):
    """One stream's chunks over [start, end): `rate` lines/s at random times, CHUNK_S of them
    per chunk (about the head's 1 MiB target), each made when asked for (a day of a stream
    never sits in memory), the same for the same seed."""

    def __init__(self, pool: LinePool, start: int, end: int, rate: int, seed: int) -> None:
        self._pool = pool
        self._start = start
        self._end = end
        self._rate = rate
        self._seed = seed

    def __len__(self) -> int:
        return -(-(self._end - self._start) // (CHUNK_S * 10**9))

    @overload
    def __getitem__(self, i: int) -> Chunk: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Chunk]: ...
    def __getitem__(self, i: int | slice) -> Chunk | Sequence[Chunk]:
        if isinstance(i, slice):
            return [self[k] for k in range(len(self))[i]]
        if not 0 <= i < len(self):
            raise IndexError(i)
        rng = np.random.default_rng((self._seed, i))
        t0 = self._start + i * CHUNK_S * 10**9
        span = min(CHUNK_S * 10**9, self._end - t0)
        n = max(1, span * self._rate // 10**9)
        lines, levels = self._pool.take(rng.integers(0, len(self._pool), n))
        return Chunk.encode(t0 + np.sort(rng.integers(0, span, n)), lines, levels)


def _streams() -> list[Labels]:
    return [
        Labels.from_dict(
            {
                "container": f"shop-{i}",
                "host": "vm1",
                "image": "shop:2.3",
                "service_name": f"shop-{i}",
                "stream": "stdout",
            }
        )
        for i in range(CONTAINERS)
    ]


def _block_windows(start: int, end: int) -> list[tuple[int, int]]:
    """The blocks a server holds for [start, end) once compacted: one per finished day, 2 h
    ones in the current day."""
    windows = []
    at = start
    while at < end:
        day_end = (at // DAY_NS + 1) * DAY_NS
        step = day_end if day_end <= end else (at // BLOCK_NS + 1) * BLOCK_NS
        windows.append((at, min(step, end)))
        at = min(step, end)
    return windows


def write_day(path: Path, hours: float, rate: int, end_ns: int) -> int:
    """`hours` of `rate` lines/s over CONTAINERS streams, ending at `end_ns`; lines written.
    What a server would have cut from its head by then is written as blocks directly; the
    rest goes through the store's appender into its head and WAL."""
    pool = LinePool(POOL)
    streams = _streams()
    per_stream = rate // CONTAINERS
    start_ns = end_ns - int(hours * 3600) * 10**9
    head_from = max(start_ns, (end_ns - HOUR_NS) // BLOCK_NS * BLOCK_NS)
    path.mkdir(parents=True, exist_ok=True)
    written = 0
    began = time.perf_counter()
    for a, b in _block_windows(start_ns, head_from):
        chunks = [
            (labels, GeneratedChunks(pool, a, b, per_stream, hash((a, k)) & 0xFFFFFFFF))
            for k, labels in enumerate(streams)
        ]
        write_block(path, chunks, level=2 if b - a > BLOCK_NS else 1)
        written += per_stream * len(streams) * (b - a) // 10**9
        print(
            f"  block of {(b - a) / 3.6e12:.0f} h: {written / 1e6:5.1f} M lines "
            f"in {time.perf_counter() - began:.0f} s",
            flush=True,
        )
    rng = np.random.default_rng(7)
    now = [head_from / 1e9]
    with LogStore.open(path, _options(), clock=lambda: now[0]) as store:
        for t0 in range(head_from, end_ns, SLICE_S * 10**9):
            span = min(SLICE_S * 10**9, end_ns - t0)
            n = per_stream * span // 10**9
            batch = []
            for labels in streams:
                lines, levels = pool.take(rng.integers(0, len(pool), n))
                batch.append(Entries(labels, t0 + np.sort(rng.integers(0, span, n)), lines, levels))
            written += store.push(batch).accepted_lines
            now[0] = (t0 + span) / 1e9
    print(f"  head: {(end_ns - head_from) / 3.6e12:.1f} h pushed, {written / 1e6:.1f} M lines")
    return written


# Records when each watched selector first matched (performance.now(): ms since navigation).
_MARKS = """
(selectors) => {
  window.__marks = {};
  const check = () => {
    for (const s of selectors) {
      if (window.__marks[s] === undefined && document.querySelector(s)) {
        window.__marks[s] = performance.now();
      }
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, attributes: true});
}
"""


@dataclass(frozen=True, slots=True)
class PageLoad:
    """One cold load: until the results are drawn (a Load, with the network and the server's
    CPU-seconds until then), the volume's seconds (None when not within VOLUME_WAIT_S), the
    server's CPU-seconds until the volume was drawn too, and how many rows the page shows."""

    results: Load
    volume_s: float | None
    server_cpu_to_volume_s: float
    rows: int


def _load(browser: Any, url: str, server_pid: int) -> PageLoad:
    from playwright.sync_api import Error

    context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=True)
    page = context.new_page()
    network = _Network(context.new_cdp_session(page))
    page.add_init_script(script=f"({_MARKS})({json.dumps([RESULTS_DONE, VOLUME_DRAWN])})")

    def mark(selector: str, timeout_s: float) -> float | None:
        try:
            page.wait_for_function(
                f"window.__marks[{json.dumps(selector)}] !== undefined",
                polling=50,
                timeout=timeout_s * 1000,
            )
        except Error:
            return None
        return float(page.evaluate(f"window.__marks[{json.dumps(selector)}]")) / 1000

    before = _process_cpu_s(server_pid)
    try:
        page.goto(url)
        results = mark(RESULTS_DONE, 600)
        if results is None:
            raise SystemExit(f"no results drawn within 600 s: {url}")
        server_cpu = _process_cpu_s(server_pid) - before
        rows = int(page.evaluate("document.querySelectorAll('.log-row').length"))
        volume = mark(VOLUME_DRAWN, VOLUME_WAIT_S)
        network.fill(load := Load(seconds=results, server_cpu_s=server_cpu))
    finally:
        context.close()
    return PageLoad(load, volume, _process_cpu_s(server_pid) - before, rows)


def volume_cpu(logs: Path, query: str, end_ns: int, hours: float, runs: int) -> None:
    """The Logs page's volume query for `query` (60 bars over the range) run in this process
    on the store `runs` times: CPU-seconds (what a loaded machine does not change) and wall."""
    from vigil.logs.logql import LogQLEngine

    step_s = -(-int(hours * 3600) // 60)
    volume = f"sum by (level) (count_over_time({query} [{step_s}s]))"
    start_ns = end_ns - int(hours * 3600) * 10**9
    cpu, wall = [], []
    with LogStore.open(logs, _options()) as store:
        engine = LogQLEngine(store)
        for _ in range(runs):
            began, began_cpu = time.perf_counter(), time.process_time()
            result = engine.query(volume, start_ns, end_ns, step_s * 10**9)
            cpu.append(time.process_time() - began_cpu)
            wall.append(time.perf_counter() - began)
    total = sum(float(s.values.sum()) for s in getattr(result.value, "series", ()))
    load1, _, _ = os.getloadavg()
    print(
        f"\n{volume}: {total / 1e6:.1f} M lines counted; in-process median of {runs}: "
        f"{statistics.median(cpu):.2f} CPU-s, {statistics.median(wall):.2f} s wall "
        f"(first {cpu[0]:.2f} CPU-s; load average {load1:.1f}; target p50 < 1 s)"
    )


def _serve(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={data}",
        "--logs.docker-containers=",
        "--otlp.listen-address=",
    ]
    began = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    wait_ok(f"{base}/-/ready", 1800, proc)
    print(f"vigil server ready on the store in {time.perf_counter() - began:.1f} s")
    return proc, base


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="loads per query (cold cache each)")
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--rate", type=int, default=1000, help="lines/s, all containers")
    parser.add_argument("--keep", type=Path, help="a data dir to write once and reuse")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="vigil-bench-logs-ui-") as tmp:
        data = args.keep or Path(tmp)
        logs = data / "logs"
        end_file = data / "bench-end-ns"
        if not end_file.exists():
            end_ns = time.time_ns() // 10**9 * 10**9
            began = time.perf_counter()
            print(f"writing {args.hours:g} h × {args.rate} lines/s into {logs}:")
            written = write_day(logs, args.hours, args.rate, end_ns)
            end_file.write_text(str(end_ns))
            print(f"{written / 1e6:.1f} M lines written in {time.perf_counter() - began:.0f} s")
        end_ns = int(end_file.read_text())
        size = sum(p.stat().st_size for p in logs.rglob("*") if p.is_file())
        print(f"store: {size / 2**20:.0f} MiB on disk")
        volume_cpu(logs, QUERIES[0], end_ns, args.hours, args.runs)
        end_ms = end_ns // 10**6
        span = {"from": str(end_ms - int(args.hours * 3600_000)), "to": str(end_ms)}
        proc, base = _serve(data)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for query in QUERIES:
                    url = f"{base}/logs?{urlencode({'query': query, **span})}"
                    runs = [_load(browser, url, proc.pid) for _ in range(args.runs)]
                    _report(query, args.hours, runs)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(60)


def _report(query: str, hours: float, runs: list[PageLoad]) -> None:
    results = [run.results.seconds for run in runs]
    volumes = [run.volume_s for run in runs if run.volume_s is not None]
    median = statistics.median(results)
    load1, load5, _ = os.getloadavg()
    print(f"\nLogs page, {query} over {hours:g} h ({runs[0].rows} rows shown)")
    print(f"  machine load average now {load1:.1f}, 5 min {load5:.1f} (2 cores)")
    print(
        f"  first page of results drawn: median of {len(runs)} {median:.2f} s "
        f"(min {min(results):.2f}, max {max(results):.2f}); server CPU until then: median "
        f"{statistics.median(run.results.server_cpu_s or 0.0 for run in runs):.2f} s"
    )
    if len(volumes) == len(runs):
        print(
            f"  volume histogram drawn: median {statistics.median(volumes):.2f} s "
            f"(min {min(volumes):.2f}, max {max(volumes):.2f}); server CPU until then: median "
            f"{statistics.median(run.server_cpu_to_volume_s for run in runs):.2f} s"
        )
    else:
        print(
            f"  volume histogram drawn within {VOLUME_WAIT_S:.0f} s in {len(volumes)} of {len(runs)} loads"
        )
    verdict = "met" if median < TARGET_FIRST_PAGE_S else "MISSED"
    print(f"  target: first page < {TARGET_FIRST_PAGE_S} s: {verdict} ({median:.2f} s)")
    print("  API requests (DevTools network timings, last run):")
    for seconds, name, size in runs[-1].results.slowest_api:
        print(f"    {seconds * 1000:7.0f} ms {size / 1024:8.1f} KB {_short(name)}")


if __name__ == "__main__":
    main()
