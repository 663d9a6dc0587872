"""Spans in the JSON of Jaeger's query service (its UI model): a trace is `traceID`, `spans` and
`processes`; a span carries `references` (CHILD_OF its parent, FOLLOWS_FROM its links),
`startTime` and `duration` in microseconds, typed `tags`, `logs` (its events) and the
`processID` of its resource. OTLP's kind, status and scope become the tags Jaeger's own
OTLP translator writes (`span.kind`, `otel.status_code`, `error`, `otel.scope.name`)."""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

import orjson

from vigil.traces import (
    KIND_NAMES,
    KIND_UNSPECIFIED,
    STATUS_ERROR,
    STATUS_UNSET,
    Attributes,
    AttrValue,
    Resource,
    Span,
    Spans,
)
from vigil.web.trace_search import value_text

JSONObject = dict[str, Any]


def jaeger_id(trace_id: bytes) -> str:
    """Jaeger's spelling of a trace id: 16 hex digits when its high half is zero, else 32."""
    text = trace_id.hex()
    return text[16:] if text.startswith("0" * 16) else text


def tag(key: str, value: AttrValue) -> JSONObject:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    if isinstance(value, bytes):
        return {"key": key, "type": "binary", "value": base64.b64encode(value).decode()}
    return {"key": key, "type": "string", "value": value_text(value)}


def tags(attributes: Attributes) -> list[JSONObject]:
    return [tag(k, v) for k, v in attributes]


def _span_tags(span: Span) -> list[JSONObject]:
    out = tags(span.attributes)
    if span.scope.name:
        out.append(tag("otel.scope.name", span.scope.name))
    if span.scope.version:
        out.append(tag("otel.scope.version", span.scope.version))
    if span.kind != KIND_UNSPECIFIED:
        out.append(tag("span.kind", KIND_NAMES[span.kind]))
    if span.status_code != STATUS_UNSET:
        out.append(tag("otel.status_code", "ERROR" if span.status_code == STATUS_ERROR else "OK"))
    if span.status_code == STATUS_ERROR:
        out.append(tag("error", True))
    if span.status_message:
        out.append(tag("otel.status_description", span.status_message))
    if span.trace_state:
        out.append(tag("w3c.tracestate", span.trace_state))
    return out


def _references(span: Span) -> list[JSONObject]:
    refs: list[JSONObject] = []
    if any(span.parent_span_id):
        refs.append(
            {
                "refType": "CHILD_OF",
                "traceID": jaeger_id(span.trace_id),
                "spanID": span.parent_span_id.hex(),
            }
        )
    refs += [
        {
            "refType": "FOLLOWS_FROM",
            "traceID": jaeger_id(link.trace_id),
            "spanID": link.span_id.hex(),
        }
        for link in span.links
    ]
    return refs


def _span(span: Span, process_id: str) -> JSONObject:
    return {
        "traceID": jaeger_id(span.trace_id),
        "spanID": span.span_id.hex(),
        "operationName": span.name,
        "references": _references(span),
        "startTime": span.start_ns // 1000,
        "duration": span.duration_ns // 1000,
        "tags": _span_tags(span),
        "logs": [
            {
                "timestamp": event.time_ns // 1000,
                "fields": [tag("event", event.name), *tags(event.attributes)],
            }
            for event in span.events
        ],
        "processID": process_id,
        "warnings": None,
    }


def _process(resource: Resource) -> JSONObject:
    return {
        "serviceName": resource.service_name,
        "tags": tags(tuple((k, v) for k, v in resource.attributes if k != "service.name")),
    }


def jaeger_trace(spans: Spans) -> JSONObject:
    """One trace (every span of one trace id) in Jaeger's JSON; processes `p1`, `p2`, ... in
    the order their resources first appear."""
    process_ids: dict[Resource, str] = {}
    rendered: list[JSONObject] = []
    for span in spans.rows():
        process_id = process_ids.setdefault(span.resource, f"p{len(process_ids) + 1}")
        rendered.append(_span(span, process_id))
    return {
        "traceID": jaeger_id(spans.trace_id(0)) if len(spans) else "",
        "spans": rendered,
        "processes": {pid: _process(resource) for resource, pid in process_ids.items()},
        "warnings": None,
    }


def envelope(data: object, total: int | None = None) -> bytes:
    """Jaeger's answer: `{"data": ..., "total", "limit", "offset", "errors": null}`."""
    count = total if total is not None else len(data) if isinstance(data, list) else 0
    return orjson.dumps({"data": data, "total": count, "limit": 0, "offset": 0, "errors": None})


def error_envelope(status: int, messages: Iterable[str]) -> bytes:
    return orjson.dumps(
        {
            "data": None,
            "total": 0,
            "limit": 0,
            "offset": 0,
            "errors": [{"code": status, "msg": msg} for msg in messages],
        }
    )
