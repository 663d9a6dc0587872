"""Span store storage and trace-by-id latency: bytes per stored span on disk (pages, trace
lookup, index and meta included) beside zstd-3 of the same spans as OTLP protobuf (each
export request compressed alone, as an exporter sends it, and the whole corpus as one
frame); then trace-by-id latency over a week of blocks, with the whole week as the range
and with Grafana's narrow time hints; and spans/s through `TraceStore.append`. The corpus
is generated: a Spring Boot API calling a Python service, PostgreSQL and Redis, with the
OTel Java agent's resource and span attributes, 2% errors with exception events. Not a
test: figures are printed, never asserted.

    .venv/bin/python bench/traces_store.py [--traces 20000] [--week-spans 150000]
"""

from __future__ import annotations

import argparse
import itertools
import os
import resource
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import zstandard

from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    Event,
    Resource,
    Scope,
    Span,
    Spans,
)
from vigil.traces.store import DAY_NS, TraceStore, TraceStoreOptions
from vigil.web.tempo_trace import trace_protobuf

HOUR_NS = 3600 * 10**9
T0_NS = 1_699_920_000 * 10**9
EXPORT_BATCH = 512  # the OTel SDKs' BatchSpanProcessor default

ROUTES = [
    ("GET", "/api/appointments/{id}"),
    ("POST", "/api/appointments"),
    ("GET", "/api/patients/{id}/history"),
    ("DELETE", "/api/appointments/{id}"),
    ("GET", "/actuator/health"),
]
SQL = [
    "select a1_0.id,a1_0.patient_id,a1_0.starts_at from appointment a1_0 where a1_0.id=?",
    "insert into appointment (patient_id,starts_at,doctor_id) values (?,?,?)",
    "select p1_0.id,p1_0.name,p1_0.born from patient p1_0 where p1_0.id=?",
    "update appointment set cancelled=? where id=?",
]


def _resource(service: str, language: str, rng: np.random.Generator) -> Resource:
    return Resource(
        (
            ("service.name", service),
            ("service.version", "1.4.2"),
            ("service.instance.id", rng.bytes(16).hex()),
            ("deployment.environment", "production"),
            ("host.name", "vm-clinic-1"),
            ("host.arch", "amd64"),
            ("os.type", "linux"),
            ("container.id", rng.bytes(32).hex()),
            ("process.pid", int(rng.integers(1, 60000))),
            (
                "process.runtime.name",
                "OpenJDK Runtime Environment" if language == "java" else "cpython",
            ),
            ("process.runtime.version", "21.0.5+11-LTS" if language == "java" else "3.11.2"),
            ("telemetry.sdk.name", "opentelemetry"),
            ("telemetry.sdk.language", language),
            ("telemetry.sdk.version", "1.44.1" if language == "java" else "1.28.2"),
            ("telemetry.distro.name", "opentelemetry-java-instrumentation"),
        )
    )


