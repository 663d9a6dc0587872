"""`vigil agent`: what runs on each app host. Serves vigil's self-metrics and the host
collectors on `/metrics`, the way node_exporter does, as a plain ASGI app (two GET routes
and a lifespan need no framework: Starlette's import is memory the agent does without)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

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
from vigil.web.metrics import exposition

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class Watcher(Protocol):
    """A background reader (Docker events, kernel log, log files) living as long as the app."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


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
) -> AgentApp:
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
    # the container watchers (Docker events, kernel log) and log shipping follow the server's life
    watchers: list[Watcher] = [w for w in (containers, logs) if w is not None]
    return AgentApp(options.telemetry_path, (scrape, registry), watchers)


class AgentApp:
    """`/` (a link to the metrics) and the telemetry path, for GET and HEAD; `watchers` are
    started by the lifespan's startup and stopped, in reverse, by its shutdown."""

    def __init__(
        self, telemetry_path: str, registries: tuple[Any, ...], watchers: Sequence[Watcher]
    ) -> None:
        self.telemetry_path = telemetry_path
        self.registries = registries
        self.watchers = watchers
        self._index = _INDEX.format(version=vigil.__version__, path=telemetry_path).encode()

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                for watcher in self.watchers:
                    watcher.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for watcher in reversed(self.watchers):
                    watcher.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Message, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        headers: list[tuple[bytes, bytes]] = []
        if path not in ("/", self.telemetry_path):
            status, body, content_type = 404, b"Not Found", b"text/plain; charset=utf-8"
        elif method not in ("GET", "HEAD"):
            status, body, content_type = 405, b"Method Not Allowed", b"text/plain; charset=utf-8"
            headers.append((b"allow", b"GET, HEAD"))
        elif path == self.telemetry_path:
            fields = dict(scope["headers"])
            found = exposition(
                self.registries,
                fields[b"accept"].decode("latin-1") if b"accept" in fields else None,
                fields[b"accept-encoding"].decode("latin-1")
                if b"accept-encoding" in fields
                else None,
            )
            status, body, content_type = 200, found.body, found.content_type.encode()
            if found.content_encoding:
                headers.append((b"content-encoding", found.content_encoding.encode()))
        else:
            status, body, content_type = 200, self._index, b"text/html; charset=utf-8"
        headers += [(b"content-type", content_type), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
