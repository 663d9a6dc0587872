"""Span metrics: spans per second through the metrics generator's observe path (guards,
span metrics, service graph, slow SQL), in batches as an SDK's batch exporter sends them,
beside two anchors from the same run on the same batches:
- the OTLP/HTTP receiver's protobuf decode of those batches (`vigil.traces.otlp`), the
  step before it on the ingest path (the issue's end-to-end target is 20k spans/s per core);
- a plain Python loop counting each span into a dict by (service, name, kind, status), what
  the numpy group-by replaces.
Each batch is a request's worth of spans: a server span with a route, internal spans and
database client spans with statements, over `--routes` routes and 3 services. Not a test.

    .venv/bin/python bench/spanmetrics.py [--batches 200] [--batch 512] [--routes 50]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PbResource
from opentelemetry.proto.trace.v1 import trace_pb2 as pb

from vigil.model.clock import ManualClock
from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_UNSET,
    Resource,
    Span,
    Spans,
)
from vigil.traces.otlp import decode_protobuf
from vigil.traces.otlp_columns import SpanColumns
from vigil.traces.spanmetrics_generator import MetricsGenerator
from vigil.tsdb.db import TSDB

SERVICES = ("shop", "billing", "users")
START_NS = 1_700_000_000 * 10**9


def batch(k: int, size: int, routes: int) -> list[Span]:
    spans: list[Span] = []
    n = 0
    while len(spans) < size:
        trace = (k * 1_000_000 + n).to_bytes(16, "big")
        service = SERVICES[n % len(SERVICES)]
        resource = Resource((("service.name", service), ("host.name", "vm-1")))
        route = f"/api/v1/items{n % routes}/{{id}}"
        root = (n * 8 + 1).to_bytes(8, "big")
        start = START_NS + n * 1_000_000
        spans.append(
            Span(
                trace,
                root,
                f"GET {route}",
                start,
                start + (n % 97 + 1) * 1_000_000,
                kind=KIND_SERVER,
                status_code=STATUS_ERROR if n % 50 == 0 else STATUS_UNSET,
                attributes=(
                    ("http.request.method", "GET"),
                    ("http.route", route),
                    ("url.path", route.replace("{id}", str(n))),
                    ("http.response.status_code", 500 if n % 50 == 0 else 200),
                    ("user_agent.original", "Mozilla/5.0"),
                ),
                resource=resource,
            )
        )
        for j in range(2):
            spans.append(
                Span(
                    trace,
                    (n * 8 + 2 + j).to_bytes(8, "big"),
                    "SELECT items",
                    start + 100_000,
                    start + (n % 13 + 1) * 200_000,
                    parent_span_id=root,
                    kind=KIND_CLIENT,
                    attributes=(
                        ("db.system", "postgresql"),
                        ("db.name", "shop"),
                        ("db.statement", f"SELECT * FROM items{n % 20} WHERE id = {n}"),
                    ),
                    resource=resource,
                )
            )
        spans.append(
            Span(
                trace,
                (n * 8 + 5).to_bytes(8, "big"),
                "render",
                start + 50_000,
                start + 90_000,
                parent_span_id=root,
                kind=KIND_INTERNAL,
                resource=resource,
            )
        )
        n += 1
    return spans[:size]


def _value(v: object) -> AnyValue:
    return AnyValue(int_value=v) if isinstance(v, int) else AnyValue(string_value=str(v))


def encode(spans: list[Span]) -> bytes:
    request = ExportTraceServiceRequest()
    for service in SERVICES:
        mine = [s for s in spans if s.service_name == service]
        if not mine:
            continue
        resource = PbResource(
            attributes=[KeyValue(key=k, value=_value(v)) for k, v in mine[0].resource.attributes]
        )
        scope = pb.ScopeSpans()
        for s in mine:
            scope.spans.add(
                trace_id=s.trace_id,
                span_id=s.span_id,
                parent_span_id=s.parent_span_id if any(s.parent_span_id) else b"",
                name=s.name,
                kind=s.kind,  # type: ignore[arg-type]
                start_time_unix_nano=s.start_ns,
                end_time_unix_nano=s.end_ns,
                attributes=[KeyValue(key=k, value=_value(v)) for k, v in s.attributes],
                status=pb.Status(code=s.status_code),  # type: ignore[arg-type]
            )
        request.resource_spans.append(pb.ResourceSpans(resource=resource, scope_spans=[scope]))
    return request.SerializeToString()


def naive(batches: list[Spans]) -> dict[tuple[str, str, int, int], int]:
    counts: dict[tuple[str, str, int, int], int] = {}
    for spans in batches:
        for s in spans.rows():
            key = (s.service_name, s.name, s.kind, s.status_code)
            counts[key] = counts.get(key, 0) + 1
    return counts


def _observe(columns: list[Spans]) -> tuple[float, float, int]:
    """Seconds to observe every batch, seconds to write the series, series written."""
    clock = ManualClock(time.time())
    with tempfile.TemporaryDirectory() as tmp, TSDB.open(Path(tmp) / "tsdb") as db:
        generator = MetricsGenerator(db.appender, clock)
        started = time.perf_counter()
        for spans in columns:
            generator.observe(spans)
        observed = time.perf_counter() - started
        started = time.perf_counter()
        generator.collect()
        collected = time.perf_counter() - started
    sets = (generator.span_metrics.series, generator.service_graph.series)
    return observed, collected, sum(s.series_count() for s in sets)


def _decode(bodies: list[bytes]) -> float:
    started = time.perf_counter()
    for body in bodies:
        decoded = SpanColumns()
        decode_protobuf(body, decoded)
        decoded.spans()
    return time.perf_counter() - started


def _loop(columns: list[Spans]) -> float:
    started = time.perf_counter()
    naive(columns)
    return time.perf_counter() - started


def _line(what: str, seconds: float, total: int) -> str:
    return f"  {what:<32} {total / seconds:>10,.0f} spans/s  ({seconds * 1e6 / total:.1f} µs/span)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--routes", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    raw = [batch(k, args.batch, args.routes) for k in range(args.batches)]
    columns = [Spans.of(spans) for spans in raw]
    bodies = [encode(spans) for spans in raw]
    total = args.batches * args.batch

    runs = [_observe(columns) for _ in range(args.repeat)]
    observed = min(r[0] for r in runs)
    collected = min(r[1] for r in runs)
    decoding = min(_decode(bodies) for _ in range(args.repeat))
    looped = min(_loop(columns) for _ in range(args.repeat))
    print(f"{args.batches} batches of {args.batch} spans ({total} spans, {args.routes} routes)")
    print(_line("metrics generator observe", observed, total))
    print(f"  collect into the TSDB ({runs[0][2]} series) {collected * 1000:>8.1f} ms")
    print(_line("anchor: OTLP protobuf decode", decoding, total))
    print(_line("anchor: Python dict loop", looped, total))


if __name__ == "__main__":
    main()