def generate(traces: int, start_ns: int, step_ns: int, seed: int = 1) -> Iterator[list[Span]]:
    """Traces in start order; each a list of spans of up to three services."""
    rng = np.random.default_rng(seed)
    api = _resource("clinic-api", "java", rng)
    booking = _resource("booking", "python", rng)
    web = Scope("io.opentelemetry.spring-webmvc-6.0", "2.10.0-alpha")
    jdbc = Scope("io.opentelemetry.jdbc", "2.10.0-alpha")
    redis = Scope("io.opentelemetry.lettuce-5.1", "2.10.0-alpha")
    client = Scope("io.opentelemetry.java-http-client", "2.10.0-alpha")
    flask = Scope("opentelemetry.instrumentation.flask", "0.49b2")
    for i in range(traces):
        t = start_ns + i * step_ns + int(rng.integers(0, step_ns))
        tid = rng.bytes(16)
        method, route = ROUTES[int(rng.integers(len(ROUTES)))]
        health = route == "/actuator/health"
        failed = rng.random() < 0.02
        key = int(rng.integers(1, 200_000))
        duration = int(rng.lognormal(17, 1)) if not health else int(rng.lognormal(13, 0.5))
        root_id = rng.bytes(8)
        status = 500 if failed else (200 if method != "POST" else 201)
        spans = [
            Span(
                tid,
                root_id,
                f"{method} {route}",
                t,
                t + duration,
                kind=KIND_SERVER,
                status_code=STATUS_ERROR if failed else 0,
                attributes=(
                    ("http.request.method", method),
                    ("http.route", route),
                    ("url.path", route.replace("{id}", str(key))),
                    ("url.scheme", "http"),
                    ("server.address", "clinic.example.com"),
                    ("server.port", 8080),
                    ("network.protocol.version", "1.1"),
                    (
                        "client.address",
                        f"10.0.{int(rng.integers(0, 4))}.{int(rng.integers(1, 255))}",
                    ),
                    ("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"),
                    ("http.response.status_code", status),
                    ("thread.id", int(rng.integers(30, 240))),
                    ("thread.name", f"http-nio-8080-exec-{int(rng.integers(1, 10))}"),
                ),
                events=(
                    (
                        Event(
                            t + duration - 1000,
                            "exception",
                            (
                                (
                                    "exception.type",
                                    "org.springframework.dao.DataAccessResourceFailureException",
                                ),
                                (
                                    "exception.message",
                                    f"could not obtain connection for appointment {key}",
                                ),
                                (
                                    "exception.stacktrace",
                                    "org.springframework.dao.DataAccessResourceFailureException: ...\n"
                                    "\tat org.hibernate.engine.jdbc.spi.SqlExceptionHelper.convert(...)\n"
                                    "\tat com.example.clinic.BookingService.book(BookingService.java:88)",
                                ),
                            ),
                        ),
                    )
                    if failed
                    else ()
                ),
                resource=api,
                scope=web,
            )
        ]
        if health:
            yield spans
            continue
        at = t + duration // 20
        for k in range(int(rng.integers(1, 4))):
            sql = SQL[int(rng.integers(len(SQL)))]
            length = int(rng.lognormal(14, 0.7))
            spans.append(
                Span(
                    tid,
                    rng.bytes(8),
                    f"{sql.split()[0].upper()} clinic.appointment",
                    at,
                    at + length,
                    parent_span_id=root_id,
                    kind=KIND_CLIENT,
                    attributes=(
                        ("db.system", "postgresql"),
                        ("db.name", "clinic"),
                        ("db.user", "clinic"),
                        ("db.connection_string", "postgresql://db:5432"),
                        ("db.statement", sql),
                        ("db.operation", sql.split()[0].upper()),
                        ("db.sql.table", "appointment"),
                        ("server.address", "db"),
                        ("server.port", 5432),
                        ("thread.id", int(rng.integers(30, 240))),
                    ),
                    resource=api,
                    scope=jdbc,
                )
            )
            at += length + 50_000 * k
        spans.append(
            Span(
                tid,
                rng.bytes(8),
                "GET",
                at,
                at + 300_000,
                parent_span_id=root_id,
                kind=KIND_CLIENT,
                attributes=(
                    ("db.system", "redis"),
                    ("db.statement", f"GET patient:{key}"),
                    ("server.address", "redis"),
                    ("server.port", 6379),
                ),
                resource=api,
                scope=redis,
            )
        )
        if method != "GET":
            call_id = rng.bytes(8)
            length = duration // 3
            spans += [
                Span(
                    tid,
                    call_id,
                    "POST",
                    at,
                    at + length,
                    parent_span_id=root_id,
                    kind=KIND_CLIENT,
                    attributes=(
                        ("http.request.method", "POST"),
                        ("url.full", "http://booking:5000/slots/reserve"),
                        ("server.address", "booking"),
                        ("server.port", 5000),
                        ("http.response.status_code", 200),
                    ),
                    resource=api,
                    scope=client,
                ),
                Span(
                    tid,
                    rng.bytes(8),
                    "POST /slots/reserve",
                    at + 200_000,
                    at + length - 200_000,
                    parent_span_id=call_id,
                    kind=KIND_SERVER,
                    attributes=(
                        ("http.method", "POST"),
                        ("http.route", "/slots/reserve"),
                        ("http.target", "/slots/reserve"),
                        ("http.status_code", 200),
                        ("net.host.port", 5000),
                        ("http.user_agent", "Java-http-client/21.0.5"),
                    ),
                    resource=booking,
                    scope=flask,
                ),
                Span(
                    tid,
                    rng.bytes(8),
                    "reserve_slot",
                    at + 300_000,
                    at + length - 400_000,
                    parent_span_id=call_id,
                    kind=KIND_INTERNAL,
                    attributes=(
                        ("code.function", "reserve_slot"),
                        ("code.namespace", "booking.slots"),
                    ),
                    resource=booking,
                    scope=flask,
                ),
            ]
        yield spans


