"""OTLP traces in: an `ExportTraceServiceRequest` (binary protobuf, or OTLP/JSON through
`otlp_json`) decoded into `SpanColumns`, and the bodies OTLP/HTTP answers with: an
`ExportTraceServiceResponse` (with `partial_success` when spans were refused) or a
`google.rpc.Status` for a request refused whole, each in the request's encoding.

The protobuf classes come from `opentelemetry-proto`, imported on the first request."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from vigil.remote.otlp.decode import PROTOBUF
from vigil.remote.receiver import WriteRejected
from vigil.traces._api import Attributes, AttrValue, Event, KeyValues, Link, Resource, Scope
from vigil.traces.otlp_columns import SpanColumns
from vigil.traces.otlp_json import decode_json

if TYPE_CHECKING:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# AnyValue's field numbers: string, bool, int, double, array, kvlist, bytes.
_STRING, _ARRAY, _KVLIST = 1, 5, 6

# google.rpc.Code values for the statuses OTLP/HTTP answers with.
INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
UNAVAILABLE = 14
_CODES = {413: RESOURCE_EXHAUSTED, 429: RESOURCE_EXHAUSTED, 503: UNAVAILABLE}


def decode(raw: bytes, kind: str, columns: SpanColumns) -> None:
    """Every span of the request into `columns` (or counted there as refused); WriteRejected
    (400) for a body that is not a request at all."""
    if kind == PROTOBUF:
        decode_protobuf(raw, columns)
    else:
        decode_json(raw, columns)


def decode_protobuf(raw: bytes, columns: SpanColumns) -> None:
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(raw)
    except DecodeError as err:
        raise WriteRejected(
            400,
            f"body is not a valid ExportTraceServiceRequest protobuf (truncated, corrupt or "
            f"not UTF-8): {err}",
        ) from None
    text, blob, quick = columns.text, columns.blob, columns.max_value // 4

    def attributes(pairs: Iterable[KeyValue]) -> Attributes:
        # ListFields gives the oneof's one set field and its value in one call.
        found: list[tuple[str, AttrValue]] = []
        append = found.append
        for kv in pairs:
            fields = kv.value.ListFields()
            if not fields:
                append((kv.key, ""))
                continue
            field, got = fields[0]
            number = field.number
            if number == _STRING:
                append((kv.key, got if len(got) <= quick else text(got)))
            elif number < _ARRAY:
                append((kv.key, got))
            else:
                append((kv.key, nested(number, got)))
        return tuple(found)

    def value(v: AnyValue) -> AttrValue:
        fields = v.ListFields()
        if not fields:
            return ""
        field, got = fields[0]
        return nested(field.number, got) if field.number >= _ARRAY else plain(field.number, got)

    def plain(number: int, got: Any) -> AttrValue:
        return got if number != _STRING or len(got) <= quick else text(got)

    def nested(number: int, got: Any) -> AttrValue:
        if number == _ARRAY:
            return tuple([value(item) for item in got.values])
        if number == _KVLIST:
            return KeyValues(attributes(got.values))
        return blob(got)

    add = columns.add
    for resource_spans in request.resource_spans:
        resource = columns.resource(Resource(attributes(resource_spans.resource.attributes)))
        for scope_spans in resource_spans.scope_spans:
            s = scope_spans.scope
            scope = columns.scope(Scope(s.name, s.version, attributes(s.attributes)))
            for span in scope_spans.spans:
                status = span.status
                add(
                    resource,
                    scope,
                    span.trace_id,
                    span.span_id,
                    span.parent_span_id,
                    span.name,
                    span.kind,
                    span.start_time_unix_nano,
                    span.end_time_unix_nano,
                    attributes(span.attributes),
                    tuple(
                        [
                            Event(e.time_unix_nano, e.name, attributes(e.attributes))
                            for e in span.events
                        ]
                    )
                    if span.events
                    else (),
                    tuple(
                        [
                            Link(k.trace_id, k.span_id, attributes(k.attributes), k.trace_state)
                            for k in span.links
                        ]
                    )
                    if span.links
                    else (),
                    status.code,
                    status.message,
                    span.trace_state,
                )


def encode_response(kind: str, rejected_spans: int, message: str) -> bytes:
    """An ExportTraceServiceResponse: `partial_success` says how many spans were refused and
    why, or (with 0 refused) warns of what was changed."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceResponse,
    )

    response = ExportTraceServiceResponse()
    if rejected_spans or message:
        response.partial_success.rejected_spans = rejected_spans
        response.partial_success.error_message = message
    if kind == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


def encode_status(kind: str, http_status: int, message: str) -> bytes:
    """The `google.rpc.Status` OTLP/HTTP answers a failed request with."""
    from google.protobuf import json_format
    from google.rpc.status_pb2 import Status

    status = Status(code=_CODES.get(http_status, INVALID_ARGUMENT), message=message)
    if kind == PROTOBUF:
        raw: bytes = status.SerializeToString()
        return raw
    return json_format.MessageToJson(status, indent=None).encode()
