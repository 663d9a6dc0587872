"""Spans as OTLP protobuf messages (opentelemetry-proto's classes): `ResourceSpans` grouped by
resource, then scope, as Tempo answers a trace and as an `ExportTraceServiceRequest` forwards
spans to another OTLP receiver. Import it lazily: it loads the protobuf classes."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as ResourceProto
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Status
from opentelemetry.proto.trace.v1.trace_pb2 import Span as SpanProto

from vigil.traces._api import Attributes, AttrValue, KeyValues, Resource, Scope, Span, Spans


def any_value(value: AttrValue) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, bytes):
        return AnyValue(bytes_value=value)
    if isinstance(value, KeyValues):
        return AnyValue(kvlist_value=KeyValueList(values=key_values(value.items)))
    return AnyValue(array_value=ArrayValue(values=[any_value(v) for v in value]))


def key_values(attributes: Attributes) -> list[KeyValue]:
    return [KeyValue(key=k, value=any_value(v)) for k, v in attributes]


def span_proto(span: Span) -> SpanProto:
    return SpanProto(
        trace_id=span.trace_id,
        span_id=span.span_id,
        trace_state=span.trace_state,
        parent_span_id=span.parent_span_id if any(span.parent_span_id) else b"",
        name=span.name,
        kind=span.kind,  # type: ignore[arg-type]
        start_time_unix_nano=span.start_ns,
        end_time_unix_nano=span.end_ns,
        attributes=key_values(span.attributes),
        events=[
            SpanProto.Event(
                time_unix_nano=e.time_ns, name=e.name, attributes=key_values(e.attributes)
            )
            for e in span.events
        ],
        links=[
            SpanProto.Link(
                trace_id=link.trace_id,
                span_id=link.span_id,
                trace_state=link.trace_state,
                attributes=key_values(link.attributes),
            )
            for link in span.links
        ],
        status=Status(code=span.status_code, message=span.status_message),  # type: ignore[arg-type]
    )


def resource_spans(spans: Spans) -> list[ResourceSpans]:
    """The spans grouped by resource, then by scope, each group in first-seen order."""
    groups: dict[Resource, dict[Scope, list[SpanProto]]] = {}
    for span in spans.rows():
        groups.setdefault(span.resource, {}).setdefault(span.scope, []).append(span_proto(span))
    return [
        ResourceSpans(
            resource=ResourceProto(attributes=key_values(resource.attributes)),
            scope_spans=[
                ScopeSpans(
                    scope=InstrumentationScope(
                        name=scope.name,
                        version=scope.version,
                        attributes=key_values(scope.attributes),
                    ),
                    spans=protos,
                )
                for scope, protos in scopes.items()
            ],
        )
        for resource, scopes in groups.items()
    ]


def export_request(batches: Sequence[Spans]) -> bytes:
    """An `ExportTraceServiceRequest` of the batches' spans, serialized."""
    groups = [group for spans in batches for group in resource_spans(spans)]
    return ExportTraceServiceRequest(resource_spans=groups).SerializeToString()
