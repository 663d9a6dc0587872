"""vigil.instrument's cost per request on a FastAPI hello-world, beside what its parts cost
alone: prometheus_client observing a histogram in the smallest ASGI middleware that can
(the route from the scope, no client IP, no health checks, no log context) and
OpenTelemetry's FastAPI instrumentation (same sampler, same no-op exporter). Requests are
driven in this process straight into the ASGI app (no sockets: the load generator and the
network would drown a few microseconds), one request of each variant in turn (in a shuffled
order, the garbage collector run between turns) so that all meet the same machine; each figure is the median of the requests' CPU time (this
thread's: other processes on a busy machine do not count). Not a test.

    .venv/bin/python bench/instrument.py [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from prometheus_client import CollectorRegistry, Histogram

from vigil.instrument import instrument

ASGIApp = Callable[..., Awaitable[None]]


class Discard(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def hello() -> FastAPI:
    """FastAPI's own telemetry (it traces by itself once a global provider is set and no
    OpenTelemetry middleware is in the stack) is off, so "bare" means bare."""
    app = FastAPI(telemetry={"tracing": False, "metrics": False, "logs": False})

    @app.get("/hello/{name}")
    async def greet(name: str) -> dict[str, str]:
        return {"hello": name}

    return app


class PrometheusOnly:
    """prometheus_client alone: time the request, observe the histogram by route."""

    def __init__(self, app: ASGIApp, histogram: Any) -> None:
        self.app, self.histogram = app, histogram

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", "UNKNOWN")
            self.histogram.labels(scope["method"], route, str(status)).observe(
                time.perf_counter() - started
            )


def _prometheus(app: FastAPI) -> None:
    histogram = Histogram(
        "http_server_requests_seconds",
        "",
        ("method", "route", "status"),
        registry=CollectorRegistry(),
    )
    app.add_middleware(PrometheusOnly, histogram=histogram)


def _provider() -> TracerProvider:
    provider = TracerProvider(
        sampler=ParentBased(TraceIdRatioBased(1.0)),
        resource=Resource.create({"service.name": "hello"}),
    )
    provider.add_span_processor(SimpleSpanProcessor(Discard()))
    return provider


def _opentelemetry(app: FastAPI, spans: list[Literal["receive", "send"]] | None = None) -> None:
    FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider(), exclude_spans=spans)


def bare() -> FastAPI:
    return hello()


def prometheus() -> FastAPI:
    app = hello()
    _prometheus(app)
    return app


def opentelemetry() -> FastAPI:
    app = hello()
    _opentelemetry(app)
    return app


def both() -> FastAPI:
    app = hello()
    _prometheus(app)
    _opentelemetry(app)
    return app


def both_server_span_only() -> FastAPI:
    app = hello()
    _prometheus(app)
    _opentelemetry(app, ["receive", "send"])
    return app


def vigil_metrics_only() -> FastAPI:
    return instrument(  # type: ignore[no-any-return]
        hello(), service_name="hello", registry=CollectorRegistry(), env={}
    )


def vigil_traced() -> FastAPI:
    return instrument(  # type: ignore[no-any-return]
        hello(),
        service_name="hello",
        registry=CollectorRegistry(),
        span_exporter=Discard(),
        sample_ratio=1.0,
        env={},
    )


VARIANTS: dict[str, Callable[[], FastAPI]] = {
    "bare FastAPI": bare,
    "prometheus_client middleware": prometheus,
    "OpenTelemetry FastAPI instrumentation": opentelemetry,
    "both of them": both,
    "both, server span only": both_server_span_only,
    "vigil.instrument, no tracing": vigil_metrics_only,
    "vigil.instrument, traced": vigil_traced,
}


def _scope(i: int) -> dict[str, Any]:
    path = f"/hello/n{i % 50}"
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"shop"),
            (b"user-agent", b"bench"),
            (b"x-forwarded-for", b"203.0.113.7"),
        ],
        "client": ("10.0.0.1", 4711),
        "server": ("127.0.0.1", 8000),
    }


async def _receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Any) -> None:
    return None


async def main(requests: int) -> None:
    # A global provider, as OpenTelemetry's setup sets one and vigil.instrument does when
    # none is: set first, so every variant runs under the same one.
    trace.set_tracer_provider(_provider())
    apps = {name: build() for name, build in VARIANTS.items()}
    for i in range(200):  # builds the middleware stacks, warms caches
        for app in apps.values():
            await app(_scope(i), _receive, _send)
    times: dict[str, list[int]] = {name: [] for name in apps}
    clock = time.thread_time_ns
    order = list(apps.items())
    shuffle = random.Random(1).shuffle
    gc.disable()  # a collection would land on whichever variant happens to allocate last
    for i in range(requests):
        shuffle(order)
        for name, app in order:
            scope = _scope(i)
            started = clock()
            await app(scope, _receive, _send)
            times[name].append(clock() - started)
        if i % 100 == 99:
            gc.collect()
    gc.enable()
    median = {name: statistics.median(values) / 1000 for name, values in times.items()}
    base = median["bare FastAPI"]
    overhead = {name: value - base for name, value in median.items()}
    print(f"{'variant':40} {'CPU µs/request':>15} {'overhead µs':>12}")
    for name in apps:
        print(f"{name:40} {median[name]:15.1f} {overhead[name]:12.1f}")
    parts = (
        overhead["prometheus_client middleware"] + overhead["OpenTelemetry FastAPI instrumentation"]
    )
    together = overhead["both of them"]
    alike = overhead["both, server span only"]
    traced = overhead["vigil.instrument, traced"]
    print(
        f"\nvigil.instrument traced / both together: {traced / together:.2f}x; "
        f"/ the two measured apart: {traced / parts:.2f}x; "
        f"/ both with the server span only: {traced / alike:.2f}x (target <= 1.2x)\n"
        "(OpenTelemetry's FastAPI instrumentation records 3 spans a request, the server span"
        " and one per send(); vigil.instrument leaves the send/receive spans out: 1)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    args = parser.parse_args()
    asyncio.run(main(args.requests))
