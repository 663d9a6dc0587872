"""Log store storage and push throughput: bytes per line on disk (block index, metadata,
dictionaries and chunks included) in 2 h blocks and once compacted into a day's block, with
where they go, beside the raw text, Loki's default codec (snappy over 256 KiB blocks) and
plain zstd-3 of the whole text, on a generated Spring Boot-like corpus (in four streams, and
over 500 small ones) and on this machine's /var/log, each spread over a few hours; then lines/s through `LogStore.push` (WAL written, chunks cut); then
Loki's JSON push end to end over HTTP into a `vigil server` (decode, level discovery, WAL,
chunks): lines/s of wall time and per CPU-second of the server, beside the issue's target of
100k lines/s per core (no Loki is installable to run beside it). With the bytes, a line
filter `|= "literal"` over every chunk of the 2 h blocks and of the day's block: MB of raw
text per CPU-second of the scanning thread (best of three; the issue asks 300 MB/s per
core), and the load average, since the machine may be shared. Not a test: figures are
printed, never asserted.

    .venv/bin/python bench/logs.py [--lines 300000] [--var-log-mb 64] [--http-lines 300000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cramjam
import httpx
import numpy as np
import orjson
import zstandard

from vigil.logs import Entries, Lines
from vigil.logs.block import CHUNKS_FILE
from vigil.logs.compact import DAY_NS
from vigil.logs.limits import LogLimits
from vigil.logs.logql import ast
from vigil.logs.logql._linefilter import LineFilterScan
from vigil.logs.logql.prefilter import filter_needles
from vigil.logs.store import LogStore, LogStoreOptions
from vigil.model import Labels

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.agent import cpu_seconds, free_port

T0_NS = 1_699_920_000 * 10**9  # a day's start: the corpora's blocks compact into one
SNAPPY_BLOCK = 256 * 1024
BLOCK_NS = 2 * 3600 * 10**9
BATCH = 1000

LEVELS = ["INFO"] * 8 + ["DEBUG", "WARN"] + ["ERROR"] * 1
CLASSES = [
    "c.e.clinic.web.AppointmentController",
    "c.e.clinic.service.BookingService",
    "o.s.web.servlet.DispatcherServlet",
    "c.e.clinic.repo.PatientRepository",
    "o.h.engine.jdbc.spi.SqlExceptionHelper",
    "c.z.hikari.pool.HikariPool",
]
MESSAGES = [
    "Appointment {a} booked for user {u} from {ip} in {ms} ms",
    "GET /api/appointments/{a} -> 200 ({ms} ms) user={u} ip={ip}",
    "Cancelled appointment {a} (reason=patient_request) user={u}",
    "Slow query on appointments took {ms} ms: select * from appointment where user_id={u}",
    "Completed initialization in {ms} ms",
    "HikariPool-1 - Connection is not available, request timed out after {ms}ms.",
]


@dataclass(frozen=True, slots=True)
class Corpus:
    name: str
    streams: list[tuple[Labels, list[bytes]]]
    literal: str  # what the line filter looks for
    batch: int = BATCH  # lines of one stream per push

    @property
    def lines(self) -> int:
        return sum(len(lines) for _, lines in self.streams)

    @property
    def text(self) -> bytes:
        return b"".join(b"\n".join(lines) + b"\n" for _, lines in self.streams)


def spring_corpus(n: int, seed: int = 1) -> Corpus:
    rng = np.random.default_rng(seed)
    by_level: dict[str, list[bytes]] = {}
    ms = 0
    for i in range(n):
        ms += int(rng.integers(1, 20))
        level = LEVELS[int(rng.integers(len(LEVELS)))]
        k = int(rng.integers(len(MESSAGES)))
        message = MESSAGES[k].format(
            a=int(rng.integers(1, 200_000)),
            u=int(rng.integers(1, 5_000)),
            ip=f"10.0.{int(rng.integers(0, 8))}.{int(rng.integers(1, 255))}",
            ms=int(rng.exponential(40)),
        )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(1_700_000_000 + ms // 1000))
        thread = f"nio-8080-exec-{int(rng.integers(1, 11))}"
        line = (
            f"{stamp}.{ms % 1000:03d}  {level:>5} 4711 --- [{thread:>15}] "
            f"{CLASSES[k]:<40} : {message} traceId={rng.integers(1 << 62):016x} i={i}"
        )
        by_level.setdefault(level, []).append(line.encode())
    streams = [
        (Labels.from_dict({"job": "clinic", "level": level.lower()}), lines)
        for level, lines in sorted(by_level.items())
    ]
    return Corpus("Spring Boot-like", streams, "timed out")


def small_streams_corpus(n: int, pods: int = 500) -> Corpus:
    """The Spring Boot-like lines spread over `pods` streams of one app (lines 30 s apart,
    pushed every 10 minutes: each pod's chunks stay small, where zstd dictionaries per
    label-name set pay)."""
    lines = [line for _, part in spring_corpus(n).streams for line in part]
    streams = [
        (Labels.from_dict({"job": "clinic", "pod": f"clinic-{k:03d}"}), lines[k::pods])
        for k in range(pods)
    ]
    return Corpus(f"Spring Boot-like over {pods} small streams", streams, "timed out", batch=20)


def var_log_corpus(limit_bytes: int) -> Corpus:
    streams: list[tuple[Labels, list[bytes]]] = []
    total = 0
    for root, _, files in os.walk("/var/log"):
        for name in sorted(files):
            path = Path(root, name)
            if path.suffix in (".gz", ".xz", ".zst", ".bz2") or total >= limit_bytes:
                continue
            try:
                data = path.read_bytes()[: limit_bytes - total]
            except OSError:
                continue
            if not data or b"\0" in data[:4096]:  # binary (wtmp, journal)
                continue
            lines = data.splitlines()
            streams.append((Labels.from_dict({"filename": str(path)}), lines))
            total += len(data)
    return Corpus("/var/log", streams, "install")


def snappy_blocks(text: bytes) -> int:
    return sum(
        len(cramjam.snappy.compress_raw(text[i : i + SNAPPY_BLOCK]))
        for i in range(0, len(text), SNAPPY_BLOCK)
    )


def _pushes(corpus: Corpus, step_ns: int, t0_ns: int = T0_NS) -> Iterator[list[Entries]]:
    """Each stream in batches of `corpus.batch` lines, timestamps `step_ns` apart from
    `t0_ns`."""
    for labels, lines in corpus.streams:
        for start in range(0, len(lines), corpus.batch):
            part = lines[start : start + corpus.batch]
            ts = t0_ns + (start + np.arange(len(part), dtype=np.int64)) * step_ns
            yield [Entries(labels, ts, Lines.of(part))]


def _options() -> LogStoreOptions:
    limits = LogLimits(
        ingestion_rate_mb=1e9,
        ingestion_burst_size_mb=1e9,
        max_line_size_truncate=True,
        reject_old_samples=False,
        max_global_streams_per_user=0,
    )
    return LogStoreOptions(limits=limits, retention_ns=0)


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


@dataclass(frozen=True, slots=True)
class Stored:
    blocks: int  # bytes of every file of the 2 h blocks
    compacted: int  # of the day's block
    parts: dict[str, int]  # where the day's block's bytes go
    rate: float  # push lines/s
    lines: int
    filter_blocks: float  # MB of raw text per CPU-second of `|= literal` over the 2 h blocks
    filter_compacted: float  # over the day's block


def _parts(store: LogStore) -> dict[str, int]:
    parts = dict.fromkeys(("lines", "timestamps+sizes", "metadata", "chunk headers"), 0)
    for block in store.blocks.blocks:
        for _, chunks in block.streams():
            for chunk in chunks:
                header, columns, lines, meta = chunk.section_bytes()
                parts["chunk headers"] += header
                parts["timestamps+sizes"] += columns
                parts["lines"] += lines
                parts["metadata"] += meta
        chunk_file = (block.path / CHUNKS_FILE).stat().st_size
        parts["index, meta, dictionaries"] = _dir_bytes(block.path) - chunk_file
    return parts


FILTER_RUNS = 3


def filter_rate(store: LogStore, literal: str) -> float:
    """MB of raw line bytes per CPU-second of this thread for `|= literal` over every chunk
    of the store's blocks (decompressed when the chunk holds the literal, lines kept)."""
    line_filter = ast.LineFilter("|=", (ast.FilterTerm(literal),))
    scan, needles = LineFilterScan(line_filter), filter_needles(line_filter)
    chunks = [
        (labels, chunk)
        for block in store.blocks.blocks
        for labels, chunks in block.select([])
        for chunk in chunks
    ]
    raw = sum(chunk.raw_bytes for _, chunk in chunks)
    best = float("inf")
    for _ in range(FILTER_RUNS):
        started = time.thread_time()
        for labels, chunk in chunks:
            entries = chunk.entries(labels, needles)
            if entries is not None:
                scan.keep(entries.lines)
        best = min(best, time.thread_time() - started)
    return raw / 1e6 / best


