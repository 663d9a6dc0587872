"""A trace as Tempo answers it: OTLP `ResourceSpans` (spans grouped by resource, then scope)
built with opentelemetry-proto's classes. Tempo's `/api/traces/{id}` answers its `Trace`
(`repeated ResourceSpans resourceSpans = 1`, the wire form of OTLP's `TracesData`);
`/api/v2/traces/{id}` wraps it in a `TraceByIDResponse` {trace = 1, metrics = 2, status = 3,
message = 4}, which Grafana's Tempo data source decodes. Tempo's proto package is not a
dependency: those two messages are declared here over OTLP's `ResourceSpans`.

JSON is OTLP's JSON encoding (hex ids, integer enums, 64-bit integers as strings)."""

from __future__ import annotations

import base64
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

from vigil.traces import Spans
from vigil.traces.otlp_encode import resource_spans

_PACKAGE = "vigil.tempo"
_F = descriptor_pb2.FieldDescriptorProto


def _declare() -> type[Any]:
    """Tempo's `TraceByIDResponse` and the messages it holds (tempopb/tempo.proto), field for
    field."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="vigil/tempo/trace_by_id.proto",
        package=_PACKAGE,
        syntax="proto3",
        dependency=[trace_pb2.DESCRIPTOR.name],
    )

    def field(
        name: str, number: int, kind: _F.Type.ValueType, type_name: str = "", repeated: bool = False
    ) -> _F:
        label = _F.LABEL_REPEATED if repeated else _F.LABEL_OPTIONAL
        made = _F(name=name, number=number, type=kind, label=label)
        if type_name:
            made.type_name = type_name
        return made

    proto.message_type.add(name="Trace").field.append(
        field(
            "resourceSpans",
            1,
            _F.TYPE_MESSAGE,
            ".opentelemetry.proto.trace.v1.ResourceSpans",
            repeated=True,
        )
    )
    proto.message_type.add(name="TraceByIDMetrics").field.append(
        field("inspectedBytes", 1, _F.TYPE_UINT64)
    )
    status = proto.enum_type.add(name="PartialStatus")
    status.value.add(name="COMPLETE", number=0)
    status.value.add(name="PARTIAL", number=1)
    proto.message_type.add(name="TraceByIDResponse").field.extend(
        [
            field("trace", 1, _F.TYPE_MESSAGE, f".{_PACKAGE}.Trace"),
            field("metrics", 2, _F.TYPE_MESSAGE, f".{_PACKAGE}.TraceByIDMetrics"),
            field("status", 3, _F.TYPE_ENUM, f".{_PACKAGE}.PartialStatus"),
            field("message", 4, _F.TYPE_STRING),
        ]
    )
    pool = descriptor_pool.Default()
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{_PACKAGE}.TraceByIDResponse")
    )


TraceByIDResponse = _declare()


def trace_protobuf(spans: Spans) -> bytes:
    """Tempo's `Trace` (v1 answer): OTLP `TracesData` on the wire."""
    return TracesData(resource_spans=resource_spans(spans)).SerializeToString()


def trace_by_id_protobuf(spans: Spans) -> bytes:
    """Tempo's `TraceByIDResponse` (v2 answer), complete."""
    response: Any = TraceByIDResponse()
    response.trace.resourceSpans.extend(resource_spans(spans))
    return bytes(response.SerializeToString())


def batches_json(spans: Spans) -> list[dict[str, Any]]:
    """The trace's `ResourceSpans` in OTLP JSON: hex ids, integer enums."""
    out = []
    for group in resource_spans(spans):
        rendered = json_format.MessageToDict(group, use_integers_for_enums=True)
        for scope in rendered.get("scopeSpans", []):
            for span in scope.get("spans", []):
                _hex_ids(span)
                for link in span.get("links", []):
                    _hex_ids(link)
        out.append(rendered)
    return out


def _hex_ids(item: dict[str, Any]) -> None:
    for key in ("traceId", "spanId", "parentSpanId"):
        if key in item:
            item[key] = base64.b64decode(item[key]).hex()
