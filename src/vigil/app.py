"""`vigil server`: builds every stage once and wires them into one process.

TSDB ← scrape manager (appender seam); PromQL engine → TSDB (querier seam); the web layer
mounts each API as its own router. Nothing here is global: a test builds a server the
same way, with its own data dir, port and clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import platform
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Gauge
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

import vigil
from vigil.config import ConfigError
from vigil.config.prometheus import Config, load_config, parse_config
from vigil.exporter import DEFAULT_ENABLED, ExporterOptions, ScrapeCollector, build_host_collectors
from vigil.model.clock import SystemClock
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import RuleManager, engine_query_func
from vigil.rules.notifier import (
    DEFAULT_QUEUE_CAPACITY,
    DEFAULT_RESEND_DELAY_MS,
    Notifier,
    NotifierOptions,
)
from vigil.scrape.manager import ScrapeManager
from vigil.selfmetrics import self_registry
from vigil.startup import StorageStartup
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.web.api import APIContext, PrometheusAPI
from vigil.web.listen import parse_listen_address
from vigil.web.metrics import metrics_endpoint
from vigil.web.rules import RulesAPI
from vigil.web.targets import GlobalURLOptions, TargetsAPI

log = logging.getLogger("vigil.server")

TICK_SECONDS = 60.0

_INDEX = """<!DOCTYPE html>
<html><head><title>vigil</title></head>
<body><h1>vigil {version}</h1>
<ul>
<li><a href="/api/v1/targets">Targets</a> (JSON)</li>
<li><a href="/api/v1/query?query=up">up</a> (JSON)</li>
<li><a href="/api/v1/status/tsdb">TSDB status</a> (JSON)</li>
<li><a href="/metrics">vigil's own metrics and this host's</a></li>
</ul>
<p>Query with Grafana's Prometheus data source or <code>promtool query instant http://{address} up</code>.</p>
</body></html>
"""


def default_config(listen_address: str) -> str:
    """What vigil scrapes with no --config.file: itself, which serves this host's metrics."""
    host, port = parse_listen_address(listen_address)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return (
        "global:\n"
        "  scrape_interval: 15s\n"
        "  evaluation_interval: 15s\n"
        "scrape_configs:\n"
        "  - job_name: vigil\n"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """`vigil server`'s flags, spelled as Prometheus spells them in cli.py."""

    config_file: Path | None = None
    data_dir: Path = Path("data")
    listen_address: str = "0.0.0.0:9090"
    retention_ms: int = 15 * 24 * 3_600_000
    retention_bytes: int = 0
    lookback_delta_ms: int = 300_000
    query_timeout_s: float = 120.0
    query_max_samples: int = 50_000_000
    query_max_concurrency: int = 20
    enable_lifecycle: bool = False
    host_collectors: bool = True
    external_url: str = ""
    notification_queue_capacity: int = DEFAULT_QUEUE_CAPACITY
    resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS
    flags: Mapping[str, str] = field(default_factory=dict)


class Server:
    """The stages of one `vigil server` process and their lifecycle."""

    def __init__(
        self,
        options: ServerOptions,
        clock: Callable[[], float] = time.time,
        on_fatal: Callable[[str], None] | None = None,
    ) -> None:
        """`on_fatal` is called when the server cannot go on (the CLI stops the process)."""
        self.options = options
        self.clock = clock
        self._on_fatal = on_fatal
        self.failure: str | None = None
        self._storage_ready = False
        self.registry = self_registry()
        self.config, self.config_text = self._load_config()
        self.started = clock()
        self.last_reload_ok = True
        self.last_reload_time = self.started
        self._reload_ok = Gauge(
            "prometheus_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            registry=self.registry,
        )
        self._reload_time = Gauge(
            "prometheus_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            registry=self.registry,
        )
        self._reload_ok.set(1)
        self._reload_time.set(self.started)
        # The dir is locked here (a second server fails at once); start() replays the WAL in
        # the background while HTTP is served: until then `tsdb` raises StorageNotReady.
        self.storage = StorageStartup(
            TSDB.prepare(options.data_dir, self._tsdb_options(), registry=self.registry)
        )
        self.manager = ScrapeManager(self.storage.appender)
        self.engine = Engine(
            self.storage.querier,
            EngineOptions(
                lookback_delta_ms=options.lookback_delta_ms,
                max_samples=options.query_max_samples,
                timeout_s=options.query_timeout_s,
            ),
        )
        self.notifier = Notifier(
            SystemClock(),
            registry=self.registry,
            options=NotifierOptions(
                queue_capacity=options.notification_queue_capacity,
                resend_delay_ms=options.resend_delay_ms,
                external_url=options.external_url,
            ),
        )
        self.rules = RuleManager(
            engine_query_func(self.engine),
            self.storage.appender,
            self.storage.querier,
            SystemClock(),
            registry=self.registry,
            external_url=options.external_url,
            notify=self.notifier.notify_group,
        )
        self._rule_groups = self.rules.load(self.config)
        self._after_storage_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None

    @property
    def tsdb(self) -> TSDB:
        return self.storage.tsdb

    def _load_config(self) -> tuple[Config, str]:
        path = self.options.config_file
        if path is None:
            text = default_config(self.options.listen_address)
            return parse_config(text, "(default config)"), text
        return load_config(str(path)), path.read_text()

    def _tsdb_options(self) -> TSDBOptions:
        tsdb = self.config.storage.tsdb
        return TSDBOptions(
            retention_ms=self.options.retention_ms or tsdb.retention_time.milliseconds,
            retention_bytes=self.options.retention_bytes or tsdb.retention_size,
            out_of_order_time_window_ms=tsdb.out_of_order_time_window.milliseconds,
        )

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        await self.notifier.apply(self.config)
        self.notifier.start()
        await self.storage.begin()
        self._after_storage_task = asyncio.get_running_loop().create_task(
            self._start_after_storage()
        )
        self._tick_task = asyncio.get_running_loop().create_task(self._tick_forever())
        # SIGHUP reloads, as in Prometheus; a loop outside the main thread (tests) cannot
        # take signal handlers and raises, which leaves /-/reload as the only way.
        with contextlib.suppress(RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: asyncio.ensure_future(self.reload())
            )

    async def stop(self) -> None:
        if self._tick_task is not None:
            self._tick_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._tick_task
        if self._after_storage_task is not None:
            self._after_storage_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._after_storage_task
        await self.rules.stop()
        await self.notifier.stop()
        await self.manager.stop()
        await run_in_threadpool(self.storage.close)

    async def _start_after_storage(self) -> None:
        """Scrapes and rules write the TSDB, so they start once its WAL is replayed; a TSDB
        that cannot be opened (a corrupt WAL) stops the server with the reason."""
        if not await self.storage.wait():
            self.failure = self.storage.status() or "opening the TSDB failed"
            log.critical("vigil server stops: %s", self.failure)
            if self._on_fatal is not None:
                self._on_fatal(self.failure)
            return
        self._storage_ready = True
        await self.manager.apply(self.config)
        self.rules.replace(self._rule_groups)

    async def _tick_forever(self) -> None:
        """Cut blocks, compact and apply retention off the event loop, once a minute."""
        if not await self.storage.wait():
            return
        while True:
            await asyncio.sleep(TICK_SECONDS)
            try:
                await run_in_threadpool(self.tsdb.tick)
            except OSError as err:
                log.error("storage maintenance failed: %s", err)

    async def reload(self) -> bool:
        """SIGHUP and `POST /-/reload`: a config that fails to load leaves the old one running."""
        try:
            config, text = self._load_config()
            rule_groups = self.rules.load(config)
        except (ConfigError, OSError) as err:
            log.error(
                "reloading %s failed, keeping the running config: %s", self.options.config_file, err
            )
            self._record_reload(ok=False)
            return False
        self.config, self.config_text = config, text
        await self.notifier.apply(config)
        self._rule_groups = rule_groups
        if self._storage_ready:
            await self.manager.apply(config)
            self.rules.replace(rule_groups)
        self._record_reload(ok=True)
        log.info("reloaded %s", self.options.config_file or "the default config")
        return True

    def _record_reload(self, *, ok: bool) -> None:
        self.last_reload_ok = ok
        self._reload_ok.set(1 if ok else 0)
        if ok:
            self.last_reload_time = self.clock()
            self._reload_time.set(self.last_reload_time)

    # --- what the APIs read ---------------------------------------------------------------

    def tsdb_stats(self) -> dict[str, Any]:
        stats = self.tsdb.stats()

        def pairs(rows: list[tuple[str, int]]) -> list[dict[str, Any]]:
            return [{"name": name, "value": value} for name, value in rows]

        return {
            "headStats": {
                "numSeries": stats.head_series,
                "chunkCount": stats.head_chunks,
                "minTime": stats.head_min_time,
                "maxTime": stats.head_max_time,
            },
            "seriesCountByMetricName": pairs(stats.series_count_by_metric_name),
            "labelValueCountByLabelName": pairs(stats.label_value_count_by_label_name),
            "memoryInBytesByLabelName": pairs(stats.memory_in_bytes_by_label_name),
            "seriesCountByLabelValuePair": pairs(stats.series_count_by_label_value_pair),
            # vigil's own: the memory self-budget and who ran into it.
            "maxSeries": stats.max_series,
            "refusedSeriesByMetricName": pairs(stats.refused_series_by_metric_name),
        }

    def runtime(self) -> dict[str, Any]:
        return {
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started)),
            "CWD": os.getcwd(),
            "reloadConfigSuccess": self.last_reload_ok,
            "lastConfigTime": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.last_reload_time)
            ),
            "corruptionCount": 0,
            "goroutineCount": 0,
            "GOMAXPROCS": os.cpu_count() or 1,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": _retention_text(self.options),
            "pythonVersion": platform.python_version(),
        }

    def ready(self) -> bool:
        return self.storage.status() is None

    # --- the HTTP app ---------------------------------------------------------------------

    def app(self) -> Starlette:
        options = self.options
        collectors = []
        if options.host_collectors:
            collectors = build_host_collectors(DEFAULT_ENABLED, ExporterOptions(), self.clock)
        scrape = ScrapeCollector(collectors, time.perf_counter)
        api = PrometheusAPI(
            APIContext(
                engine=self.engine,
                queryable=self.storage.querier,
                clock=self.clock,
                flags=options.flags,
                config_yaml=lambda: self.config_text,
                tsdb_stats=self.tsdb_stats,
                ready=self.ready,
                runtime=self.runtime,
                max_concurrency=options.query_max_concurrency,
            )
        )
        targets = TargetsAPI(self.manager, GlobalURLOptions())

        async def index(_: Request) -> HTMLResponse:
            host, port = parse_listen_address(options.listen_address)
            shown = f"127.0.0.1:{port}" if host in ("0.0.0.0", "::") else options.listen_address
            return HTMLResponse(_INDEX.format(version=vigil.__version__, address=shown))

        async def reload(_: Request) -> Response:
            if not options.enable_lifecycle:
                return PlainTextResponse("Lifecycle API is not enabled.", status_code=403)
            if await self.reload():
                return PlainTextResponse("")
            return PlainTextResponse("failed to reload config", status_code=500)

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        routes = [
            Route("/", index),
            Route("/-/ready", self.storage.ready_endpoint, methods=["GET", "HEAD"]),
            Route("/metrics", metrics_endpoint(scrape, self.registry)),
            Route("/-/reload", reload, methods=["POST", "PUT"]),
            *api.routes(),
            *targets.routes(),
            *RulesAPI(self.rules).routes(),
        ]
        return Starlette(routes=routes, lifespan=lifespan)


def _retention_text(options: ServerOptions) -> str:
    parts = []
    if options.retention_ms:
        parts.append(f"{options.retention_ms // 86_400_000}d")
    if options.retention_bytes:
        parts.append(f"{options.retention_bytes}B")
    return " or ".join(parts)
