"""Traces through OpenTelemetry's own instrumentation of each framework, to vigil over
OTLP/HTTP. Health checks are dropped by the sampler (it sees the request's path and
User-Agent as the server span starts, whichever middleware runs first); every sampled span
records `sampling.probability`, which vigil's span metrics read to scale their counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, TraceState
from opentelemetry.util.types import Attributes

from vigil.instrument._health import HealthChecks

SAMPLING_PROBABILITY = "sampling.probability"
# The ASGI instrumentation's internal span around each receive() and send() call: two or
# more a request that say nothing the server span does not, each a span-metric series.
ASGI_NOISE: tuple[Literal["receive", "send"], ...] = ("receive", "send")


class HealthCheckSampler(Sampler):
    """ParentBased(TraceIdRatioBased(probability)), except that health checks and metric
    scrapes are never sampled. The probability is recorded on the spans this process's
    ratio decided (its roots and their children), not under a caller's sampled span."""

    def __init__(self, probability: float, health: HealthChecks, metrics_path: str | None):
        self._inner = ParentBased(TraceIdRatioBased(probability))
        self._probability = probability
        self._recorded = {SAMPLING_PROBABILITY: probability}
        self._health = health
        self._metrics_path = metrics_path

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if attributes and kind is SpanKind.SERVER and self._machine_traffic(attributes):
            return SamplingResult(Decision.DROP)
        result = self._inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        if result.decision is not Decision.RECORD_AND_SAMPLE:
            return result
        parent = trace.get_current_span(parent_context).get_span_context()
        if parent.is_valid and parent.is_remote:
            return result  # the caller's sampler chose: its probability is not known here
        recorded = {**result.attributes, **self._recorded} if result.attributes else self._recorded
        return SamplingResult(result.decision, recorded, result.trace_state)

    def get_description(self) -> str:
        return f"HealthCheckSampler{{ParentBased{{TraceIdRatioBased{{{self._probability}}}}}}}"

    def _machine_traffic(self, attributes: Mapping[str, Any]) -> bool:
        """By the request's path (or URL) and User-Agent, under the stable HTTP conventions
        or the old ones."""
        path = str(attributes.get("url.path") or attributes.get("http.target") or "")
        if not path:
            path = urlsplit(
                str(attributes.get("url.full") or attributes.get("http.url") or "")
            ).path
        path = path.split("?", 1)[0]
        agent = str(
            attributes.get("user_agent.original") or attributes.get("http.user_agent") or ""
        )
        return path == self._metrics_path or self._health.matches(path, agent)


class Tracing:
    """One app's tracer provider and the framework instrumentation that uses it."""

    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider

    @staticmethod
    def span_ids() -> tuple[str, str] | None:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return None
        return format(context.trace_id, "032x"), format(context.span_id, "016x")

    @staticmethod
    def name_span(method: str, route: str) -> None:
        """A server span started before routing is named by its route once it is known."""
        span = trace.get_current_span()
        if span.is_recording():
            span.update_name(f"{method} {route}")
            span.set_attribute("http.route", route)

    def fastapi(self, app: Any) -> None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, tracer_provider=self.provider, exclude_spans=list(ASGI_NOISE)
        )

    def asgi(self, app: Any) -> Any:
        from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

        return OpenTelemetryMiddleware(
            app, tracer_provider=self.provider, exclude_spans=list(ASGI_NOISE)
        )

    def flask(self, app: Any) -> None:
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor.instrument_app(app, tracer_provider=self.provider)  # type: ignore[no-untyped-call]

    def django(self) -> None:
        from opentelemetry.instrumentation.django import DjangoInstrumentor

        instrumentor = DjangoInstrumentor()
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()  # one Django per process: the latest provider wins
        instrumentor.instrument(tracer_provider=self.provider)

    def wsgi(self, app: Any) -> Any:
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

        return OpenTelemetryMiddleware(app, tracer_provider=self.provider)


def build(
    service_name: str,
    exporter: SpanExporter | None,
    probability: float | None,
    health: HealthChecks,
    metrics_path: str | None,
    env: Mapping[str, str],
) -> Tracing:
    """A provider exporting to `exporter` (synchronously: tests, the console), else over
    OTLP/HTTP to OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT or VIGIL_URL's receiver, in batches.
    The first one built becomes the process's global provider, for the app's own spans."""
    if probability is None:
        probability = float(env.get("OTEL_TRACES_SAMPLER_ARG", "1.0"))
    sampler = HealthCheckSampler(probability, health, metrics_path)
    resource = Resource.create({SERVICE_NAME: service_name})
    provider = TracerProvider(sampler=sampler, resource=resource)
    processor: SpanProcessor
    if exporter is not None:
        processor = SimpleSpanProcessor(exporter)
    else:
        processor = BatchSpanProcessor(_otlp_exporter(env))
    provider.add_span_processor(processor)
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        trace.set_tracer_provider(provider)
    return Tracing(provider)


def _otlp_exporter(env: Mapping[str, str]) -> SpanExporter:
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        return OTLPSpanExporter()
    return OTLPSpanExporter(endpoint=env["VIGIL_URL"].rstrip("/") + "/otlp/v1/traces")
