"""OTLP/JSON traces read straight into `SpanColumns`, as the OTLP specification writes them:
trace and span ids in hex (protobuf's own JSON mapping would read them as base64 and turn a
32-digit trace id into 24 bytes), enums as integers (their names are accepted too),
lowerCamelCase keys (the proto field names are accepted too), 64-bit integers as strings or
numbers, bytes values in base64. Unknown fields are ignored.

A body that is not such a document, or an id that is not hex of its size (base64 ids among
them), refuses the whole request (400), naming where."""

from __future__ import annotations

import base64
import binascii
import math
from typing import Any

from vigil.remote.receiver import WriteRejected
from vigil.traces._api import (
    SPAN_ID_SIZE,
    TRACE_ID_SIZE,
    Attributes,
    AttrValue,
    Event,
    KeyValues,
    Link,
    Resource,
    Scope,
)
from vigil.traces.otlp_columns import SpanColumns
from vigil.web.body import JSONBodyError, parse_json

_KINDS = {
    f"SPAN_KIND_{name}": code
    for code, name in enumerate(
        ("UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER", "CONSUMER")
    )
}
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_INT64 = 2**63


class _Invalid(ValueError):
    """A value that is not what OTLP/JSON writes there; the caller adds where it is."""


def decode_json(raw: bytes, columns: SpanColumns) -> None:
    try:
        document = parse_json(raw) if raw.strip() else {}
    except JSONBodyError as err:
        raise WriteRejected(400, f"body is not JSON: {err.reason}") from None
    if not isinstance(document, dict):
        raise WriteRejected(400, "body is not an OTLP/JSON ExportTraceServiceRequest object")
    reader = _Reader(columns)
    for i, resource_spans in enumerate(_list(document, "resourceSpans", "resource_spans")):
        where = f"resourceSpans[{i}]"
        try:
            reader.resource_spans(resource_spans, where)
        except (_Invalid, TypeError, AttributeError) as err:
            raise WriteRejected(
                400, f"body is not a valid OTLP/JSON ExportTraceServiceRequest: {err}"
            ) from None


