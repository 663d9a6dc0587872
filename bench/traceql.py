"""TraceQL search over an hour of spans at 100 spans/s (360k spans appended in 512-span
batches, as receivers append them): the issue's query
`{resource.service.name="x" && duration>500ms}` (target p50 < 300 ms) and a few others,
each the median of --runs searches (limit 20, 3 spans per spanset, as Grafana asks), over
two stores: the MemorySpanStore (which hands back the 512-span batches and ignores hints)
and the disk TraceStore after its blocks are cut (8192-span pages, hints applied to the
pages' summaries and spans), then a few TraceQL metrics queries over the hour (step 60s).
Beside them, the anchor from the same run: the same filter
written as a plain Python loop over the memory store's batches (resource names looked up
once per resource, then one test per span). Not a test.

    .venv/bin/python bench/traceql.py [--hours 1] [--rate 100] [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_UNSET,
    MemorySpanStore,
    Resource,
    Span,
    SpanQuerier,
    Spans,
    attribute,
)
from vigil.traces.store import TraceStore
from vigil.traces.traceql import search
from vigil.traces.traceql.metrics import parse_metrics, query_range
from vigil.web.tempo_search import service_stats, traceql_answer

SERVICES = ("x", "shop", "billing", "users", "gateway", "search", "mail", "auth")
START_NS = 1_700_000_000 * 10**9
QUERIES = (
    '{resource.service.name="x" && duration>500ms}',
    "{ status = error }",
    "{ span.http.status_code >= 500 }",
    '{ resource.service.name = "x" } | count() > 3',
    '{ rootServiceName = "gateway" && duration > 1s }',
)
METRICS = (
    "{ } | rate() by (resource.service.name)",
    "{ status = error } | count_over_time() by (name)",
    "{ } | quantile_over_time(duration, 0.5, 0.99) by (span.http.route)",
    "{ kind = server } | histogram_over_time(duration)",
    "{ } | avg_over_time(span.http.status_code) by (resource.service.name)",
)
BATCH = 512


def corpus(hours: float, rate: int, seed: int = 7) -> list[Spans]:
    """Traces of 6 spans — a gateway server span, a service's server span, two internal
    spans and two database calls — at `rate` spans/s, durations log-normal around 40 ms."""
    rng = np.random.default_rng(seed)
    total = int(hours * 3600 * rate)
    traces = total // 6
    resources = [
        Resource((("service.name", s), ("host.name", f"vm-{i}"))) for i, s in enumerate(SERVICES)
    ]
    durations = (rng.lognormal(np.log(40e6), 1.2, total)).astype(np.int64)
    services = rng.integers(1, len(SERVICES), traces)
    services[rng.random(traces) < 0.15] = 0
    routes = rng.integers(0, 40, traces)
    errors = rng.random(total) < 0.02
    spans: list[Span] = []
    for t in range(traces):
        trace = (t + 1).to_bytes(16, "big")
        start = START_NS + t * 6 * 10**9 // rate
        service = resources[services[t]]
        route = f"/api/items{routes[t]}/{{id}}"
        for k in range(6):
            i = t * 6 + k
            parent = bytes(8) if k == 0 else (t * 8 + (1 if k == 1 else 2)).to_bytes(8, "big")
            kind = (
                KIND_SERVER,
                KIND_SERVER,
                KIND_INTERNAL,
                KIND_INTERNAL,
                KIND_CLIENT,
                KIND_CLIENT,
            )[k]
            attributes: tuple[tuple[str, object], ...] = ()
            if k < 2:
                attributes = (
                    ("http.route", route),
                    ("http.status_code", 500 if errors[i] else 200),
                )
            elif k >= 4:
                attributes = (
                    ("db.system", "postgresql"),
                    ("db.statement", "SELECT * FROM items WHERE id = ?"),
                )
            spans.append(
                Span(
                    trace,
                    (t * 8 + k + 1).to_bytes(8, "big"),
                    f"GET {route}" if k < 2 else f"step {k}" if k < 4 else "SELECT items",
                    start + k * 1000,
                    start + k * 1000 + int(durations[i]),
                    parent_span_id=parent,
                    kind=kind,
                    status_code=STATUS_ERROR if errors[i] else STATUS_UNSET,
                    attributes=attributes,  # type: ignore[arg-type]
                    resource=resources[4] if k == 0 else service,
                )
            )
    return [Spans.of(spans[i : i + BATCH]) for i in range(0, len(spans), BATCH)]


def plain_loop(querier: SpanQuerier) -> set[bytes]:
    """The anchor: `{resource.service.name="x" && duration>500ms}` as a Python loop."""
    found: set[bytes] = set()
    for batch in querier.select():
        services = [attribute(r.attributes, "service.name") for r in batch.resources]
        resource, duration = batch.resource.tolist(), batch.duration_ns.tolist()
        for i in range(len(batch)):
            if services[resource[i]] == "x" and duration[i] > 500_000_000:
                found.add(batch.trace_id(i))
    return found


def median_ms(run: Callable[[], object], runs: int) -> float:
    """Median wall time; with `cpu_ms` beside it, as a loaded machine stretches wall time."""
    times, cpus = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), time.thread_time()
        run()
        times.append(time.perf_counter() - started)
        cpus.append(time.thread_time() - cpu)
    LAST_CPU_MS[0] = statistics.median(cpus) * 1000
    return statistics.median(times) * 1000


LAST_CPU_MS = [0.0]  # the CPU median of the last median_ms
END_NS = [0]  # the end of the corpus's range


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=1.0)
    parser.add_argument("--rate", type=int, default=100)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    started = time.perf_counter()
    batches = corpus(args.hours, args.rate)
    end = START_NS + int(args.hours * 3600 * 10**9) + 60 * 10**9
    END_NS[0] = end
    later = (end + 4 * 3600 * 10**9) / 1e9
    memory = MemorySpanStore()
    with tempfile.TemporaryDirectory() as tmp:
        disk = TraceStore.open(Path(tmp) / "traces", clock=lambda: later)
        try:
            for batch in batches:
                memory.append(batch)
                disk.append(batch)
            disk.tick()
            built = time.perf_counter() - started
            print(
                f"{sum(map(len, batches))} spans, {len(batches)} batches (built in {built:.0f} s)"
            )
            hits = plain_loop(memory.querier(START_NS, end))
            for name, store in (("memory", memory), ("disk", disk)):
                print(f"--- {name} store")
                run(store.querier(START_NS, end), hits, args.runs)
            loop_ms = median_ms(lambda: plain_loop(memory.querier(START_NS, end)), args.runs)
            anchor = f"anchor: plain Python loop, {QUERIES[0]}"
            print(f"{anchor:52} {loop_ms:8.0f} {len(hits):7} {LAST_CPU_MS[0]:8.0f}")
        finally:
            disk.close()


def run(querier: SpanQuerier, hits: set[bytes], runs: int) -> None:
    ours = {r.trace_id for r in search(querier, QUERIES[0], limit=len(hits) + 1)}
    assert ours == hits, (len(ours), len(hits))
    select_ms = median_ms(lambda: list(querier.select()), runs)
    trace_ms = median_ms(lambda: querier.trace(next(iter(hits))), runs)
    print(f"select() of every span p50 {select_ms:.0f} ms; one trace() p50 {trace_ms:.1f} ms")
    print(f"{'query':52} {'p50 ms':>8} {'traces':>7} {'CPU ms':>8}")
    for query in QUERIES:
        found = len(search(querier, query))
        wall = median_ms(lambda q=query: search(querier, q), runs)
        print(f"{query:52} {wall:8.0f} {found:7} {LAST_CPU_MS[0]:8.0f}")
    tempo_ms = median_ms(lambda: tempo_answer(querier, QUERIES[0]), runs)
    print(
        f"{'the first, answered as /api/search (serviceStats)':52} {tempo_ms:8.0f} {'':7} {LAST_CPU_MS[0]:8.0f}"
    )
    print(
        f"{'metrics query_range over the hour, step 60s':52} {'p50 ms':>8} {'series':>7} {'CPU ms':>8}"
    )
    for text in METRICS:
        query = parse_metrics(text)
        series = len(query_range(querier, query, START_NS, END_NS[0], 60 * 10**9))
        wall = median_ms(
            lambda q=query: query_range(querier, q, START_NS, END_NS[0], 60 * 10**9), runs
        )
        print(f"{text:52} {wall:8.0f} {series:7} {LAST_CPU_MS[0]:8.0f}")


def tempo_answer(querier: SpanQuerier, query: str) -> dict[str, object]:
    """Tempo's `/api/search` answer, serviceStats read from the whole traces, as the API does."""
    found = search(querier, query)
    return traceql_answer(found, service_stats(querier, found))


if __name__ == "__main__":
    main()
