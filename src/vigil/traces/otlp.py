"""OTLP traces in: an `ExportTraceServiceRequest` (binary protobuf through `otlp_wire`'s
trimmed schema, or OTLP/JSON through `otlp_json`) decoded into `SpanColumns`, and the
`ExportTraceServiceResponse` OTLP answers with (with `partial_success` when spans were
refused), in the request's encoding.

The protobuf classes come from `opentelemetry-proto`, imported on the first request."""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

from vigil.remote.otlp.decode import PROTOBUF
from vigil.remote.receiver import WriteRejected
from vigil.traces._api import Attributes, AttrValue, Event, KeyValues, Link, Resource, Scope
from vigil.traces.otlp_columns import SpanColumns
from vigil.traces.otlp_json import decode_json
from vigil.traces.otlp_wire import Pairs, Wire, wire

if TYPE_CHECKING:
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

# AnyValue's field numbers: string, bool, int, double, array, kvlist, bytes.
_STRING, _ARRAY, _KVLIST, _BYTES = 1, 5, 6, 7


def decode(raw: bytes, kind: str, columns: SpanColumns) -> None:
    """Every span of the request into `columns` (or counted there as refused); WriteRejected
    (400) for a body that is not a request at all."""
    if kind == PROTOBUF:
        decode_protobuf(raw, columns)
    else:
        decode_json(raw, columns)


def decode_protobuf(raw: bytes, columns: SpanColumns) -> None:
    from google.protobuf.message import DecodeError

    schema = wire()
    request = schema.request()
    try:
        request.ParseFromString(raw)
        _Decoder(columns, schema).request(request)
    except (DecodeError, UnicodeDecodeError) as err:
        raise WriteRejected(
            400,
            f"body is not a valid ExportTraceServiceRequest protobuf (truncated, corrupt or "
            f"not UTF-8): {err}",
        ) from None


_TRACE_ID, _SPAN_ID, _PARENT_ID, _NAME, _KIND, _START, _END = map(
    attrgetter,
    ("trace_id", "span_id", "parent_span_id", "name", "kind", "start_time_unix_nano",
     "end_time_unix_nano"),
)  # fmt: skip
_ATTRIBUTES, _EVENTS, _LINKS, _STATUS, _TRACE_STATE = map(
    attrgetter, ("attributes", "events", "links", "status", "trace_state")
)


class _Decoder:
    """One request's spans into `columns`, a column at a time (a C loop over the spans
    each); attributes through one `Pairs` per request."""

    def __init__(self, columns: SpanColumns, schema: Wire) -> None:
        self.columns = columns
        self.schema = schema
        self.quick = columns.max_value // 4
        self.pairs = Pairs(self._pair, lambda: columns.truncated, self._text)
        self.statuses: dict[bytes, tuple[int, str]] = {b"": (0, "")}

    def request(self, request: Any) -> None:
        columns = self.columns
        for resource_spans in request.resource_spans:
            resource = columns.resource(
                Resource(self.attributes(resource_spans.resource.attributes))
            )
            for scope_spans in resource_spans.scope_spans:
                s = scope_spans.scope
                scope = columns.scope(Scope(s.name, s.version, self.attributes(s.attributes)))
                self.spans(resource, scope, list(scope_spans.spans))

    def spans(self, resource: int, scope: int, spans: list[Any]) -> None:
        pair = self.pairs.__getitem__
        event, link, status = self.event, self.link, self.status
        statuses = list(map(status, map(_STATUS, spans)))
        self.columns.extend(
            resource,
            scope,
            list(map(_TRACE_ID, spans)),
            list(map(_SPAN_ID, spans)),
            list(map(_PARENT_ID, spans)),
            list(map(_NAME, spans)),
            list(map(_KIND, spans)),
            list(map(_START, spans)),
            list(map(_END, spans)),
            [tuple(map(pair, a)) for a in map(_ATTRIBUTES, spans)],
            [tuple(map(event, e)) if e else () for e in map(_EVENTS, spans)],
            [tuple(map(link, k)) if k else () for k in map(_LINKS, spans)],
            [code for code, _ in statuses],
            [message for _, message in statuses],
            list(map(_TRACE_STATE, spans)),
        )

    def attributes(self, encoded: Iterable[bytes]) -> Attributes:
        return tuple(map(self.pairs.__getitem__, encoded))

    def status(self, raw: bytes) -> tuple[int, str]:
        found = self.statuses.get(raw)
        if found is None:
            status = self.schema.status(raw)
            found = self.statuses[raw] = (status.code, status.message)
        return found

    def event(self, raw: bytes) -> Event:
        e = self.schema.event(raw)
        return Event(e.time_unix_nano, e.name, self.attributes(e.attributes))

    def link(self, raw: bytes) -> Link:
        k = self.schema.link(raw)
        return Link(k.trace_id, k.span_id, self.attributes(k.attributes), k.trace_state)

    def _text(self, value: str) -> str:
        return value if len(value) <= self.quick else self.columns.text(value)

    def _pair(self, raw: bytes) -> tuple[str, AttrValue]:
        """A `KeyValue` of a shape the fast parser leaves: through `opentelemetry-proto`."""
        from opentelemetry.proto.common.v1.common_pb2 import KeyValue

        return self._pairs([KeyValue.FromString(raw)])[0]

    def _pairs(self, pairs: Iterable[KeyValue]) -> Attributes:
        # ListFields gives the oneof's one set field and its value in one call.
        found: list[tuple[str, AttrValue]] = []
        for kv in pairs:
            fields = kv.value.ListFields()
            if not fields:
                found.append((kv.key, ""))
                continue
            field, got = fields[0]
            found.append((kv.key, self._value(field.number, got)))
        return tuple(found)

    def _value(self, number: int, got: Any) -> AttrValue:
        if number == _STRING:
            return self._text(got)
        if number < _ARRAY:
            return got  # type: ignore[no-any-return]
        if number == _ARRAY:
            return tuple([self._any(item) for item in got.values])
        if number == _KVLIST:
            return KeyValues(self._pairs(got.values))
        if number == _BYTES:
            return self.columns.blob(got)
        return ""  # a string table index: profiles' only

    def _any(self, v: AnyValue) -> AttrValue:
        fields = v.ListFields()
        if not fields:
            return ""
        field, got = fields[0]
        return self._value(field.number, got)


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