class _Reader:
    def __init__(self, columns: SpanColumns) -> None:
        self.columns = columns

    def resource_spans(self, item: Any, where: str) -> None:
        columns = self.columns
        resource_doc = _get(item, "resource", "resource") or {}
        try:
            resource = columns.resource(Resource(self.attributes(resource_doc)))
        except (_Invalid, TypeError, AttributeError) as err:
            raise _Invalid(f"{where}.resource: {err}") from None
        for j, scope_spans in enumerate(_list(item, "scopeSpans", "scope_spans")):
            here = f"{where}.scopeSpans[{j}]"
            try:
                scope_doc = _get(scope_spans, "scope", "scope") or {}
                scope = columns.scope(
                    Scope(
                        _str(scope_doc.get("name")),
                        _str(scope_doc.get("version")),
                        self.attributes(scope_doc),
                    )
                )
            except (_Invalid, TypeError, AttributeError) as err:
                raise _Invalid(f"{here}.scope: {err}") from None
            for k, span in enumerate(_list(scope_spans, "spans", "spans")):
                try:
                    self.span(resource, scope, span)
                except (_Invalid, TypeError, AttributeError) as err:
                    raise _Invalid(f"{here}.spans[{k}]: {err}") from None

    def span(self, resource: int, scope: int, span: dict[str, Any]) -> None:
        get = span.get
        status = get("status") or {}
        events = get("events")
        links = get("links")
        self.columns.add(
            resource,
            scope,
            _id(_get(span, "traceId", "trace_id"), TRACE_ID_SIZE, "traceId"),
            _id(_get(span, "spanId", "span_id"), SPAN_ID_SIZE, "spanId"),
            _id(_get(span, "parentSpanId", "parent_span_id"), SPAN_ID_SIZE, "parentSpanId"),
            _str(get("name")),
            _enum(get("kind"), _KINDS, "kind"),
            _uint(_get(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano"),
            _uint(_get(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano"),
            self.attributes(span),
            tuple([self.event(e) for e in events]) if events else (),
            tuple([self.link(k) for k in links]) if links else (),
            _enum(status.get("code"), _STATUS_CODES, "status.code"),
            _str(status.get("message")),
            _str(_get(span, "traceState", "trace_state")),
        )

    def event(self, event: dict[str, Any]) -> Event:
        return Event(
            _uint(_get(event, "timeUnixNano", "time_unix_nano"), "events.timeUnixNano"),
            _str(event.get("name")),
            self.attributes(event),
        )

    def link(self, link: dict[str, Any]) -> Link:
        return Link(
            _id(_get(link, "traceId", "trace_id"), TRACE_ID_SIZE, "links.traceId"),
            _id(_get(link, "spanId", "span_id"), SPAN_ID_SIZE, "links.spanId"),
            self.attributes(link),
            _str(_get(link, "traceState", "trace_state")),
        )

    def attributes(self, holder: dict[str, Any]) -> Attributes:
        pairs = holder.get("attributes")
        if not pairs:
            return ()
        return self.pairs(pairs)

    def pairs(self, pairs: list[Any]) -> Attributes:
        value = self.value
        return tuple([(_str(kv.get("key")), value(kv.get("value"))) for kv in pairs])

    def value(self, v: dict[str, Any] | None) -> AttrValue:
        if not v:
            return ""
        found = v.get("stringValue")
        if found is not None:
            return self.columns.text(_str(found))
        for camel, snake in _VALUE_KEYS:
            found = v.get(camel)
            if found is None:
                found = v.get(snake)
            if found is None:
                continue
            if camel == "stringValue":
                return self.columns.text(_str(found))
            if camel == "intValue":
                return _int64(found)
            if camel == "doubleValue":
                return _double(found)
            if camel == "boolValue":
                if not isinstance(found, bool):
                    raise _Invalid(f"boolValue {found!r} is not true or false")
                return found
            if camel == "arrayValue":
                return tuple([self.value(item) for item in found.get("values") or ()])
            if camel == "kvlistValue":
                return KeyValues(self.pairs(found.get("values") or []))
            return self.columns.blob(_base64(found))
        return ""


_VALUE_KEYS = (
    ("stringValue", "string_value"),
    ("intValue", "int_value"),
    ("doubleValue", "double_value"),
    ("boolValue", "bool_value"),
    ("arrayValue", "array_value"),
    ("kvlistValue", "kvlist_value"),
    ("bytesValue", "bytes_value"),
)


def _get(obj: dict[str, Any], camel: str, snake: str) -> Any:
    found = obj.get(camel)
    return obj.get(snake) if found is None else found


def _list(obj: dict[str, Any], camel: str, snake: str) -> list[Any]:
    found = _get(obj, camel, snake)
    if found is None:
        return []
    if not isinstance(found, list):
        raise WriteRejected(400, f"{camel} is not a list")
    return found


def _str(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _Invalid(f"{value!r} is not a string")
    return value


def _id(value: Any, size: int, field: str) -> bytes:
    """The id's bytes (b"" when absent, for the columns to refuse a required one)."""
    if value is None or value == "":
        return b""
    if isinstance(value, str) and len(value) == 2 * size:
        try:
            found = bytes.fromhex(value)
        except ValueError:
            pass
        else:
            if len(found) == size:
                return found
    raise _Invalid(f"{field} {value!r} is not {2 * size} hex digits{_base64_hint(value, size)}")


def _base64_hint(value: Any, size: int) -> str:
    if not isinstance(value, str):
        return ""
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ""
    if len(decoded) != size:
        return ""
    return (
        f" (it is base64, {decoded.hex()} in hex: OTLP/JSON writes ids in hex, not in "
        "protobuf's JSON mapping of bytes)"
    )


def _uint(value: Any, field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise _Invalid(f"{field} {value!r} is not an unsigned integer")


def _int64(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Invalid(f"intValue {value!r} is not an integer")
    try:
        number = int(value)
    except ValueError:
        raise _Invalid(f"intValue {value!r} is not an integer") from None
    if not -_INT64 <= number < _INT64:
        raise _Invalid(f"intValue {value!r} is out of int64's range")
    return number


def _double(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid(f"doubleValue {value!r} is not a number")
    try:
        number = float(value)
    except ValueError:
        raise _Invalid(f"doubleValue {value!r} is not a number") from None
    if isinstance(value, str) and math.isinf(number) and value not in ("Infinity", "-Infinity"):
        raise _Invalid(f"doubleValue {value!r} is not a number")
    return number


def _base64(value: Any) -> bytes:
    """Standard or URL-safe base64, padded or not, as protobuf's JSON mapping reads it."""
    if not isinstance(value, str):
        raise _Invalid(f"bytesValue {value!r} is not base64")
    padded = value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        raise _Invalid(f"bytesValue {value!r} is not base64") from None


def _enum(value: Any, names: dict[str, int], field: str) -> int:
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value in names:
        return names[value]
    raise _Invalid(f"{field} {value!r} is not one of {', '.join(names)} or its number")
