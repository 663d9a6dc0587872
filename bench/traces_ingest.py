"""OTLP/HTTP trace ingest end to end: `vigil server` takes `--requests` exports of `--spans`
spans each (what an SDK's batch processor sends: 512 spans, server spans with HTTP attributes
and client spans with a SQL statement, ~10 attributes each, an exception event on every 20th)
on POST /otlp/v1/traces, in protobuf and in OTLP/JSON, one request at a time, and the spans
per second of the server's own CPU (utime + stime, all threads: decode, span store WAL, span
metrics) are printed, with the wall-clock rate beside them.

The anchors, from the same bodies in this process: protobuf's own parse
(`ExportTraceServiceRequest.ParseFromString`, the upb C decoder) and orjson's parse of the JSON
bodies, against vigil's decoders into span columns (parse included); and the ingest path in
this process a stage at a time (decode, + span store append, + span metrics), so the server's
figure can be split. All in spans per second of this process's CPU.

    .venv/bin/python bench/traces_ingest.py [--spans 512] [--requests 40]
Not a test: the machine is shared, only the ratios from one run mean anything.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1 import trace_pb2 as pb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import free_port, wait_ok

from vigil.model.clock import ManualClock
from vigil.traces import Spans
from vigil.traces.otlp import decode
from vigil.traces.otlp_columns import SpanColumns
from vigil.traces.spanmetrics_generator import MetricsGenerator, ObservingSpanAppender
from vigil.traces.store import TraceStore
from vigil.tsdb.db import TSDB

TICK = os.sysconf("SC_CLK_TCK")
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ROUTES = ("/appointments/{id}", "/patients/{id}", "/invoices", "/health", "/search")


def _kv(key: str, value: str | int | float | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    if isinstance(value, float):
        return KeyValue(key=key, value=AnyValue(double_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def export(spans: int, k: int, now_ns: int) -> ExportTraceServiceRequest:
    """One export: traces of a server span and its SQL client span, from one service."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend(
        _kv(key, value)
        for key, value in (
            ("service.name", f"shop-{k % 3}"),
            ("service.instance.id", f"pod-{k % 3}"),
            ("service.version", "1.4.2"),
            ("deployment.environment", "prod"),
            ("host.name", "vm-1"),
            ("telemetry.sdk.language", "java"),
            ("telemetry.sdk.name", "opentelemetry"),
            ("telemetry.sdk.version", "1.45.0"),
        )
    )
    scope_spans = resource_spans.scope_spans.add()
    scope_spans.scope.name = "io.opentelemetry.tomcat-10.0"
    scope_spans.scope.version = "2.10.0-alpha"
    for i in range(spans):
        n = k * spans + i
        trace_id = (n // 2 + 1).to_bytes(16, "big")
        start = now_ns + n * 1_000_000
        route = ROUTES[n % len(ROUTES)]
        span = scope_spans.spans.add(
            trace_id=trace_id,
            span_id=(n + 1).to_bytes(8, "big"),
            start_time_unix_nano=start,
            end_time_unix_nano=start + 1_000_000 + (n % 97) * 10_000,
            flags=0x101,
        )
        if n % 2 == 0:
            span.name = f"GET {route}"
            span.kind = pb.Span.SPAN_KIND_SERVER
            status = 500 if n % 50 == 0 else 200
            span.attributes.extend(
                _kv(key, value)
                for key, value in (
                    ("http.request.method", "GET"),
                    ("http.route", route),
                    ("url.path", route.replace("{id}", str(n))),
                    ("url.scheme", "http"),
                    ("http.response.status_code", status),
                    ("server.address", "shop.example"),
                    ("server.port", 8080),
                    ("client.address", f"10.0.{n % 256}.{n % 199}"),
                    ("user_agent.original", "Mozilla/5.0 (X11; Linux x86_64)"),
                    ("network.protocol.version", "1.1"),
                )
            )
            if status == 500:
                span.status.code = pb.Status.STATUS_CODE_ERROR
        else:
            span.name = "SELECT shop.appointments"
            span.kind = pb.Span.SPAN_KIND_CLIENT
            span.parent_span_id = n.to_bytes(8, "big")
            span.attributes.extend(
                _kv(key, value)
                for key, value in (
                    ("db.system", "postgresql"),
                    ("db.name", "shop"),
                    ("db.statement", f"SELECT * FROM appointments WHERE id = {n} LIMIT 1"),
                    ("db.operation", "SELECT"),
                    ("db.sql.table", "appointments"),
                    ("server.address", "db.internal"),
                    ("server.port", 5432),
                    ("thread.id", n % 64),
                    ("sampled", True),
                    ("ratio", 0.5),
                )
            )
        if n % 20 == 0:
            span.events.add(time_unix_nano=start + 500_000, name="exception").attributes.extend(
                [
                    _kv("exception.type", "java.sql.SQLTimeoutException"),
                    _kv("exception.message", "query timed out"),
                ]
            )
    return request


def otlp_json(request: ExportTraceServiceRequest) -> bytes:
    """The request as OTLP/JSON: ids in hex, enums as integers."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_spans in document["resourceSpans"]:
        for scope_spans in resource_spans["scopeSpans"]:
            for span in scope_spans["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def _rate(bodies: list[bytes], spans: int, run: Callable[[bytes], Any]) -> float:
    """Spans per second of this process's CPU (the machine is shared: wall time is not ours)."""
    began = time.process_time()
    for body in bodies:
        run(body)
    return len(bodies) * spans / (time.process_time() - began)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _vigil_decode(kind: str) -> Callable[[bytes], Any]:
    def run(body: bytes) -> None:
        decode(body, kind, SpanColumns())

    return run


def _stages(bodies: list[bytes], spans: int) -> dict[str, float]:
    """The server's ingest path in this process, one stage added at a time (decode; + the
    span store's append, WAL fsync included; + span metrics' observe)."""
    found: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp, TSDB.open(Path(tmp) / "tsdb") as db:
        store = TraceStore.open(Path(tmp) / "traces")
        generator = MetricsGenerator(db.appender, ManualClock(time.time()))
        stages: dict[str, Callable[[Spans], Any]] = {
            "decode": len,
            "decode + span store": store.append,
            "decode + span store + span metrics": ObservingSpanAppender(store, generator).append,
        }
        try:
            for name, sink in stages.items():

                def run(body: bytes, sink: Callable[[Spans], Any] = sink) -> None:
                    columns = SpanColumns()
                    decode(body, PROTOBUF, columns)
                    sink(columns.spans())

                found[name] = _rate(bodies, spans, run)
        finally:
            store.close()
    return found


def _serve(bodies: dict[str, list[bytes]], spans: int) -> dict[str, tuple[float, float]]:
    """Per encoding: (spans per server CPU-second, spans per wall second)."""
    port = free_port()
    found: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as data:
        command = [
            sys.executable, "-m", "vigil", "server",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--otlp.listen-address=",
            "--agent.disable",
            "--rules.default.disable",
        ]  # fmt: skip
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ok(f"http://127.0.0.1:{port}/-/ready")
            url = f"http://127.0.0.1:{port}/otlp/v1/traces"
            with httpx.Client(timeout=120) as client:
                for kind, payloads in bodies.items():
                    answer = client.post(url, content=payloads[0], headers={"Content-Type": kind})
                    assert answer.status_code == 200, answer.text  # warm: imports, first WAL file
                    cpu, began = _cpu_s(server.pid), time.perf_counter()
                    for body in payloads[1:]:
                        answer = client.post(url, content=body, headers={"Content-Type": kind})
                        assert answer.status_code == 200, answer.text
                    taken = (len(payloads) - 1) * spans
                    found[kind] = (
                        taken / (_cpu_s(server.pid) - cpu),
                        taken / (time.perf_counter() - began),
                    )
        finally:
            server.terminate()
            server.wait(60)
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=512)
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    now_ns = time.time_ns()
    requests = [export(args.spans, k, now_ns) for k in range(args.requests)]
    protobuf = [r.SerializeToString() for r in requests]
    as_json = [otlp_json(r) for r in requests]
    print(
        f"{args.requests} exports of {args.spans} spans: {len(protobuf[0]) / args.spans:.0f} "
        f"bytes/span protobuf, {len(as_json[0]) / args.spans:.0f} JSON"
    )
    anchors = {
        "protobuf: upb ParseFromString (anchor)": _rate(
            protobuf, args.spans, ExportTraceServiceRequest.FromString
        ),
        "protobuf: vigil decode into span columns": _rate(
            protobuf, args.spans, _vigil_decode(PROTOBUF)
        ),
        "JSON: orjson.loads (anchor)": _rate(as_json, args.spans, orjson.loads),
        "JSON: vigil decode into span columns": _rate(as_json, args.spans, _vigil_decode(JSON)),
    }
    for name, rate in anchors.items():
        print(f"{name:45} {rate / 1000:8.1f} k spans per CPU-second")
    for name, rate in _stages(protobuf, args.spans).items():
        print(f"in process, {name:34} {rate / 1000:8.1f} k spans per CPU-second")
    served = _serve({PROTOBUF: protobuf, JSON: as_json}, args.spans)
    for kind, (per_cpu_s, per_wall_s) in served.items():
        print(
            f"server, {kind:24} {per_cpu_s / 1000:8.1f} k spans per CPU-second "
            f"({per_wall_s / 1000:.1f} k spans/s wall)"
        )


if __name__ == "__main__":
    main()
