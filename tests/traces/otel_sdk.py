"""The OpenTelemetry Python SDK as a span source in tests: an exporter that hands the SDK's
finished spans to a `SpanAppender` in process, converted to the seam's model the way the
OTLP receiver maps them (the SDK's SpanKind counts from INTERNAL = 0, OTLP's from
UNSPECIFIED = 0)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.resources import Resource as SDKResource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from vigil.traces import (
    STATUS_ERROR,
    STATUS_OK,
    STATUS_UNSET,
    Attributes,
    AttrValue,
    Resource,
    Scope,
    Span,
    SpanAppender,
    Spans,
)

_STATUS = {StatusCode.UNSET: STATUS_UNSET, StatusCode.OK: STATUS_OK, StatusCode.ERROR: STATUS_ERROR}


def _value(value: Any) -> AttrValue:
    if isinstance(value, tuple | list):
        return tuple(_value(v) for v in value)
    assert isinstance(value, str | bool | int | float | bytes)
    return value


def _attributes(attributes: Any) -> Attributes:
    return tuple((str(k), _value(v)) for k, v in (attributes or {}).items())


def to_span(span: ReadableSpan) -> Span:
    context = span.context
    assert context is not None and span.start_time is not None and span.end_time is not None
    return Span(
        trace_id=context.trace_id.to_bytes(16, "big"),
        span_id=context.span_id.to_bytes(8, "big"),
        parent_span_id=(span.parent.span_id if span.parent else 0).to_bytes(8, "big"),
        name=span.name,
        start_ns=span.start_time,
        end_ns=span.end_time,
        kind=span.kind.value + 1,
        status_code=_STATUS[span.status.status_code],
        status_message=span.status.description or "",
        attributes=_attributes(span.attributes),
        resource=Resource(_attributes(span.resource.attributes)),
        scope=Scope(span.instrumentation_scope.name if span.instrumentation_scope else ""),
        trace_state=context.trace_state.to_header(),
    )


class AppenderExporter(SpanExporter):
    """Exports each finished span batch into `appender`; keeps what it sent for checks."""

    def __init__(self, appender: SpanAppender) -> None:
        self.appender = appender
        self.sent: list[Span] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        converted = [to_span(s) for s in spans]
        self.appender.append(Spans.of(converted))
        self.sent += converted
        return SpanExportResult.SUCCESS


def tracer_provider(service: str, exporter: SpanExporter) -> TracerProvider:
    provider = TracerProvider(resource=SDKResource.create({"service.name": service}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider
