"""Zipkin v2 JSON spans (`POST /api/v2/spans`) mapped onto the OTLP model, as the
OpenTelemetry collector's Zipkin receiver maps them: `localEndpoint.serviceName` is the
resource's `service.name`; `kind` the span kind (none: unspecified, or the `span.kind` tag);
tags are string attributes, except those an OpenTelemetry Zipkin exporter writes for what
Zipkin lacks (`otel.status_code`, `error`, `otel.scope.name`/`version`), which become the status
and the scope again; annotations are events; the remote endpoint is `peer.service` and
`network.peer.*`; 64-bit trace ids are padded to 128 bits. A `shared` server span (Zipkin's
client and server halves of one RPC under one id) gets an id of its own derived from it, and
the client's id as its parent, as Jaeger does, so the two stay two spans.

Ids must be lower or upper hex (1–32 digits for a trace id, 1–16 for the others, zero-padded
as Zipkin does); anything else refuses the request (400). Spans without a timestamp, which
Zipkin merges later but vigil cannot place, are refused and counted."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from vigil.remote.receiver import WriteRejected
from vigil.traces._api import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_INTERNAL,
    KIND_PRODUCER,
    KIND_SERVER,
    KIND_UNSPECIFIED,
    STATUS_ERROR,
    STATUS_OK,
    STATUS_UNSET,
    AttrValue,
    Event,
    Resource,
    Scope,
)
from vigil.traces.otlp_columns import SpanColumns
from vigil.web.body import JSONBodyError, parse_json

NO_TIMESTAMP = "no timestamp (Zipkin merges such spans later; vigil cannot place them)"

_KINDS = {
    "CLIENT": KIND_CLIENT,
    "SERVER": KIND_SERVER,
    "PRODUCER": KIND_PRODUCER,
    "CONSUMER": KIND_CONSUMER,
}
_KIND_TAGS = {"internal": KIND_INTERNAL, **{k.lower(): v for k, v in _KINDS.items()}}
_SCOPE_TAGS = ("otel.scope.name", "otel.library.name")
_SCOPE_VERSION_TAGS = ("otel.scope.version", "otel.library.version")
_STATUS_TAGS = frozenset(
    {"otel.status_code", "otel.status_description", "error", "span.kind"}
    | set(_SCOPE_TAGS)
    | set(_SCOPE_VERSION_TAGS)
)


def decode_zipkin(raw: bytes, columns: SpanColumns) -> None:
    """Every span of a Zipkin v2 JSON list into `columns`; WriteRejected (400) otherwise."""
    try:
        document = parse_json(raw) if raw.strip() else []
    except JSONBodyError as err:
        raise WriteRejected(400, f"body is not JSON: {err.reason}") from None
    if not isinstance(document, list):
        raise WriteRejected(400, "body is not a JSON list of Zipkin v2 spans")
    reader = _Reader(columns)
    for i, span in enumerate(document):
        try:
            reader.span(span)
        except (ValueError, TypeError, AttributeError) as err:
            raise WriteRejected(400, f"span {i} is not a Zipkin v2 span: {err}") from None


class _Reader:
    def __init__(self, columns: SpanColumns) -> None:
        self.columns = columns
        self._resources: dict[str, int] = {}
        self._scopes: dict[tuple[str, str], int] = {}

    def span(self, span: dict[str, Any]) -> None:
        columns = self.columns
        trace_id = _hex_id(span.get("traceId"), 16, "traceId")
        span_id = _hex_id(span.get("id"), 8, "id")
        parent_id = _hex_id(span.get("parentId"), 8, "parentId") if span.get("parentId") else b""
        tags = span.get("tags") or {}
        if not isinstance(tags, dict):
            raise ValueError(f"tags {tags!r} is not an object")
        kind = _kind(span.get("kind"), tags)
        if span.get("shared") is True and kind == KIND_SERVER:
            parent_id, span_id = span_id, _shared_id(trace_id, span_id)
        local = span.get("localEndpoint") or {}
        remote = span.get("remoteEndpoint") or {}
        resource = self._resource(_text(local.get("serviceName")))
        scope = self._scope(_first(tags, _SCOPE_TAGS), _first(tags, _SCOPE_VERSION_TAGS))
        timestamp = span.get("timestamp")
        if timestamp is None:
            columns.refused[NO_TIMESTAMP] += 1
            return
        start = _micros(timestamp, "timestamp") * 1000
        status, message = _status(tags)
        columns.add(
            resource,
            scope,
            trace_id,
            span_id,
            parent_id,
            _text(span.get("name")),
            kind,
            start,
            start + _micros(span.get("duration") or 0, "duration") * 1000,
            self._attributes(tags, local, remote),
            tuple(self._event(a) for a in span.get("annotations") or ()),
            (),
            status,
            message,
        )

    def _event(self, annotation: dict[str, Any]) -> Event:
        """An annotation; one an OpenTelemetry Zipkin exporter wrote for an event
        (`{"name": {attributes}}`) is that event again."""
        time_ns = _micros(annotation.get("timestamp"), "annotations.timestamp") * 1000
        value = _text(annotation.get("value"))
        if value.startswith("{"):
            try:
                written = orjson.loads(value)
            except orjson.JSONDecodeError:
                written = None
            if isinstance(written, dict) and len(written) == 1:
                ((name, attributes),) = written.items()
                if isinstance(attributes, dict) and all(map(_is_attribute, attributes.values())):
                    pairs = tuple((k, _attribute(v)) for k, v in attributes.items())
                    return Event(time_ns, name, pairs)
        return Event(time_ns, self.columns.text(value))

    def _resource(self, service: str) -> int:
        found = self._resources.get(service)
        if found is None:
            attributes = (("service.name", service),) if service else ()
            found = self._resources[service] = self.columns.resource(Resource(attributes))
        return found

    def _scope(self, name: str, version: str) -> int:
        found = self._scopes.get((name, version))
        if found is None:
            found = self._scopes[name, version] = self.columns.scope(Scope(name, version))
        return found

    def _attributes(
        self, tags: dict[str, Any], local: dict[str, Any], remote: dict[str, Any]
    ) -> tuple[tuple[str, AttrValue], ...]:
        text = self.columns.text
        pairs: list[tuple[str, AttrValue]] = [
            (key, text(_tag(value))) for key, value in tags.items() if key not in _STATUS_TAGS
        ]
        for endpoint, side in ((local, "local"), (remote, "peer")):
            address = endpoint.get("ipv4") or endpoint.get("ipv6")
            if address:
                pairs.append((f"network.{side}.address", _text(address)))
            if endpoint.get("port"):
                pairs.append((f"network.{side}.port", _int(endpoint["port"], "port")))
        if remote.get("serviceName"):
            pairs.append(("peer.service", _text(remote["serviceName"])))
        return tuple(pairs)


def _is_attribute(value: Any) -> bool:
    if isinstance(value, list):
        return all(isinstance(item, str | bool | int | float) for item in value)
    return isinstance(value, str | bool | int | float)


def _attribute(value: str | bool | int | float | list[Any]) -> AttrValue:
    return tuple(value) if isinstance(value, list) else value


def _hex_id(value: Any, size: int, field: str) -> bytes:
    """A Zipkin id: up to 2*size hex digits, zero-padded on the left to size bytes."""
    if not isinstance(value, str) or not 0 < len(value) <= 2 * size:
        raise ValueError(f"{field} {value!r} is not 1 to {2 * size} hex digits")
    try:
        found = bytes.fromhex(value.rjust(2 * size, "0"))
    except ValueError:
        raise ValueError(f"{field} {value!r} is not 1 to {2 * size} hex digits") from None
    return found


def _shared_id(trace_id: bytes, span_id: bytes) -> bytes:
    """The server half's own id: stable, so a retried export gives the same span."""
    return hashlib.blake2b(trace_id + span_id, digest_size=8, person=b"zipkin-shared").digest()