def export_batches(traces: Iterator[list[Span]]) -> Iterator[Spans]:
    """Spans as the services' exporters send them: per service, 512 at a time."""
    buffers: dict[str, list[Span]] = {}
    for spans in traces:
        for span in spans:
            buffer = buffers.setdefault(span.service_name, [])
            buffer.append(span)
            if len(buffer) == EXPORT_BATCH:
                yield Spans.of(buffer)
                buffer.clear()
    for buffer in buffers.values():
        if buffer:
            yield Spans.of(buffer)


def _blocks_bytes(store: TraceStore) -> int:
    return sum(f.stat().st_size for b in store.blocks.blocks for f in b.path.iterdir())


def _lookups(
    name: str, lookup: Callable[[bytes, int], Spans], picks: list[tuple[bytes, int]]
) -> None:
    """Wall and CPU time per lookup, and where the slowest 1% of them waited: switched out
    by the scheduler for another process (involuntary switches), blocked on a lock, the GIL
    or I/O (voluntary switches), or reading mapped pages from disk (major faults)."""
    walls, cpus, waits = [], [], []
    found = 0
    for tid, t in picks:
        before = resource.getrusage(resource.RUSAGE_THREAD)
        started, cpu = time.perf_counter(), time.thread_time()
        found += len(lookup(tid, t))
        walls.append(time.perf_counter() - started)
        cpus.append(time.thread_time() - cpu)
        after = resource.getrusage(resource.RUSAGE_THREAD)
        waits.append(
            (
                after.ru_nivcsw - before.ru_nivcsw,
                after.ru_nvcsw - before.ru_nvcsw,
                after.ru_majflt - before.ru_majflt,
            )
        )
    p50, p99 = np.percentile(np.array(walls) * 1000, [50, 99])
    c50, c99 = np.percentile(np.array(cpus) * 1000, [50, 99])
    print(f"{name:38}{p50:10.2f}{p99:10.2f}{c50:10.2f}{c99:10.2f}{found / len(picks):8.1f}")
    slowest = np.argsort(walls)[-max(1, len(walls) // 100) :]
    involuntary, voluntary, faults = (sum(waits[i][k] for i in slowest) for k in range(3))
    print(
        f"{'':4}slowest {len(slowest)}: {involuntary} involuntary and {voluntary} voluntary "
        f"switches, {faults} major faults (load average {os.getloadavg()[0]:.1f})"
    )


def _picks(ids: list[tuple[bytes, int]], lookups: int) -> list[tuple[bytes, int]]:
    rng = np.random.default_rng(9)
    return [ids[int(i)] for i in rng.integers(0, len(ids), lookups)]


HEADER = f"{'trace by id (wall, then CPU)':38}{'p50 ms':>10}{'p99 ms':>10}{'cpu p50':>10}{'cpu p99':>10}{'spans':>8}"


def storage(traces: int, lookups: int) -> None:
    """The corpus as one store's block (pages as big as a busy 2 h block's), then lookups
    in it."""
    generated = list(generate(traces, T0_NS, 20 * 10**6))
    ids = [(t[0].trace_id, t[0].start_ns) for t in generated]
    batches = list(export_batches(iter(generated)))
    spans = sum(len(b) for b in batches)
    protos = [trace_protobuf(b) for b in batches]
    raw = sum(len(p) for p in protos)
    per_request = sum(len(zstandard.ZstdCompressor(level=3).compress(p)) for p in protos)
    whole = len(zstandard.ZstdCompressor(level=3).compress(b"".join(protos)))
    clock = [T0_NS / 1e9]
    with (
        tempfile.TemporaryDirectory() as tmp,
        TraceStore.open(
            Path(tmp), TraceStoreOptions(retention_ns=0), clock=lambda: clock[0]
        ) as store,
    ):
        started = time.thread_time()
        for batch in batches:
            store.append(batch)
        append_s = time.thread_time() - started
        wal = store.wal.size_bytes()
        clock[0] = (T0_NS + 2 * DAY_NS) / 1e9
        started = time.thread_time()
        store.tick()
        flush_s = time.thread_time() - started
        stored = _blocks_bytes(store)
        blocks = store.blocks.blocks
        pages = sum(len(b.pages) for b in blocks)
        print(
            f"corpus: {traces} traces, {spans} spans in {len(batches)} export requests of "
            f"<= {EXPORT_BATCH}; {len(blocks)} block, {pages} pages of {spans / pages:.0f} spans"
        )
        print(f"{'':38}{'bytes/span':>12}{'vs store':>10}")
        rows = [
            ("OTLP protobuf, raw", raw),
            ("OTLP protobuf, zstd-3 per request", per_request),
            ("OTLP protobuf, zstd-3 whole corpus", whole),
            ("vigil blocks (pages+lookup+index)", stored),
        ]
        for name, size in rows:
            print(f"{name:38}{size / spans:12.1f}{size / stored:9.2f}x")
        print(
            f"store / zstd-3 whole corpus: {stored / whole:.2f}x (target <= 0.80x); "
            f"store / zstd-3 per request: {stored / per_request:.2f}x"
        )
        print(
            f"append: {spans / append_s:,.0f} spans per CPU second (WAL {wal / spans:.1f} "
            f"bytes/span); cut into blocks: {spans / flush_s:,.0f} spans per CPU second"
        )
        print(HEADER)
        now = T0_NS + 2 * DAY_NS
        _lookups(
            "corpus block, known ids",
            lambda tid, t: store.querier(now - 7 * DAY_NS, now).trace(tid),
            _picks(ids, lookups),
        )


def latency(week_spans: int, lookups: int) -> None:
    """A week of spans cut into 2 h blocks (the finished days compacted) as the server's
    tick does, then trace-by-id lookups of known and unknown ids."""
    traces_per_block = max(1, week_spans // 5 // (7 * 12))
    step = 2 * HOUR_NS // traces_per_block
    clock = [T0_NS / 1e9]
    ids: list[tuple[bytes, int]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        TraceStore.open(
            Path(tmp), TraceStoreOptions(retention_ns=0), clock=lambda: clock[0]
        ) as store,
    ):
        total = 0
        for block in range(7 * 12):
            start = T0_NS + block * 2 * HOUR_NS
            traces = list(generate(traces_per_block, start, step, seed=block + 2))
            ids += [(t[0].trace_id, t[0].start_ns) for t in traces]
            for batch in export_batches(iter(traces)):
                store.append(batch)
                total += len(batch)
            clock[0] = (start + 4 * HOUR_NS) / 1e9
            store.tick()
        now = T0_NS + 7 * DAY_NS
        picks = _picks(ids, lookups)
        blocks = store.blocks.blocks
        print(
            f"week: {total} spans, {len(ids)} traces in {len(blocks)} blocks "
            f"(levels {sorted({b.meta.level for b in blocks})}), "
            f"{sum(len(b.pages) for b in blocks)} pages"
        )
        print(HEADER)
        week = store.querier(now - 7 * DAY_NS, now)
        _lookups("whole week, known ids", lambda tid, t: week.trace(tid), picks)
        _lookups(
            "Grafana hints (+-30 min), known",
            lambda tid, t: store.querier(t - HOUR_NS // 2, t + HOUR_NS // 2).trace(tid),
            picks,
        )
        _lookups("whole week, unknown ids", lambda tid, t: week.trace(tid[::-1]), picks)
        fresh = list(export_batches(generate(2000, now, 10**6, seed=99)))
        with _appending(store, fresh):
            _lookups("whole week, a thread appending", lambda tid, t: week.trace(tid), picks)
        print("target: p99 < 50 ms")


@contextmanager
def _appending(store: TraceStore, batches: list[Spans]) -> Iterator[None]:
    """Another thread appending `batches` over and over, as fast as it can (a busy
    receiver), while the block runs: its GIL holds and the head's lock show as voluntary
    switches of the lookups."""
    stop = threading.Event()

    def ingest() -> None:
        for batch in itertools.cycle(batches):
            if stop.is_set():
                return
            store.append(batch)

    thread = threading.Thread(target=ingest, name="bench-append")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--week-spans", type=int, default=150_000)
    parser.add_argument("--lookups", type=int, default=500)
    args = parser.parse_args()
    storage(args.traces, args.lookups)
    latency(args.week_spans, args.lookups)


if __name__ == "__main__":
    main()
