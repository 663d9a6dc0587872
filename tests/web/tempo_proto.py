"""Tempo's `tempopb.Trace` and `tempopb.TraceByIDResponse`, declared here from Tempo's
tempo.proto in a pool of their own, to decode vigil's protobuf answers as Grafana does
(`proto.Unmarshal(body, &tempopb.TraceByIDResponse{})`) without vigil's declaration."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from opentelemetry.proto.common.v1 import common_pb2
from opentelemetry.proto.resource.v1 import resource_pb2
from opentelemetry.proto.trace.v1 import trace_pb2

_F = descriptor_pb2.FieldDescriptorProto


def _pool() -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    for module in (common_pb2, resource_pb2, trace_pb2):
        pool.Add(descriptor_pb2.FileDescriptorProto.FromString(module.DESCRIPTOR.serialized_pb))
    tempo = descriptor_pb2.FileDescriptorProto(
        name="tempopb/tempo.proto",
        package="tempopb",
        syntax="proto3",
        dependency=[trace_pb2.DESCRIPTOR.name],
    )
    trace = tempo.message_type.add(name="Trace")
    trace.field.add(
        name="resourceSpans",
        number=1,
        type=_F.TYPE_MESSAGE,
        label=_F.LABEL_REPEATED,
        type_name=".opentelemetry.proto.trace.v1.ResourceSpans",
    )
    metrics = tempo.message_type.add(name="TraceByIDMetrics")
    metrics.field.add(name="inspectedBytes", number=1, type=_F.TYPE_UINT64, label=_F.LABEL_OPTIONAL)
    status = tempo.enum_type.add(name="PartialStatus")
    status.value.add(name="COMPLETE", number=0)
    status.value.add(name="PARTIAL", number=1)
    response = tempo.message_type.add(name="TraceByIDResponse")
    for name, number, kind, type_name in [
        ("trace", 1, _F.TYPE_MESSAGE, ".tempopb.Trace"),
        ("metrics", 2, _F.TYPE_MESSAGE, ".tempopb.TraceByIDMetrics"),
        ("status", 3, _F.TYPE_ENUM, ".tempopb.PartialStatus"),
    ]:
        response.field.add(
            name=name, number=number, type=kind, label=_F.LABEL_OPTIONAL, type_name=type_name
        )
    response.field.add(name="message", number=4, type=_F.TYPE_STRING, label=_F.LABEL_OPTIONAL)
    pool.Add(tempo)
    return pool


_POOL = _pool()


def decode(name: str, body: bytes) -> Any:
    """`body` decoded as `tempopb.<name>`."""
    cls = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"tempopb.{name}"))
    message = cls()
    message.ParseFromString(body)
    return message
