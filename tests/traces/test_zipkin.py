"""Zipkin v2 JSON spans mapped onto the OTLP model, and the `/api/v2/spans` route answering as
Zipkin does; real reporters (py-zipkin, OpenTelemetry's Zipkin JSON exporter) round-trip."""

from __future__ import annotations

import gzip
import json
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.zipkin.json import ZipkinExporter
from opentelemetry.sdk.resources import Resource as SDKResource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from py_zipkin import Kind
from py_zipkin.encoding import Encoding
from py_zipkin.transport import SimpleHTTPTransport
from py_zipkin.zipkin import zipkin_span

from tests.conftest import PATIENCE_S
from tests.logs.ingest.stores import serving
from vigil.remote.receiver import WriteRejected
from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    KIND_UNSPECIFIED,
    NO_PARENT,
    STATUS_ERROR,
    STATUS_OK,
    AppendResult,
    Event,
    MemorySpanStore,
    Resource,
    Scope,
    Span,
    Spans,
)
from vigil.traces.otlp_columns import SpanColumns
from vigil.traces.zipkin import NO_TIMESTAMP, decode_zipkin
from vigil.web.ingest.zipkin import PATH, ZipkinSpans

TRACE_64 = "463ac35c9f6413ad"
TRACE_128 = "5b8efff798038103d269b633813fc60c"
CLIENT_ID = "a2fb4a1d1a96d312"
SERVER_ID = "b7ad6b7169203331"


def _decoded(spans: list[dict[str, Any]]) -> tuple[list[Span], SpanColumns]:
    columns = SpanColumns()
    decode_zipkin(json.dumps(spans).encode(), columns)
    return list(columns.spans().rows()), columns


def test_zipkin_spans_map_onto_the_otlp_model() -> None:
    client = {
        "traceId": TRACE_64,
        "id": CLIENT_ID,
        "name": "get /api",
        "kind": "CLIENT",
        "timestamp": 1_472_470_996_199_000,
        "duration": 207_000,
        "localEndpoint": {"serviceName": "frontend", "ipv4": "192.168.99.1", "port": 3306},
        "remoteEndpoint": {"serviceName": "backend", "ipv6": "::1", "port": 9000},
        "annotations": [{"timestamp": 1_472_470_996_238_000, "value": "ws"}],
        "tags": {"http.method": "GET", "http.path": "/api", "otel.status_code": "OK"},
    }
    server = {
        "traceId": TRACE_64,
        "id": CLIENT_ID,
        "name": "get /api",
        "kind": "SERVER",
        "shared": True,
        "timestamp": 1_472_470_996_250_000,
        "duration": 100_000,
        "localEndpoint": {"serviceName": "backend"},
        "tags": {"error": "boom", "otel.scope.name": "flask", "otel.scope.version": "3"},
    }
    internal = {
        "traceId": TRACE_128,
        "id": SERVER_ID,
        "parentId": CLIENT_ID,
        "name": "render",
        "timestamp": 10,
        "tags": {"span.kind": "internal", "error": "true"},
    }
    spans, columns = _decoded([client, server, internal])
    trace_64 = bytes(8) + bytes.fromhex(TRACE_64)
    frontend = Resource((("service.name", "frontend"),))
    backend = Resource((("service.name", "backend"),))
    client_id = bytes.fromhex(CLIENT_ID)
    assert spans == [
        Span(
            trace_id=trace_64,
            span_id=client_id,
            name="get /api",
            start_ns=1_472_470_996_199_000_000,
            end_ns=1_472_470_996_406_000_000,
            kind=KIND_CLIENT,
            status_code=STATUS_OK,
            attributes=(
                ("http.method", "GET"),
                ("http.path", "/api"),
                ("network.local.address", "192.168.99.1"),
                ("network.local.port", 3306),
                ("network.peer.address", "::1"),
                ("network.peer.port", 9000),
                ("peer.service", "backend"),
            ),
            events=(Event(1_472_470_996_238_000_000, "ws"),),
            resource=frontend,
        ),
        Span(
            trace_id=trace_64,
            span_id=spans[1].span_id,
            parent_span_id=client_id,
            name="get /api",
            start_ns=1_472_470_996_250_000_000,
            end_ns=1_472_470_996_350_000_000,
            kind=KIND_SERVER,
            status_code=STATUS_ERROR,
            status_message="boom",
            resource=backend,
            scope=Scope("flask", "3"),
        ),
        Span(
            trace_id=bytes.fromhex(TRACE_128),
            span_id=bytes.fromhex(SERVER_ID),
            parent_span_id=client_id,
            name="render",
            start_ns=10_000,
            end_ns=10_000,
            kind=KIND_INTERNAL,
            status_code=STATUS_ERROR,
        ),
    ]
    assert spans[1].span_id not in (client_id, NO_PARENT)  # the shared half has its own id
    assert _decoded([server])[0][0].span_id == spans[1].span_id  # the same on a retry
    assert columns.refused_count() == 0


