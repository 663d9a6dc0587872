"""`vigil agent`: what runs on each app host. Serves vigil's self-metrics and the host
collectors on `/metrics`, the way node_exporter does."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

import vigil
from vigil.exporter import (
    DEFAULT_ENABLED,
    Clock,
    ExporterOptions,
    HostCollector,
    ScrapeCollector,
    build_host_collectors,
)
from vigil.exporter.containers import ContainerOptions, build_exporter
from vigil.exporter.logs import LogCollectionOptions, LogCollector
from vigil.exporter.selfmetrics import self_registry
from vigil.web.metrics import metrics_endpoint

_INDEX = """<!DOCTYPE html>
<html><head><title>vigil agent</title></head>
<body><h1>vigil agent</h1><p>version {version}</p>
<ul><li><a href="{path}">Metrics</a></li></ul></body></html>
"""


@dataclass(frozen=True, slots=True)
class LogShipping:
    push_url: str
    collection: LogCollectionOptions


@dataclass(frozen=True, slots=True)
class AgentOptions:
    listen_address: str = ":9100"
    telemetry_path: str = "/metrics"
    collectors: frozenset[str] = DEFAULT_ENABLED  # node_exporter's collector names
    exporter: ExporterOptions = field(default_factory=ExporterOptions)
    containers: ContainerOptions | None = None  # None: no container/OOM-kill collectors
    logs: LogShipping | None = None  # None: no log shipping


def agent_collectors(
    options: AgentOptions, extra: Sequence[HostCollector] = (), clock: Clock = time.time
) -> list[HostCollector]:
    """Everything `/metrics` scrapes: the enabled host collectors, then `extra` (container
    collectors and any later ones), each reported in node_scrape_collector_* by its name."""
    return [*build_host_collectors(options.collectors, options.exporter, clock), *extra]


def build_app(
    options: AgentOptions,
    extra_collectors: Sequence[HostCollector] = (),
    clock: Clock = time.time,
    timer: Clock = time.perf_counter,
) -> Starlette:
    registry = self_registry()
    containers = build_exporter(options.containers) if options.containers else None
    if containers is not None:
        extra_collectors = [*containers.collectors, *extra_collectors]
    scrape = ScrapeCollector(agent_collectors(options, extra_collectors, clock), timer)
    logs = None
    if options.logs is not None:
        from vigil.exporter.logs.push import LokiPusher

        positions = options.logs.collection.positions_file
        if positions is not None:
            positions.parent.mkdir(parents=True, exist_ok=True)
        logs = LogCollector(
            options.logs.collection, LokiPusher(options.logs.push_url), registry, clock
        )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # the container watchers (Docker events, kernel log) follow the server's life
        if containers is not None:
            containers.start()
        if logs is not None:
            logs.start()
        try:
            yield
        finally:
            if logs is not None:
                logs.stop()
            if containers is not None:
                containers.stop()

    async def index(_: Request) -> HTMLResponse:
        return HTMLResponse(_INDEX.format(version=vigil.__version__, path=options.telemetry_path))

    return Starlette(
        lifespan=lifespan,
        routes=[
            Route("/", index),
            Route(options.telemetry_path, metrics_endpoint(scrape, registry)),
        ],
    )
