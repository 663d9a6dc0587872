"""The real OpenTelemetry Python SDK (`opentelemetry-sdk` with the OTLP/HTTP protobuf exporter,
plain and gzipped) exports spans to a live HTTP server serving vigil's OTLP traces route: the
store holds exactly the spans the SDK recorded (compared with the SDK's in-memory exporter of
the same spans): ids, parents, kinds, times, attributes of every type the SDK takes, events,
links, status, resource and scope."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource as SDKResource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link as SDKLink
from opentelemetry.trace import SpanKind, Status, StatusCode

from tests.conftest import PATIENCE_S
from tests.logs.ingest.stores import serving
from vigil.traces import NO_PARENT, Event, Link, MemorySpanStore, Resource, Scope, Span
from vigil.web.ingest.otlp_traces import OTLPTraces

pytestmark = pytest.mark.slow

EVERY_TYPE: Mapping[str, Any] = {
    "http.route": "/pay/{id}",
    "http.response.status_code": 503,
    "big": 2**62,
    "negative": -7,
    "ratio": 0.25,
    "cached": True,
    "tags": ("a", "b"),
    "codes": (1, 2, 3),
    "weights": (0.5, 1.5),
    "flags": (True, False),
    "unicode": "żółw ☃",
}


def _record(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span("GET /pay/{id}", kind=SpanKind.SERVER) as root:
        root.set_attributes(EVERY_TYPE)
        root.add_event("retry", {"attempt": 2, "backoff": 0.5})
        with tracer.start_as_current_span(
            "SELECT orders",
            kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql"},
            links=[SDKLink(root.get_span_context(), {"why": "batch"})],
        ) as query:
            query.set_status(Status(StatusCode.ERROR, "deadlock detected"))
            query.record_exception(ValueError("deadlock"))
        for kind in (SpanKind.PRODUCER, SpanKind.CONSUMER, SpanKind.INTERNAL):
            with tracer.start_as_current_span(f"step {kind.name}", kind=kind) as step:
                step.set_status(Status(StatusCode.OK))


def _as_vigil(span: ReadableSpan) -> Span:
    context = span.context
    assert context is not None and span.start_time is not None and span.end_time is not None
    scope = span.instrumentation_scope
    assert scope is not None
    return Span(
        trace_id=context.trace_id.to_bytes(16, "big"),
        span_id=context.span_id.to_bytes(8, "big"),
        parent_span_id=span.parent.span_id.to_bytes(8, "big") if span.parent else NO_PARENT,
        name=span.name,
        start_ns=span.start_time,
        end_ns=span.end_time,
        kind=span.kind.value + 1,  # the API's enum starts at INTERNAL = 0, OTLP's at 1
        status_code={StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}[
            span.status.status_code
        ],
        status_message=span.status.description or "",
        attributes=tuple((span.attributes or {}).items()),
        events=tuple(Event(e.timestamp, e.name, tuple(e.attributes.items())) for e in span.events),
        links=tuple(
            Link(
                link.context.trace_id.to_bytes(16, "big"),
                link.context.span_id.to_bytes(8, "big"),
                tuple((link.attributes or {}).items()),
            )
            for link in span.links
        ),
        resource=Resource(tuple(span.resource.attributes.items())),
        scope=Scope(scope.name, scope.version or ""),
    )


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_opentelemetry_sdk_exports_spans(compression: Compression) -> None:
    store = MemorySpanStore()
    recorded = InMemorySpanExporter()
    with serving(OTLPTraces(lambda: store).routes()) as url:
        provider = TracerProvider(
            resource=SDKResource.create({"service.name": "checkout", "host.name": "vm-1"})
        )
        exporter = OTLPSpanExporter(
            endpoint=f"{url}/otlp/v1/traces", compression=compression, timeout=PATIENCE_S
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider.add_span_processor(SimpleSpanProcessor(recorded))
        try:
            _record(provider.get_tracer("shop.checkout", "1.4.2"))
        finally:
            provider.shutdown()
    stored = [span for batch in store.querier(0, 2**63 - 1).select() for span in batch.rows()]
    want = [_as_vigil(span) for span in recorded.get_finished_spans()]
    assert len(want) == 5
    assert stored == want
