"""`vigil server`: builds every stage once and wires them into one process.

TSDB ← scrape manager (appender seam); PromQL engine → TSDB (querier seam); the web layer
mounts each API as its own router. Nothing here is global: a test builds a server the
same way, with its own data dir, port and clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from prometheus_client import Gauge
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from vigil.alertmanager_app import AlertmanagerOptions, AlertmanagerService, load_service_config
from vigil.config import ConfigError
from vigil.config.alertmanager import Config as AlertmanagerConfig
from vigil.config.alertmanager import parse_config as parse_alertmanager_config
from vigil.config.prometheus import Config, load_config, parse_config
from vigil.dashboards import DashboardStore
from vigil.exporter import DEFAULT_ENABLED, ExporterOptions, ScrapeCollector, build_host_collectors
from vigil.exporter.containers import ContainerOptions, build_exporter
from vigil.heartbeat import DEFAULT_INTERVAL as DEFAULT_HEARTBEAT_INTERVAL
from vigil.heartbeat import GroupHealth, Heartbeat, rules_problem
from vigil.model.alert import Alert
from vigil.model.clock import SystemClock
from vigil.notify.kinds import KINDS
from vigil.promql.engine import Engine, EngineOptions, QueryEngine
from vigil.remote.read import ReadEndpoint, ReadOptions, RemoteReadQueryable, oldest_timestamp
from vigil.remote.receiver import WriteReceiver
from vigil.remote.remote_query import RemoteEngine
from vigil.remote.write import RemoteWriteStorage, scrape_metadata
from vigil.rules import RuleManager, engine_query_func
from vigil.rules.notifier import (
    DEFAULT_QUEUE_CAPACITY,
    DEFAULT_RESEND_DELAY_MS,
    Notifier,
    NotifierOptions,
    PostableAlert,
)
from vigil.scrape.manager import ScrapeManager
from vigil.selfmetrics import self_registry
from vigil.startup import StorageStartup
from vigil.tsdb import StorageNotReady
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.snapshot import snapshot
from vigil.web.admin import AdminAPI
from vigil.web.alertmanager_api import ALERTMANAGER_API_VERSION, AlertmanagerAPI, BuildInfo
from vigil.web.api import APIContext, PrometheusAPI, storage_not_ready
from vigil.web.dashboards_api import DashboardsAPI
from vigil.web.lifecycle import Lifecycle
from vigil.web.listen import parse_listen_address
from vigil.web.metrics import metrics_endpoint
from vigil.web.rules import RulesAPI
from vigil.web.status import RuntimeFacts, alertmanagers_routes, runtime_info, tsdb_status
from vigil.web.targets import GlobalURLOptions, TargetsAPI
from vigil.web.ui import UIAssets

log = logging.getLogger("vigil.server")


def default_rule_files() -> list[str]:
    """The default alert pack shipped in the package (rules/default/*.yml)."""
    folder = resources.files("vigil") / "rules" / "default"
    return sorted(
        str(folder / entry.name) for entry in folder.iterdir() if entry.name.endswith(".yml")
    )


DEFAULT_ALERTMANAGER_CONFIG = resources.files("vigil") / "alerting" / "default" / "alertmanager.yml"
"""The in-process Alertmanager's config without --alertmanager.config.file: no receiver yet."""

TICK_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class SelfScrape:
    """How vigil's default self-scrape gets past its own --web.config.file: over HTTPS when
    TLS is on (its own cert on loopback, unverified), with a per-process token the web guard
    accepts in place of a basic-auth password."""

    token: str = ""
    https: bool = False


def default_config(listen_address: str, self_scrape: SelfScrape = SelfScrape()) -> str:
    """What vigil scrapes with no --config.file: itself, which serves this host's metrics."""
    host, port = parse_listen_address(listen_address)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    target = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    access = ""
    if self_scrape.https:
        access += "    scheme: https\n    tls_config: {insecure_skip_verify: true}\n"
    if self_scrape.token:
        access += f"    authorization: {{credentials: {self_scrape.token}}}\n"
    return (
        "global:\n"
        "  scrape_interval: 15s\n"
        "  evaluation_interval: 15s\n"
        "scrape_configs:\n"
        "  - job_name: vigil\n"
        f"{access}"
        "    static_configs:\n"
        f"      - targets: ['{target}']\n"
    )


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """`vigil server`'s flags, spelled as Prometheus spells them in cli.py."""

    config_file: Path | None = None
    data_dir: Path = Path("data")
    listen_address: str = "127.0.0.1:9090"
    retention_ms: int = 15 * 24 * 3_600_000
    retention_bytes: int = 0
    block_cache_bytes: int = 32 * 1024 * 1024  # decoded samples of persisted blocks, LRU
    lookback_delta_ms: int = 300_000
    query_timeout_s: float = 120.0
    query_max_samples: int = 50_000_000
    query_max_concurrency: int = 20
    enable_lifecycle: bool = False
    enable_admin_api: bool = False  # --web.enable-admin-api: /api/v1/admin/tsdb/*
    host_collectors: bool = True
    containers: ContainerOptions | None = None  # the container collectors; None: off
    external_url: str = ""
    notification_queue_capacity: int = DEFAULT_QUEUE_CAPACITY
    resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS
    alertmanager_config_file: Path | None = None
    alertmanager_enabled: bool = True
    default_rules: bool = True
    heartbeat_url: str = ""
    heartbeat_interval_s: float = DEFAULT_HEARTBEAT_INTERVAL
    self_scrape: SelfScrape = SelfScrape()  # what the default config needs past the web guard
    query_remote_url: str = ""  # --query.remote-url: PromQL runs on an external API
    remote_write_receiver: bool = False  # --web.enable-remote-write-receiver
    flags: Mapping[str, str] = field(default_factory=dict)


class Server:
    """The stages of one `vigil server` process and their lifecycle."""

    def __init__(
        self,
        options: ServerOptions,
        clock: Callable[[], float] = time.time,
        on_fatal: Callable[[str], None] | None = None,
        on_quit: Callable[[], None] | None = None,
    ) -> None:
        """`on_fatal` is called when the server cannot go on (the CLI stops the process)."""
        self.options = options
        self.clock = clock
        self._on_fatal = on_fatal
        self._on_quit = on_quit  # POST /-/quit (--web.enable-lifecycle) stops the process
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
        # --- remote_write (issue 12, item 1): one queue per `remote_write` entry, fed from
        # the WAL; started once the WAL is replayed, re-applied on reload.
        self.remote_write = RemoteWriteStorage(
            options.data_dir / "wal",
            options.data_dir / "remote_write",
            self.registry,
            metadata_source=scrape_metadata(lambda: self.manager.pools.values()),
        )
        # --- remote_read (issue 12, item 3): queries also read each `remote_read` store.
        self.remote_read = RemoteReadQueryable(
            self.storage.querier, lambda: oldest_timestamp(self.tsdb)
        )
        self.remote_read.apply(self.config.remote_read)
        self.engine: QueryEngine = Engine(
            self.remote_read,
            EngineOptions(
                lookback_delta_ms=options.lookback_delta_ms,
                max_samples=options.query_max_samples,
                timeout_s=options.query_timeout_s,
            ),
        )
        # --- remote query engine (issue 12, item 4): rules and /api/v1/query[_range] ask
        # an external Prometheus-compatible API instead of the local TSDB.
        if options.query_remote_url:
            self.engine = RemoteEngine(options.query_remote_url, timeout_s=options.query_timeout_s)
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
        self._rule_groups = self.rules.load(self._with_default_rules(self.config))
        self.alertmanager: AlertmanagerService | None = None
        if options.alertmanager_enabled:
            am_config, am_text = self._load_alertmanager_config()
            self.alertmanager = AlertmanagerService(
                am_config,
                am_text,
                AlertmanagerOptions(
                    storage_path=options.data_dir / "alertmanager",
                    config_file=options.alertmanager_config_file,
                    external_url=options.external_url,
                ),
                SystemClock(),
                registry=self.registry,
            )
        self._after_storage_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        # --- dashboards (issue 11): imported Grafana JSON under the data dir + built-ins
        self.dashboards = DashboardStore(options.data_dir / "dashboards")

    @property
    def tsdb(self) -> TSDB:
        return self.storage.tsdb

    def _load_config(self) -> tuple[Config, str]:
        path = self.options.config_file
        if path is None:
            text = default_config(self.options.listen_address, self.options.self_scrape)
            config = parse_config(text, "(default config)")
        else:
            config = load_config(str(path))
        return config, config.shown

    def _with_default_rules(self, config: Config) -> Config:
        """The config with the default alert pack's files after the user's own."""
        if not self.options.default_rules:
            return config
        return dataclasses.replace(config, rule_files=(*config.rule_files, *default_rule_files()))

    def _load_alertmanager_config(self) -> tuple[AlertmanagerConfig, str]:
        path = self.options.alertmanager_config_file
        if path is None:
            text = DEFAULT_ALERTMANAGER_CONFIG.read_text(encoding="utf-8")
            return parse_alertmanager_config(text, KINDS, "(default alertmanager.yml)"), text
        return load_service_config(path)

    def _route_alerts(self) -> None:
        """Alerts go to the in-process Alertmanager when prometheus.yml names no other, or
        when --alertmanager.config.file says vigil is the Alertmanager (a seed-style
        prometheus.yml still naming localhost:9093 must not leave alerts undelivered)."""
        named = bool(self.config.alerting.alertmanagers)
        local = self.alertmanager is not None and (
            not named or self.options.alertmanager_config_file is not None
        )
        if local and named:
            log.warning(
                "alerts go to the built-in Alertmanager (--alertmanager.config.file) and also "
                "to the Alertmanagers prometheus.yml's alerting: section names"
            )
        self.notifier.deliver_locally(self._deliver if local else None)

    def _deliver(self, alerts: Sequence[PostableAlert]) -> None:
        assert self.alertmanager is not None
        self.alertmanager.put_alerts(
            [
                Alert(
                    labels=a.labels,
                    annotations=a.annotations,
                    starts_at=a.starts_at_ms / 1000,
                    ends_at=a.ends_at_ms / 1000,
                    generator_url=a.generator_url,
                )
                for a in alerts
            ]
        )

    def _tsdb_options(self) -> TSDBOptions:
        tsdb = self.config.storage.tsdb
        return TSDBOptions(
            retention_ms=self.options.retention_ms or tsdb.retention_time.milliseconds,
            retention_bytes=self.options.retention_bytes or tsdb.retention_size,
            out_of_order_time_window_ms=tsdb.out_of_order_time_window.milliseconds,
            block_cache_bytes=self.options.block_cache_bytes,
        )

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self.alertmanager is not None:
            await self.alertmanager.start()
        if self.options.heartbeat_url:
            heartbeat = Heartbeat(
                self.options.heartbeat_url,
                SystemClock(),
                self.health_problem,
                interval=self.options.heartbeat_interval_s,
                external_url=self.options.external_url,
                registry=self.registry,
            )
            self._heartbeat_task = asyncio.get_running_loop().create_task(heartbeat.run())
        await self.notifier.apply(self.config)
        self._route_alerts()
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

    def health_problem(self) -> str | None:
        """Why vigil cannot vouch for itself now (the heartbeat is withheld), or None."""
        status = self.storage.status()
        if status is not None:
            return f"storage: {status}"
        if self.notifier.queue_length() >= self.options.notification_queue_capacity:
            return "the alert notification queue is full"
        groups = [
            GroupHealth(
                g.name,
                g.interval_ms / 1000,
                None if g.last_evaluation_ms is None else g.last_evaluation_ms / 1000,
            )
            for g in self.rules.groups()
        ]
        return rules_problem(groups, self.clock(), self.started)

    async def stop(self) -> None:
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
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
        if self.alertmanager is not None:
            await self.alertmanager.stop()
        await self.manager.stop()
        await self.remote_write.stop()
        await run_in_threadpool(self.storage.close)
        self.engine.close()
        self.remote_read.close()

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
        await self.remote_write.apply(self.config)
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

    async def reload(self) -> str | None:
        """SIGHUP and `POST /-/reload`: a config that fails to load leaves the old one running;
        returns why it failed, or None."""
        try:
            config, text = self._load_config()
            rule_groups = self.rules.load(self._with_default_rules(config))
        except (ConfigError, OSError) as err:
            log.error(
                "reloading %s failed, keeping the running config: %s", self.options.config_file, err
            )
            self._record_reload(ok=False)
            return str(err)
        self.config, self.config_text = config, text
        self.remote_read.apply(config.remote_read)
        await self.notifier.apply(config)
        self._route_alerts()
        self._rule_groups = rule_groups
        if self.alertmanager is not None and not await self.alertmanager.reload():
            self._record_reload(ok=False)
            return "the Alertmanager config was refused"
        if self._storage_ready:
            await self.remote_write.apply(config)
            await self.manager.apply(config)
            self.rules.replace(rule_groups)
        self._record_reload(ok=True)
        log.info("reloaded %s", self.options.config_file or "the default config")
        return None

    def _record_reload(self, *, ok: bool) -> None:
        self.last_reload_ok = ok
        self._reload_ok.set(1 if ok else 0)
        if ok:
            self.last_reload_time = self.clock()
            self._reload_time.set(self.last_reload_time)

    def _runtime(self) -> dict[str, Any]:
        return runtime_info(
            RuntimeFacts(
                started=self.started,
                reload_ok=self.last_reload_ok,
                last_reload_time=self.last_reload_time,
                retention_ms=self.options.retention_ms,
                retention_bytes=self.options.retention_bytes,
            )
        )

    # --- the HTTP app ---------------------------------------------------------------------

    def app(self) -> Starlette:
        options = self.options
        collectors = []
        containers = None
        if options.host_collectors:
            collectors = build_host_collectors(DEFAULT_ENABLED, ExporterOptions(), self.clock)
            if options.containers is not None:
                # The agent's container half in-process: cgroups, Docker, OOM kills.
                containers = build_exporter(options.containers)
                collectors = [*collectors, *containers.collectors]
        scrape = ScrapeCollector(collectors, time.perf_counter)
        api = PrometheusAPI(
            APIContext(
                engine=self.engine,
                queryable=self.storage.querier,
                clock=self.clock,
                flags=options.flags,
                config_yaml=lambda: self.config_text,
                tsdb_stats=lambda: tsdb_status(self.tsdb),
                runtime=self._runtime,
                max_concurrency=options.query_max_concurrency,
            )
        )
        targets = TargetsAPI(self.manager, GlobalURLOptions())

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            if containers is not None:
                containers.start()
            await self.start()
            try:
                yield
            finally:
                await self.stop()
                if containers is not None:
                    containers.stop()

        routes = [
            *UIAssets().routes(),
            *Lifecycle(
                enabled=options.enable_lifecycle,
                not_ready=self.storage.status,
                reload=self.reload,
                quit_=self._on_quit,
            ).routes(),
            Route("/metrics", metrics_endpoint(scrape, self.registry)),
            *AdminAPI(
                options.enable_admin_api,
                lambda with_head: snapshot(self.tsdb, with_head, self.clock()),
            ).routes(),
            *api.routes(),
            *targets.routes(),
            *RulesAPI(self.rules).routes(),
            *DashboardsAPI(self.dashboards).routes(),  # issue 11
            *alertmanagers_routes(self.notifier.alertmanagers),
            # --- remote write receiver (issue 12, item 2)
            *WriteReceiver(self.storage.appender, enabled=options.remote_write_receiver).routes(),
            # --- remote read endpoint (issue 12, item 3)
            *ReadEndpoint(
                self.storage.querier,
                lambda: ReadOptions(external_labels=self.config.global_config.external_labels),
            ).routes(),
        ]
        if self.alertmanager is not None:
            build = BuildInfo(version=ALERTMANAGER_API_VERSION, branch="vigil")
            am_api = AlertmanagerAPI(self.alertmanager, build)
            routes += am_api.routes(lifecycle=False)
        return Starlette(
            routes=routes,
            lifespan=lifespan,
            exception_handlers={StorageNotReady: storage_not_ready},
        )