def store_corpus(corpus: Corpus, step_ns: int) -> Stored:
    batches = list(_pushes(corpus, step_ns))
    newest = max(int(p[0].timestamps[-1]) for p in batches)
    now = [newest / 1e9]
    with (
        tempfile.TemporaryDirectory() as tmp,
        LogStore.open(tmp, _options(), clock=lambda: now[0]) as store,
    ):
        started = time.perf_counter()
        stored = 0
        for push in batches:
            stored += store.push(push).accepted_lines
        seconds = time.perf_counter() - started
        window = store.head.options.out_of_order_window_ns
        for cutoff in range(T0_NS + BLOCK_NS, newest + 2 * BLOCK_NS, BLOCK_NS):
            now[0] = (cutoff + window) / 1e9  # one 2 h block per tick, as a server cuts them
            store.tick()
        size = sum(_dir_bytes(b.path) for b in store.blocks.blocks)
        filter_blocks = filter_rate(store, corpus.literal)
        now[0] = (newest // DAY_NS + 1) * DAY_NS / 1e9 + 4 * 3600
        store.tick()
        compacted = sum(_dir_bytes(b.path) for b in store.blocks.blocks)
        parts = _parts(store)
        filter_compacted = filter_rate(store, corpus.literal)
    return Stored(size, compacted, parts, stored / seconds, stored, filter_blocks, filter_compacted)


def report(corpus: Corpus, step_ns: int) -> None:
    text = corpus.text
    raw, n = len(text), corpus.lines
    snappy = snappy_blocks(text)
    zstd3 = len(zstandard.ZstdCompressor(level=3).compress(text))
    stored = store_corpus(corpus, step_ns)
    print(
        f"\n{corpus.name}: {n} lines in {len(corpus.streams)} streams, {raw / n:.0f} bytes/line raw"
    )
    print(f"  {'':<28}{'bytes/line':>12}{'vs raw':>10}{'vs snappy':>11}")
    for name, size in [
        ("raw text", raw),
        ("snappy, 256 KiB blocks", snappy),
        ("zstd -3, whole text", zstd3),
        ("vigil 2 h blocks", stored.blocks),
        ("vigil compacted to 1 d", stored.compacted),
    ]:
        print(f"  {name:<28}{size / n:>12.1f}{size / raw:>10.3f}{size / snappy:>11.3f}")
    print(
        "  where the compacted bytes go: "
        + ", ".join(f"{name} {size / n:.2f}" for name, size in stored.parts.items())
    )
    print(
        f'  |= "{corpus.literal}" over every chunk: {stored.filter_blocks:,.0f} MB/s per'
        f" CPU-second in 2 h blocks, {stored.filter_compacted:,.0f} compacted"
        f" (load average {os.getloadavg()[0]:.1f})"
    )
    print(
        f"  push through LogStore.push: {stored.rate:,.0f} lines/s ({stored.lines} lines,"
        f" {corpus.batch}/push)"
    )


def json_bodies(corpus: Corpus, step_ns: int) -> list[bytes]:
    """Loki v1 JSON push bodies of BATCH lines of one stream each, as promtail sends them,
    ending now (older lines would be refused as too old)."""
    t0_ns = time.time_ns() - max(len(lines) for _, lines in corpus.streams) * step_ns
    return [
        orjson.dumps(
            {
                "streams": [
                    {
                        "stream": entries.labels.to_dict(),
                        "values": [
                            [str(t), line.decode()]
                            for t, line in zip(
                                entries.timestamps.tolist(), entries.lines, strict=True
                            )
                        ],
                    }
                    for entries in push
                ]
            }
        )
        for push in _pushes(corpus, step_ns, t0_ns)
    ]


SERVER = """
import socket, sys
import uvicorn
from starlette.applications import Starlette
from bench.logs import _options
from vigil.logs.store import LogStore
from vigil.web.ingest.loki import LokiPush

path, port = sys.argv[1], int(sys.argv[2])
store = LogStore.open(path, _options())
app = Starlette(routes=list(LokiPush(lambda: store).routes()))
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind(("127.0.0.1", port))
server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off", access_log=False))
server.run(sockets=[sock])
"""
WARMUP_PUSHES = 5


def http_push(corpus: Corpus, step_ns: int) -> None:
    """Loki's push route (as the server mounts it) on uvicorn in a process of its own, over a
    LogStore with the bench's limits (the server's defaults would rate-limit at 4 MB/s)."""
    bodies = json_bodies(corpus, step_ns)
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.Popen([sys.executable, "-c", SERVER, tmp, str(port)])
        try:
            url = f"http://127.0.0.1:{port}/loki/api/v1/push"
            headers = {"Content-Type": "application/json"}
            with httpx.Client(timeout=60) as client:
                for _ in range(300):
                    try:
                        client.post(url, content=bodies[0], headers=headers).raise_for_status()
                        break
                    except httpx.TransportError:
                        time.sleep(0.1)
                for body in bodies[1:WARMUP_PUSHES]:
                    client.post(url, content=body, headers=headers).raise_for_status()
                cpu0, started = cpu_seconds(proc.pid), time.perf_counter()
                for body in bodies[WARMUP_PUSHES:]:
                    client.post(url, content=body, headers=headers).raise_for_status()
                wall = time.perf_counter() - started
                cpu = cpu_seconds(proc.pid) - cpu0
        finally:
            proc.terminate()
            proc.wait()
    lines = (len(bodies) - WARMUP_PUSHES) * BATCH
    print(
        f"\nLoki JSON push over HTTP (uvicorn, one client), {corpus.name}, {BATCH} lines/request:"
        f" {lines / wall:,.0f} lines/s wall, {lines / cpu:,.0f} lines per server CPU-second"
        " (target: 100,000 per core)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=300_000)
    parser.add_argument("--var-log-mb", type=int, default=64)
    parser.add_argument("--http-lines", type=int, default=300_000, help="0: skip")
    args = parser.parse_args()
    report(spring_corpus(args.lines), 100_000_000)
    report(small_streams_corpus(args.lines), 30 * 10**9)
    report(var_log_corpus(args.var_log_mb << 20), 100_000_000)
    if args.http_lines:
        http_push(spring_corpus(args.http_lines), 10_000_000)


if __name__ == "__main__":
    main()