def test_a_span_without_timestamp_is_refused_and_counted() -> None:
    spans, columns = _decoded(
        [
            {"traceId": TRACE_64, "id": CLIENT_ID, "name": "late"},
            {"traceId": "1", "id": "2", "timestamp": 5},
        ]
    )
    assert [(s.trace_id.hex(), s.span_id.hex(), s.kind) for s in spans] == [
        ("0" * 31 + "1", "0" * 15 + "2", KIND_UNSPECIFIED)
    ]
    assert columns.refused == {NO_TIMESTAMP: 1}


@pytest.mark.parametrize(
    "body, message",
    [
        (b"{}", "body is not a JSON list of Zipkin v2 spans"),
        (b"[", "body is not JSON"),
        (
            b'[{"traceId": "xyz", "id": "1"}]',
            "span 0 is not a Zipkin v2 span: traceId 'xyz' is not",
        ),
        (b'[{"traceId": "' + b"1" * 33 + b'", "id": "1"}]', "is not 1 to 32 hex digits"),
        (b'[{"traceId": "1", "id": "1", "kind": "server"}]', "kind 'server' is not one of"),
        (b'[{"traceId": "1", "id": "1", "timestamp": "5"}]', "timestamp '5' is not a count"),
        (
            b'[{"traceId": "1", "id": "1", "timestamp": 1, "tags": {"a": [1]}}]',
            "tag value [1] is not a string",
        ),
        (b"[1]", "span 0 is not a Zipkin v2 span"),
    ],
)
def test_bodies_that_are_not_zipkin_v2_spans_are_refused(body: bytes, message: str) -> None:
    with pytest.raises(WriteRejected) as refused:
        decode_zipkin(body, SpanColumns())
    assert refused.value.status == 400
    assert message in refused.value.message


class FullDisk:
    def append(self, spans: Spans) -> AppendResult:
        raise OSError(28, "No space left on device")


def test_the_route_answers_as_zipkin_does() -> None:
    store = MemorySpanStore()
    span = [{"traceId": TRACE_128, "id": CLIENT_ID, "timestamp": 1, "name": "x"}]
    with serving(ZipkinSpans(lambda: store).routes()) as url:
        answers = [
            httpx.post(f"{url}{PATH}", json=span),
            httpx.post(
                f"{url}{PATH}",
                content=gzip.compress(json.dumps(span).encode()),
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            ),
            httpx.post(f"{url}{PATH}", content=b"[", headers={"Content-Type": "application/json"}),
            httpx.post(
                f"{url}{PATH}", content=b"\x0a", headers={"Content-Type": "application/x-protobuf"}
            ),
        ]
    assert [(a.status_code, a.text[:40]) for a in answers] == [
        (202, ""),
        (202, ""),
        (400, "body is not JSON: unexpected end of JSON"),
        (415, "unsupported content type application/x-p"),
    ]
    assert sum(len(batch) for batch in store.querier(0, 2**63 - 1).select()) == 2
    with serving(ZipkinSpans(FullDisk).routes()) as url:
        full = httpx.post(f"{url}{PATH}", json=span)
    assert (full.status_code, full.headers["retry-after"], full.text) == (
        503,
        "30",
        "storage cannot write: No space left on device",
    )


class Recording(SimpleHTTPTransport):
    """py-zipkin's own HTTP transport, keeping each payload it sent."""

    def __init__(self, address: str, port: int) -> None:
        super().__init__(address, port)
        self.sent: list[Any] = []

    def send(self, payload: str | bytes) -> None:
        super().send(payload)
        self.sent.extend(json.loads(payload))


