"""`instrument(app, ...)`: one call wiring metrics, client IP, health checks, log context
and traces into a FastAPI, Starlette, Flask or Django app (or any ASGI/WSGI callable)."""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from vigil.instrument._context import SpanIds
from vigil.instrument._health import ELB_HEALTH_CHECKER, HealthChecks
from vigil.instrument._logging import install_record_factory
from vigil.instrument._recorder import Clock, ContextHook, Recorder, Settings
from vigil.model.forwarded import TOMCAT_INTERNAL_PROXIES, TrustedProxies

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter
    from prometheus_client import CollectorRegistry

    from vigil.instrument._tracing import Tracing

_TRACING_ENV = ("VIGIL_URL", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def instrument(
    app: Any,
    *,
    service_name: str,
    trusted_proxies: Iterable[str] = TOMCAT_INTERNAL_PROXIES,
    forwarded_header: str = "x-forwarded-for",
    health_paths: Iterable[str] = (),
    health_user_agents: Iterable[str] = (ELB_HEALTH_CHECKER,),
    context: ContextHook | None = None,
    registry: CollectorRegistry | None = None,
    metrics_path: str | None = "/metrics",
    access_log: bool = True,
    span_exporter: SpanExporter | None = None,
    sample_ratio: float | None = None,
    env: Mapping[str, str] | None = None,
    clock: Clock = time.perf_counter,
) -> Any:
    """Instrument `app`; returns the app to serve (the same object for FastAPI, Starlette
    and Flask, a wrapping WSGI/ASGI callable for Django and plain apps).

    - `trusted_proxies`: CIDRs whose `forwarded_header` ("x-forwarded-for" or RFC 7239
      "forwarded") is believed; the default is Tomcat's RemoteIpValve's private ranges.
    - `health_paths`, `health_user_agents` (prefixes): requests kept out of metrics, traces
      and access logs, counted in `http_server_health_checks_total`.
    - `context`: fields for every log record of a request, from its `RequestInfo`.
    - `registry` (prometheus_client's default one) served on `metrics_path` (None: not served).
    - Traces when `span_exporter` is given or VIGIL_URL / OTEL_EXPORTER_OTLP_ENDPOINT is set,
      sampled ParentBased(TraceIdRatio(`sample_ratio`, else OTEL_TRACES_SAMPLER_ARG, else 1)).
    """
    from vigil.instrument._red import RedMetrics

    env = os.environ if env is None else env
    proxies = tuple(trusted_proxies)
    if forwarded_header.lower() not in ("x-forwarded-for", "forwarded"):
        raise ValueError(
            f"forwarded_header: {forwarded_header!r} is neither 'x-forwarded-for' nor 'forwarded'"
        )
    settings = Settings(
        proxies=TrustedProxies(proxies),
        forwarded_header=forwarded_header.lower(),
        health=HealthChecks(frozenset(health_paths), tuple(health_user_agents)),
        context=context,
        metrics_path=metrics_path,
        access_log=access_log,
    )
    tracing: Tracing | None = None
    if span_exporter is not None or any(env.get(name) for name in _TRACING_ENV):
        from vigil.instrument._tracing import build

        tracing = build(
            service_name, span_exporter, sample_ratio, settings.health, metrics_path, env
        )
    span_ids: SpanIds | None = None if tracing is None else tracing.span_ids
    recorder = Recorder(settings, RedMetrics.of(registry), span_ids, clock)
    install_record_factory()
    return _wire(app, recorder, tracing)


def _wire(app: Any, recorder: Recorder, tracing: Tracing | None) -> Any:
    kind = _framework(app)
    if kind in ("fastapi", "starlette"):
        from vigil.instrument._asgi import VigilASGIMiddleware
        from vigil.instrument._starlette import StarletteRoutes

        namer = tracing.name_span if tracing is not None and kind == "starlette" else None
        app.add_middleware(
            VigilASGIMiddleware, recorder=recorder, route_of=StarletteRoutes(app), name_span=namer
        )
        if tracing is not None and kind == "fastapi":
            tracing.fastapi(app)
        elif tracing is not None:
            from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

            from vigil.instrument._tracing import ASGI_NOISE

            app.add_middleware(
                OpenTelemetryMiddleware,
                tracer_provider=tracing.provider,
                exclude_spans=list(ASGI_NOISE),
            )
        return app
    if kind == "flask":
        from vigil.instrument._flask import connect
        from vigil.instrument._wsgi import VigilWSGIMiddleware

        if tracing is not None:
            tracing.flask(app)
        connect(app)
        app.wsgi_app = VigilWSGIMiddleware(app.wsgi_app, recorder)
        return app
    if kind == "django":
        from vigil.instrument._django import install
        from vigil.instrument._wsgi import VigilWSGIMiddleware

        if tracing is not None:
            tracing.django()
        install(app)
        return VigilWSGIMiddleware(app, recorder)
    if kind == "asgi":
        from vigil.instrument._asgi import VigilASGIMiddleware, no_route

        inner = app if tracing is None else tracing.asgi(app)
        return VigilASGIMiddleware(inner, recorder, no_route)
    from vigil.instrument._wsgi import VigilWSGIMiddleware

    return VigilWSGIMiddleware(app if tracing is None else tracing.wsgi(app), recorder)


def _framework(app: Any) -> str:
    """The framework by class name, without importing any framework."""
    names = {f"{c.__module__}.{c.__qualname__}" for c in type(app).__mro__}
    for name, kind in (
        ("fastapi.applications.FastAPI", "fastapi"),
        ("starlette.applications.Starlette", "starlette"),
        ("flask.app.Flask", "flask"),
        ("django.core.handlers.wsgi.WSGIHandler", "django"),
    ):
        if name in names:
            return kind
    target = app if inspect.isroutine(app) else app.__call__
    return "asgi" if inspect.iscoroutinefunction(target) else "wsgi"