def _kind(kind: Any, tags: dict[str, Any]) -> int:
    if kind is None:
        return _KIND_TAGS.get(str(tags.get("span.kind", "")).lower(), KIND_UNSPECIFIED)
    if kind not in _KINDS:
        raise ValueError(f"kind {kind!r} is not one of {', '.join(_KINDS)}")
    return _KINDS[kind]


def _status(tags: dict[str, Any]) -> tuple[int, str]:
    code = str(tags.get("otel.status_code", "")).upper()
    error = tags.get("error")
    if code == "ERROR" or error is not None:
        message = tags.get("otel.status_description") or error or ""
        return STATUS_ERROR, "" if message in ("true", "") else _tag(message)
    return (STATUS_OK, "") if code == "OK" else (STATUS_UNSET, "")


def _first(tags: dict[str, Any], keys: tuple[str, ...]) -> str:
    for key in keys:
        if key in tags:
            return _text(tags[key])
    return ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _tag(value: Any) -> str:
    """A tag's value: Zipkin's are strings; numbers and booleans some clients send are
    written as Zipkin's own clients write them."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    raise ValueError(f"tag value {value!r} is not a string")


def _micros(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{field} {value!r} is not a count of microseconds")
    return round(value)


def _int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} {value!r} is not an integer")
    return value