def test_py_zipkin_reports_its_spans() -> None:
    store = MemorySpanStore()
    with serving(ZipkinSpans(lambda: store).routes()) as url:
        transport = Recording("127.0.0.1", int(url.rsplit(":", 1)[1]))
        with zipkin_span(
            service_name="billing",
            span_name="POST /invoice",
            transport_handler=transport,
            sample_rate=100.0,
            encoding=Encoding.V2_JSON,
            kind=Kind.SERVER,
            binary_annotations={"invoice.id": "17"},
        ) as root:
            root.add_annotation("validated")
            with zipkin_span(service_name="billing", span_name="SELECT", kind=Kind.CLIENT):
                pass
    stored = [span for batch in store.querier(0, 2**63 - 1).select() for span in batch.rows()]
    assert len(transport.sent) == 2
    assert all(len(span["traceId"]) == 16 for span in transport.sent)  # 64-bit ids
    assert sorted(
        (
            span.trace_id.hex(),
            span.span_id.hex(),
            span.parent_span_id.hex(),
            span.name,
            span.kind,
            span.start_ns,
            span.duration_ns,
            span.service_name,
            tuple(span.attributes),
            tuple((e.name, e.time_ns) for e in span.events),
        )
        for span in stored
    ) == sorted(
        (
            "0" * 16 + sent["traceId"],
            sent["id"],
            sent.get("parentId", "0" * 16),
            sent["name"],
            {"SERVER": KIND_SERVER, "CLIENT": KIND_CLIENT}[sent["kind"]],
            sent["timestamp"] * 1000,
            sent["duration"] * 1000,
            "billing",
            (
                *sent.get("tags", {}).items(),
                ("network.local.address", sent["localEndpoint"]["ipv4"]),
            ),
            tuple((a["value"], a["timestamp"] * 1000) for a in sent.get("annotations", ())),
        )
        for sent in transport.sent
    )


def _as_zipkin_writes(ns: int) -> int:
    """A time in ns, rounded to µs as the OpenTelemetry exporter writes it (half up)."""
    return (ns + 500) // 1000 * 1000


def test_the_opentelemetry_zipkin_json_exporter() -> None:
    store = MemorySpanStore()
    recorded = InMemorySpanExporter()
    with serving(ZipkinSpans(lambda: store).routes()) as url:
        provider = TracerProvider(resource=SDKResource.create({"service.name": "cart"}))
        exporter = ZipkinExporter(endpoint=f"{url}{PATH}", timeout=int(PATIENCE_S))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider.add_span_processor(SimpleSpanProcessor(recorded))
        tracer = provider.get_tracer("shop.cart", "2.0")
        try:
            with tracer.start_as_current_span("checkout", kind=SpanKind.SERVER) as root:
                root.set_attribute("items", 3)
                root.add_event("paid", {"amount": 12.5, "coupons": ["a", "b"]})
                with tracer.start_as_current_span("charge", kind=SpanKind.CLIENT) as child:
                    child.set_status(Status(StatusCode.ERROR, "card declined"))
        finally:
            provider.shutdown()
    stored = [span for batch in store.querier(0, 2**63 - 1).select() for span in batch.rows()]
    assert [
        (
            span.trace_id,
            span.span_id,
            span.parent_span_id,
            span.name,
            span.kind,
            span.start_ns,
            span.duration_ns,
            span.service_name,
            span.status_code,
            span.status_message,
            span.scope,
            span.events,
            dict(span.attributes).get("items"),
        )
        for span in stored
    ] == [
        (
            span.context.trace_id.to_bytes(16, "big"),
            span.context.span_id.to_bytes(8, "big"),
            span.parent.span_id.to_bytes(8, "big") if span.parent else NO_PARENT,
            span.name,
            span.kind.value + 1,
            _as_zipkin_writes(span.start_time),
            _as_zipkin_writes(span.end_time - span.start_time),
            "cart",
            {StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}[span.status.status_code],
            span.status.description or "",
            Scope("shop.cart", "2.0"),
            tuple(
                Event(_as_zipkin_writes(e.timestamp), e.name, tuple(e.attributes.items()))
                for e in span.events
            ),
            "3" if span.name == "checkout" else None,
        )
        for span in recorded.get_finished_spans()
        if span.context is not None and span.start_time and span.end_time
    ]
