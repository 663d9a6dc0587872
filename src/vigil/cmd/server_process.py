"""`vigil server`'s process: builds every stage once and wires them together.

TSDB ← scrape manager (appender seam); PromQL engine → TSDB (querier seam); the web layer
mounts each API as its own router. Nothing here is global: a test builds a server the
same way, with its own data dir, port and clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import signal
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from importlib import resources
from typing import TYPE_CHECKING, Any

from prometheus_client import Gauge
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.routing import BaseRoute, Mount, Route

from vigil.alerting.annotate import AnnotateStage
from vigil.cmd import server_flags
from vigil.cmd.alertmanager_service import (
    AlertmanagerOptions,
    AlertmanagerService,
    load_service_config,
)
from vigil.cmd.defaults import DEFAULT_ALERTMANAGER_CONFIG
from vigil.cmd.disk_budget import DiskBudget, split_disk_budget
from vigil.cmd.lazy_routes import LazyRoutes
from vigil.cmd.server_flags import SelfScrape, ServerOptions
from vigil.cmd.services import Reloader, Service, Services, apply_all, background
from vigil.config import ConfigError
from vigil.config.alertmanager import Config as AlertmanagerConfig
from vigil.config.alertmanager import parse_config as parse_alertmanager_config
from vigil.config.prometheus import Config, load_config, parse_config
from vigil.dashboards import DashboardStore
from vigil.exporter import (
    DEFAULT_ENABLED,
    ExporterOptions,
    HostCollector,
    ScrapeCollector,
    build_host_collectors,
)
from vigil.exporter.selfmetrics import self_registry
from vigil.logs.last_words import LastWords
from vigil.logs.limits import LogLimits
from vigil.logs.service import LogStorage
from vigil.logs.store import LogStoreOptions
from vigil.model import METRIC_NAME, Labels
from vigil.model.alert import Alert
from vigil.model.clock import Clock, SystemClock
from vigil.model.labels import json_quote
from vigil.notify.heartbeat import GroupHealth, Heartbeat, rules_problem
from vigil.notify.kinds import KINDS
from vigil.promql.engine import Engine, EngineOptions, QueryEngine
from vigil.promql.errors import PromQLError
from vigil.promql.value import Sample, Vector
from vigil.rules import Group, RuleManager, engine_query_func
from vigil.rules.notifier import (
    Notifier,
    NotifierOptions,
    PostableAlert,
)
from vigil.rules.query import logql_query_func
from vigil.scrape.manager import ScrapeManager
from vigil.scrape.metadata import scrape_metadata
from vigil.scrape.metrics import ScrapeMetrics
from vigil.traces.future_guard import FutureSpanGuard
from vigil.traces.spanmetrics_generator import (
    GeneratorOptions,
    MetricsGenerator,
    ObservingSpanAppender,
)
from vigil.traces.spanmetrics_guards import SpanGuards
from vigil.traces.store import TraceStoreOptions
from vigil.traces.store_service import TraceStorage
from vigil.tsdb import CorruptDataError, Querier, StorageNotReady
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.live import LiveSeriesQueryable
from vigil.tsdb.snapshot import snapshot
from vigil.tsdb.startup import StorageStartup
from vigil.web.admin import AdminAPI
from vigil.web.alertmanager_api import ALERTMANAGER_API_VERSION, AlertmanagerAPI, BuildInfo
from vigil.web.api import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    APIContext,
    PrometheusAPI,
    storage_corrupt,
    storage_not_ready,
)
from vigil.web.dashboards_api import DashboardsAPI
from vigil.web.lifecycle import Lifecycle
from vigil.web.listen import parse_listen_address
from vigil.web.listeners import Listener
from vigil.web.metrics import metrics_endpoint
from vigil.web.rules import RulesAPI
from vigil.web.slowsql_api import SlowSQLAPI
from vigil.web.status import RuntimeFacts, alertmanagers_routes, runtime_info, tsdb_status
from vigil.web.targets import GlobalURLOptions, TargetsAPI, family_metadata
from vigil.web.ui import UIAssets

if TYPE_CHECKING:
    from vigil.exporter.containers import ContainerExporter
    from vigil.exporter.logs import LogCollector
    from vigil.logs.forward import LogForwarder
    from vigil.logs.logql.engine import LogQLEngine
    from vigil.remote.otlp import OTLPReceiver
    from vigil.remote.read import RemoteReadQueryable
    from vigil.remote.write import RemoteWriteStorage
    from vigil.traces.forward import SpanForwarder
    from vigil.web.ingest.elasticsearch import ElasticsearchAPI
    from vigil.web.ingest.otlp_grpc import OTLPGrpc
    from vigil.web.ingest.otlp_logs import OTLPLogs
    from vigil.web.ingest.otlp_traces import OTLPTraces
    from vigil.web.ingest.zipkin import ZipkinSpans
    from vigil.web.jaeger_api import JaegerAPI
    from vigil.web.loki_api import LokiAPI
    from vigil.web.tempo_api import TempoAPI

log = logging.getLogger("vigil.server")


def default_rule_files() -> list[str]:
    """The default alert pack shipped in the package (rules/default/*.yml)."""
    folder = resources.files("vigil") / "rules" / "default"
    return sorted(
        str(folder / entry.name) for entry in folder.iterdir() if entry.name.endswith(".yml")
    )


def default_log_rule_files() -> list[str]:
    """The default pack's log rules (rules/default/logs/*.yml, Loki-ruler files)."""
    folder = resources.files("vigil") / "rules" / "default" / "logs"
    return sorted(
        str(folder / entry.name) for entry in folder.iterdir() if entry.name.endswith(".yml")
    )


TICK_SECONDS = 60.0
_HANDLERS: dict[Any, Callable[..., Any]] = {
    StorageNotReady: storage_not_ready,
    CorruptDataError: storage_corrupt,
}


def _lazy_app(routes: Callable[[], Sequence[BaseRoute]]) -> Starlette:
    """A listener's app: every path goes to `routes`, built by the first request."""
    return Starlette(routes=[LazyRoutes(("/",), routes)], exception_handlers=_HANDLERS)


def self_target(listen_address: str) -> str:
    """The `instance` vigil scrapes itself as: its listen address, on loopback if it
    listens on every address."""
    host, port = parse_listen_address(listen_address)
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def default_config(listen_address: str, self_scrape: SelfScrape | None = None) -> str:
    """What vigil scrapes with no --config.file: itself, which serves this host's metrics."""
    self_scrape = self_scrape or SelfScrape()
    target = self_target(listen_address)
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


class Server:
    """The stages of one `vigil server` process: built here, then run as a list of services
    (started in order, stopped in reverse) and a list of reloaders (applied in order to
    each config, first once the TSDB is open, then on SIGHUP or `POST /-/reload`)."""

    def __init__(
        self,
        options: ServerOptions,
        clock: Clock | None = None,
        on_fatal: Callable[[str], None] | None = None,
        on_quit: Callable[[], None] | None = None,
    ) -> None:
        """`on_fatal` is called when the server cannot go on (the CLI stops the process)."""
        self.options = options
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._on_fatal = on_fatal
        self._on_quit = on_quit  # POST /-/quit (--web.enable-lifecycle) stops the process
        self.failure: str | None = None
        self._logql: LogQLEngine | None = None
        self._logql_lock = threading.Lock()
        self._log_queries_cancelled = False
        self.registry = self_registry()
        self.config, self.config_text = self._load_config()
        self.started = self.clock.now()
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
        self._reloading = asyncio.Lock()
        self._applied: asyncio.Event | None = None
        # The dir is locked here (a second server fails at once); the WAL replays in the
        # background while HTTP is served: until then `tsdb` raises StorageNotReady.
        self.storage = StorageStartup(
            TSDB.prepare(
                options.data_dir, self._tsdb_options(), self.clock.now, registry=self.registry
            )
        )
        self.logs = LogStorage(
            options.logs_path or options.data_dir / "logs",
            LogStoreOptions(
                limits=LogLimits(
                    ingestion_rate_mb=options.logs_ingestion_rate_mb,
                    ingestion_burst_size_mb=options.logs_ingestion_burst_mb,
                ),
                retention_ns=options.logs_retention_ms * 1_000_000,
                retention_bytes=self._disk_budget().logs,
                wal_repair=options.wal_repair,
            ),
            self.clock,
            self.registry,
        )
        self.traces = TraceStorage(
            options.traces_path or options.data_dir / "traces",
            TraceStoreOptions(
                retention_ns=options.traces_retention_ms * 1_000_000,
                retention_bytes=self._disk_budget().traces,
                wal_repair=options.wal_repair,
            ),
            self.clock,
            self.registry,
        )
        self.metrics_generator = MetricsGenerator(
            self.storage.appender,
            self.clock,
            GeneratorOptions(
                guards=SpanGuards(
                    health_user_agents=options.spanmetrics_health_user_agents,
                    health_paths=options.spanmetrics_health_paths,
                    max_span_names=options.spanmetrics_max_span_names,
                ),
                interval_s=options.spanmetrics_interval_s,
            ),
            registry=self.registry,
        )
        # What the trace receivers append to: spans not too far ahead, stored, then observed.
        self.span_appender = FutureSpanGuard(
            ObservingSpanAppender(self.traces, self.metrics_generator),
            self.clock.now,
            options.traces_max_future_ms * 1_000_000,
            self.registry,
        )
        self.otlp_grpc = self._otlp_grpc()  # an address in use stops the start here
        self.manager = ScrapeManager(
            self.storage.appender, clock=self.clock, metrics=ScrapeMetrics(self.registry)
        )
        self.scrape_metadata = scrape_metadata(lambda: self.manager.pools.values())
        # Built when a config first names a remote_write / remote_read (imported then).
        self._remote_write: RemoteWriteStorage | None = None
        self._remote_read: RemoteReadQueryable | None = None
        self._writes_failing = Labels.from_pairs(
            [
                (METRIC_NAME, "vigil_tsdb_writes_failing"),
                ("instance", self_target(options.listen_address)),
                ("job", "vigil"),
            ]
        )
        self.local_engine = Engine(
            LiveSeriesQueryable(
                self._queryable, self._live_series, lambda: int(self.clock.now() * 1000)
            ),
            EngineOptions(
                lookback_delta_ms=options.lookback_delta_ms,
                max_samples=options.query_max_samples,
                timeout_s=options.query_timeout_s,
                default_subquery_step_ms=self.config.global_config.evaluation_interval.milliseconds,
            ),
        )
        self.engine: QueryEngine = self.local_engine
        if options.query_remote_url:
            from vigil.remote.remote_query import RemoteEngine

            self.engine = RemoteEngine(options.query_remote_url, timeout_s=options.query_timeout_s)
        self.notifier = Notifier(
            self.clock,
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
            self.clock,
            registry=self.registry,
            external_url=options.external_url,
            notify=self.notifier.notify_group,
            log_query=self._log_rule_query,
            log_rule_files=options.logs_rule_files,
            packaged_log_rule_files=default_log_rule_files() if options.default_rules else (),
            packaged_rule_files=default_rule_files() if options.default_rules else (),
        )
        # A bad rule file stops the start; the groups are the first application's.
        self._start_rules: list[Group] | None = self.rules.load(self.config)
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
                self.clock,
                registry=self.registry,
                annotate=[
                    AnnotateStage(
                        "last log lines",
                        LastWords(
                            self.logs,
                            self._death_time,
                            external_url=options.external_url,
                        ),
                    )
                ],
            )
        self.dashboards = DashboardStore(options.data_dir / "dashboards")
        self.host_collectors: list[HostCollector] = []
        self.containers: ContainerExporter | None = None
        if options.host_collectors:
            self.host_collectors = build_host_collectors(
                DEFAULT_ENABLED, ExporterOptions(), self.clock.now
            )
            if options.containers is not None:
                from vigil.exporter.containers import build_exporter

                # The agent's container half in-process: cgroups, Docker, OOM kills.
                self.containers = build_exporter(options.containers)
                self.host_collectors += self.containers.collectors
        self.log_collector = self._log_collector()
        self._forwarder: LogForwarder | None = None
        self._span_forwarder: SpanForwarder | None = None
        self.reloaders: list[Reloader[Config]] = [
            Reloader("query", self._apply_query),
            Reloader("remote_read", self._apply_remote_read),
            Reloader("remote_write", self._apply_remote_write),
            Reloader("scrape", self.manager.apply),
            Reloader("notifier", self._apply_notifier),
            Reloader("alertmanager", self._apply_alertmanager),
            Reloader("rules", self._apply_rules),
        ]
        self._services = Services(self._service_list())

    def _service_list(self) -> list[Service]:
        """Stopped in reverse: the loops that write the TSDB end before it closes."""
        services = [
            Service("query", stop=self._close_queriers),
            Service("storage", self.storage.begin, self._close_storage),
            Service("logs", self.logs.start, self.logs.stop),
            Service("traces", self.traces.start, self.traces.stop),
            *self._syslog_service(),
            *(
                [Service("otlp grpc", self.otlp_grpc.start, self.otlp_grpc.stop)]
                if self.otlp_grpc is not None
                else []
            ),
            Service("remote_write", stop=self._stop_remote_write),
            Service("scrape", stop=self.manager.stop),
        ]
        if self.alertmanager is not None:
            services.append(
                Service("alertmanager", self.alertmanager.start, self.alertmanager.stop)
            )
        services += [
            Service("notifier", self._start_notifier, self.notifier.stop),
            Service("rules", stop=self.rules.stop),
            background("config", self._apply_once_storage_is_open),
            background("tsdb maintenance", self._maintain_tsdb),
            background("logs maintenance", self.logs.maintain),
            background("traces maintenance", self.traces.maintain),
            background("span metrics", self.metrics_generator.run),
        ]
        if self.options.heartbeat_url:
            heartbeat = Heartbeat(
                self.options.heartbeat_url,
                self.clock,
                self.health_problem,
                fail_url=self.options.heartbeat_fail_url,
                interval=self.options.heartbeat_interval_s,
                external_url=self.options.external_url,
                registry=self.registry,
            )
            services.append(background("heartbeat", heartbeat.run))
        if self.containers is not None:
            services.append(Service("containers", self._start_containers, self._stop_containers))
        if self.options.logs_forward_url:
            services.append(Service("logs forward", self._start_forward, self._stop_forward))
        if self.options.traces_forward_url:
            services.append(
                Service("traces forward", self._start_span_forward, self._stop_span_forward)
            )
        if self.log_collector is not None:
            collector = self.log_collector
            services.append(
                Service(
                    "log collection",
                    lambda: asyncio.to_thread(collector.start),
                    lambda: asyncio.to_thread(collector.stop),
                )
            )
        services.append(Service("sighup", self._catch_sighup))
        return services

    async def _start_forward(self) -> None:
        from vigil.logs.forward import ForwardOptions, LogForwarder

        forwarder = LogForwarder(
            self.logs.path / "wal",
            self.logs.path / "forward-position.json",
            ForwardOptions(url=self.options.logs_forward_url),
            self.registry,
            self.clock.now,
        )
        forwarder.start()
        self._forwarder = forwarder

    async def _start_span_forward(self) -> None:
        from vigil.traces.forward import SpanForwarder, SpanForwardOptions

        forwarder = SpanForwarder(
            self.traces.path / "wal",
            self.traces.path / "forward-position.json",
            SpanForwardOptions(url=self.options.traces_forward_url),
            self.registry,
            self.clock.now,
        )
        forwarder.start()
        self._span_forwarder = forwarder

    async def _stop_span_forward(self) -> None:
        forwarder, self._span_forwarder = self._span_forwarder, None
        if forwarder is not None:
            await asyncio.to_thread(forwarder.stop)

    async def _stop_forward(self) -> None:
        forwarder, self._forwarder = self._forwarder, None
        if forwarder is not None:
            await asyncio.to_thread(forwarder.stop)

    @property
    def logql(self) -> LogQLEngine:
        """LogQL's engine, imported and built by the first log query (a rule's, in a worker
        thread, or the API's)."""
        from vigil.logs.logql.engine import LogQLEngine

        with self._logql_lock:
            if self._logql is None:
                self._logql = LogQLEngine(
                    self.logs,
                    max_entries=self.options.logs_query_max_entries,
                    timeout_s=self.options.query_timeout_s,
                    clock=self.clock,
                    registry=self.registry,
                )
                if self._log_queries_cancelled:
                    self._logql.cancel()
            return self._logql

    def cancel_queries(self) -> None:
        """Shutdown's first step: running PromQL and LogQL queries stop at their next step or
        batch, and later ones are refused."""
        self.local_engine.cancel()
        with self._logql_lock:
            self._log_queries_cancelled = True
            if self._logql is not None:
                self._logql.cancel()

    def _log_rule_query(self, expr: str, t_ms: int) -> tuple[Sample, ...]:
        return logql_query_func(self.logql)(expr, t_ms)

    def _death_time(self, alert: Alert) -> float | None:
        """When the agent saw the alert's container die (the newest death at the alert's
        start), from its metrics in the TSDB; None when it has none."""
        labels = alert.labels
        selector = ",".join(
            f"{n}={json_quote(labels.get(n))}" for n in ("instance", "job", "name") if labels.get(n)
        )
        expr = f"max(vigil_container_last_death_timestamp_seconds{{{selector}}})"
        try:
            vector = self.engine.instant_query(expr, int(alert.starts_at * 1000) + 1).value
        except (PromQLError, StorageNotReady, CorruptDataError, ValueError):
            return None
        if not isinstance(vector, Vector) or not vector.samples:
            return None
        return vector.samples[0].value

    def _log_collector(self) -> LogCollector | None:
        """This host's container logs, --logs.files and --logs.journal, straight into the log
        store (the in-process twin of `vigil agent --logs.push-url`)."""
        options = self.options
        sources = options.logs_files or options.logs_docker_containers or options.logs_journal
        if not options.logs_collect or not sources:
            return None
        from vigil.exporter.logs import LogCollectionOptions, LogCollector
        from vigil.exporter.logs.journal import JournalOptions
        from vigil.logs.ingest.agent import AppenderSink

        collection = LogCollectionOptions(
            docker_containers=options.logs_docker_containers,
            files=options.logs_files,
            journal=JournalOptions(path=options.logs_journal_path)
            if options.logs_journal
            else None,
            positions_file=self.logs.path / "collected-positions.json",
            stages=(),
        )
        return LogCollector(collection, AppenderSink(self.logs), self.registry, self.clock.now)

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

    def _load_alertmanager_config(self) -> tuple[AlertmanagerConfig, str]:
        path = self.options.alertmanager_config_file
        if path is None:
            text = DEFAULT_ALERTMANAGER_CONFIG.read_text(encoding="utf-8")
            return parse_alertmanager_config(text, KINDS, "(default alertmanager.yml)"), text
        return load_service_config(path)

    def _disk_budget(self) -> DiskBudget:
        tsdb = self.options.retention_bytes or self.config.storage.tsdb.retention_size
        return split_disk_budget(self.options.total_retention_bytes, tsdb)

    def _tsdb_options(self) -> TSDBOptions:
        tsdb = self.config.storage.tsdb
        return TSDBOptions(
            retention_ms=self.options.retention_ms or tsdb.retention_time.milliseconds,
            retention_bytes=self._disk_budget().tsdb,
            out_of_order_time_window_ms=tsdb.out_of_order_time_window.milliseconds,
            block_cache_bytes=self.options.block_cache_bytes,
            max_future_ms=self.options.max_future_ms,
            wal_repair=self.options.wal_repair,
        )

    # --- reloaders --------------------------------------------------------------------

    async def _apply_query(self, config: Config) -> None:
        """Subqueries without a step take the global evaluation_interval, in the API and in
        rules alike (applied first, so rule groups reloaded with it already use it)."""
        step_ms = config.global_config.evaluation_interval.milliseconds
        self.local_engine.reconfigure(
            dataclasses.replace(self.local_engine.options, default_subquery_step_ms=step_ms)
        )

    def _queryable(self, mint: int, maxt: int) -> Querier:
        """The engine's storage: the TSDB, merged with the remote_read stores once a config
        names some."""
        remote = self._remote_read
        return remote(mint, maxt) if remote is not None else self.storage.querier(mint, maxt)

    async def _apply_remote_read(self, config: Config) -> None:
        if config.remote_read and self._remote_read is None:
            from vigil.remote.read import RemoteReadQueryable, oldest_timestamp

            self._remote_read = RemoteReadQueryable(
                self.storage.querier, lambda: oldest_timestamp(self.tsdb)
            )
        if self._remote_read is not None:
            self._remote_read.apply(config.remote_read)

    async def _apply_remote_write(self, config: Config) -> None:
        if config.remote_write and self._remote_write is None:
            from vigil.remote.write import RemoteWriteStorage

            self._remote_write = RemoteWriteStorage(
                self.options.data_dir / "wal",
                self.options.data_dir / "remote_write",
                self.registry,
                metadata_source=self.scrape_metadata,
                clock=self.clock,
            )
        if self._remote_write is not None:
            await self._remote_write.apply(config)

    async def _stop_remote_write(self) -> None:
        if self._remote_write is not None:
            await self._remote_write.stop()

    async def _apply_notifier(self, config: Config) -> None:
        """Alerts go to the in-process Alertmanager when prometheus.yml names no other, or
        when --alertmanager.config.file says vigil is the Alertmanager (a seed-style
        prometheus.yml still naming localhost:9093 must not leave alerts undelivered)."""
        await self.notifier.apply(config)
        named = bool(config.alerting.alertmanagers)
        local = self.alertmanager is not None and (
            not named or self.options.alertmanager_config_file is not None
        )
        if local and named:
            log.warning(
                "alerts go to the built-in Alertmanager (--alertmanager.config.file) and also "
                "to the Alertmanagers prometheus.yml's alerting: section names"
            )
        self.notifier.deliver_locally(self._deliver if local else None)

    async def _apply_alertmanager(self, _: Config) -> None:
        """alertmanager.yml is read again with prometheus.yml; unchanged, it is left running
        (its aggregation groups keep their timers)."""
        if self.alertmanager is None or self.options.alertmanager_config_file is None:
            return
        config, text = load_service_config(self.options.alertmanager_config_file)
        if text != self.alertmanager.config_text:
            await self.alertmanager.apply(config, text)

    async def _apply_rules(self, config: Config) -> None:
        groups, self._start_rules = self._start_rules, None
        if groups is not None:  # the start's own config, its files read moments ago
            self.rules.replace(groups)
            return
        await self.rules.apply(config)

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

    # --- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        self._applied = asyncio.Event()
        await self._services.start()

    async def stop(self) -> None:
        await self._services.stop()

    async def applied(self) -> bool:
        """Wait until the config is first applied (True) or the TSDB failed to open (False)."""
        if not await self.storage.wait():
            return False
        assert self._applied is not None, "start() first"
        await self._applied.wait()
        return True

    async def _apply_once_storage_is_open(self) -> None:
        """Scrapes and rules write the TSDB, so the config is first applied once its WAL is
        replayed; a TSDB that cannot be opened (a corrupt WAL) stops the server."""
        if not await self.storage.wait():
            self.failure = self.storage.status() or "opening the TSDB failed"
            log.critical("vigil server stops: %s", self.failure)
            if self._on_fatal is not None:
                self._on_fatal(self.failure)
            return
        async with self._reloading:
            refused = await apply_all(self.reloaders, self.config)
            self._record_reload(refused)
        assert self._applied is not None
        self._applied.set()

    async def reload(self) -> str | None:
        """SIGHUP and `POST /-/reload`: returns why the reload failed, or None. A config file
        that does not load leaves everything running as it was; a stage that refuses the
        new config keeps its own while the others take theirs."""
        if not await self.applied():
            return self.storage.status() or "opening the TSDB failed"
        async with self._reloading:
            try:
                config, text = self._load_config()
            except (ConfigError, OSError) as err:
                log.error("reloading failed, keeping the running config: %s", err)
                self._record_reload([str(err)])
                return str(err)
            self.config, self.config_text = config, text
            refused = await apply_all(self.reloaders, config)
            self._record_reload(refused)
        if refused:
            return "; ".join(refused)
        log.info("reloaded %s", self.options.config_file or "the default config")
        return None

    def _record_reload(self, refused: list[str]) -> None:
        self.last_reload_ok = not refused
        self._reload_ok.set(0 if refused else 1)
        if not refused:
            self.last_reload_time = self.clock.now()
            self._reload_time.set(self.last_reload_time)

    async def _maintain_tsdb(self) -> None:
        """Cut blocks, compact and apply retention off the event loop, once a minute."""
        if not await self.storage.wait():
            return
        while True:
            await self.clock.sleep_until(self.clock.now() + TICK_SECONDS)
            try:
                await run_in_threadpool(self.tsdb.tick)
            except OSError as err:
                log.error("storage maintenance failed: %s", err)
            except Exception:  # counted (VigilStorageProblems fires); the next minute retries
                log.exception("storage maintenance failed")

    async def _start_notifier(self) -> None:
        self.notifier.start()

    async def _close_storage(self) -> None:
        await run_in_threadpool(self.storage.close)

    async def _close_queriers(self) -> None:
        self.engine.close()
        if self._remote_read is not None:
            self._remote_read.close()

    async def _start_containers(self) -> None:
        assert self.containers is not None
        self.containers.start()

    async def _stop_containers(self) -> None:
        assert self.containers is not None
        self.containers.stop()

    async def _catch_sighup(self) -> None:
        """SIGHUP reloads, as in Prometheus; a loop outside the main thread (tests) cannot
        take signal handlers and raises, which leaves /-/reload as the only way."""
        with contextlib.suppress(RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: asyncio.ensure_future(self.reload())
            )

    def not_ready(self) -> str | None:
        """What `/-/ready` waits for: the TSDB, the log and span stores, then the config's
        first application."""
        status = self.storage.status() or self.logs.status() or self.traces.status()
        if status is None and (self._applied is None or not self._applied.is_set()):
            return "applying the configuration"
        return status

    def _live_series(self) -> list[tuple[Labels, float]]:
        """vigil's own state that queries and rules read live, not from the storage it is
        about: whether that storage can write. It is the newest sample of a series of
        vigil's own target, so it exists only while vigil scrapes itself."""
        if self.storage.status() is not None or not self._scrapes_itself():
            return []
        return [(self._writes_failing, float(self.tsdb.write_health.failure() is not None))]

    def _scrapes_itself(self) -> bool:
        job, instance = self._writes_failing.get("job"), self._writes_failing.get("instance")
        return any(
            target.labels.get("job") == job and target.labels.get("instance") == instance
            for targets in self.manager.active_targets().values()
            for target in targets
        )

    def health_problem(self) -> str | None:
        """Why vigil cannot vouch for itself now (the heartbeat is withheld), or None."""
        status = self.storage.status()
        if status is not None:
            return f"storage: {status}"
        writes = self.tsdb.write_health.problem() or self.logs.problem() or self.traces.problem()
        if writes is not None:
            return writes
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
        return rules_problem(groups, self.clock.now(), self.started)

    def _runtime(self) -> dict[str, Any]:
        return runtime_info(
            RuntimeFacts(
                started=self.started,
                reload_ok=self.last_reload_ok,
                last_reload_time=self.last_reload_time,
                retention_ms=self.options.retention_ms,
                retention_bytes=self.options.retention_bytes,
                corruption_count=int(
                    self.registry.get_sample_value("prometheus_tsdb_wal_corruptions_total") or 0
                ),
            )
        )

    def _syslog_service(self) -> list[Service]:
        address = self.options.syslog_listen_address
        if not address:
            return []
        from vigil.logs.ingest.syslog_listener import SyslogListener

        listener = SyslogListener(
            address,
            lambda: self.logs,
            lambda: round(self.clock.now() * 1e9),
            utc_offset_s=time.localtime().tm_gmtoff,
            registry=self.registry,
        )
        return [Service("syslog", listener.start, listener.stop)]

    # --- the HTTP app ---------------------------------------------------------------------

    @functools.cached_property
    def otlp_metrics(self) -> OTLPReceiver:
        """OTLP metrics into the TSDB, built by the first request (or the gRPC listener)."""
        from vigil.remote.otlp import OTLPReceiver, OTLPSettings

        lookback_ms = self.options.lookback_delta_ms
        return OTLPReceiver(
            self.storage.appender,
            lambda: OTLPSettings(self.config.otlp, lookback_ms),
            enabled=self.options.otlp_receiver,
            registry=self.registry,
        )

    @functools.cached_property
    def otlp_traces(self) -> OTLPTraces:
        from vigil.web.ingest.otlp_traces import OTLPTraces

        return OTLPTraces(lambda: self.span_appender)

    @functools.cached_property
    def zipkin(self) -> ZipkinSpans:
        from vigil.web.ingest.zipkin import ZipkinSpans

        return ZipkinSpans(lambda: self.span_appender)

    @functools.cached_property
    def elasticsearch(self) -> ElasticsearchAPI:
        from vigil.logs.ingest.elasticsearch import BulkOptions
        from vigil.web.ingest.elasticsearch import ElasticsearchAPI

        return ElasticsearchAPI(
            lambda: self.logs,
            BulkOptions(
                message_fields=self.options.elasticsearch_message_fields,
                stream_fields=self.options.elasticsearch_stream_fields,
            ),
            now_ns=lambda: round(self.clock.now() * 1e9),
        )

    def _loki_api(self) -> LokiAPI:
        from vigil.web.loki_api import LokiAPI, LokiContext

        return LokiAPI(
            LokiContext(
                self.logs,
                clock=self.clock,
                not_ready=self.logs.status,
                engine=self.logql,
                rule_groups=self.rules.log_groups,
            )
        )

    def listeners(self) -> list[Listener]:
        """The optional listeners the flags ask for, each serving its API's routes (imported
        by the first request, as on the main port)."""
        wanted: list[tuple[str, str, Callable[[], Sequence[BaseRoute]]]] = [
            ("loki.listen-address", self.options.loki_listen_address, self._loki_listener),
            (
                "elasticsearch.listen-address",
                self.options.elasticsearch_listen_address,
                lambda: [Mount("", app=self.elasticsearch.app())],
            ),
            (
                "jaeger.listen-address",
                self.options.jaeger_listen_address,
                lambda: self._jaeger_api().routes(prefix=""),
            ),
            (
                "tempo.listen-address",
                self.options.tempo_listen_address,
                lambda: self._tempo_api().routes(prefix=""),
            ),
            ("otlp.listen-address", self.options.otlp_listen_address, self._otlp_listener),
            (
                "zipkin.listen-address",
                self.options.zipkin_listen_address,
                lambda: self.zipkin.routes(),
            ),
        ]
        return [
            Listener(flag, address, functools.partial(_lazy_app, routes))
            for flag, address, routes in wanted
            if address
        ]

    def _jaeger_api(self) -> JaegerAPI:
        from vigil.web.jaeger_api import JaegerAPI

        return JaegerAPI(self.traces, self.clock)

    def _tempo_api(self) -> TempoAPI:
        from vigil.web.tempo_api import TempoAPI

        return TempoAPI(self.traces, self.clock, not_ready=self.traces.status)

    def _loki_listener(self) -> list[BaseRoute]:
        """Loki's routes where Loki has them (`/loki/api/v1/*`, `/ready`, push, OTLP logs)."""
        return [*self._loki_api().listener_routes(), *self._log_push_routes()]

    def _otlp_listener(self) -> list[BaseRoute]:
        """OTLP/HTTP at an OpenTelemetry collector's paths, what SDKs send to by default."""
        return [
            *self.otlp_traces.routes("/v1/traces"),
            *self._otlp_logs().routes("/v1/logs"),
            *self.otlp_metrics.listener_routes("/v1/metrics"),
        ]

    def _otlp_grpc(self) -> OTLPGrpc | None:
        if not self.options.otlp_grpc_listen_address:
            return None
        from vigil.web.ingest import otlp_grpc

        exports = {
            otlp_grpc.TRACES: self.otlp_traces.export_protobuf,
            otlp_grpc.LOGS: self._otlp_logs().export_protobuf,
            otlp_grpc.METRICS: self.otlp_metrics.export_protobuf,
        }
        limit = self.otlp_traces.limits.max_decoded_bytes
        return otlp_grpc.OTLPGrpc(self.options.otlp_grpc_listen_address, exports, limit)

    def _otlp_logs(self) -> OTLPLogs:
        from vigil.web.ingest.otlp_logs import OTLPLogs

        return OTLPLogs(lambda: self.logs, now_ns=lambda: round(self.clock.now() * 1e9))

    def _log_push_routes(self) -> list[BaseRoute]:
        """Loki push and OTLP logs, into the log store."""
        from vigil.web.ingest.loki import LokiPush

        return [
            *LokiPush(lambda: self.logs).routes(),
            *self._otlp_logs().routes(),
        ]

    def _metric_names(self) -> frozenset[str]:
        """Every metric name with series in the TSDB, for the Rules page's lint."""
        querier = self.storage.querier(MIN_TIME_MS, MAX_TIME_MS)
        try:
            return frozenset(querier.label_values(METRIC_NAME))
        finally:
            querier.close()

    def _remote_routes(self) -> list[BaseRoute]:
        """Prometheus's remote write and read endpoints and its OTLP metrics receiver."""
        from vigil.remote.read import ReadEndpoint, ReadOptions
        from vigil.remote.receiver import WriteReceiver

        enabled = self.options.remote_write_receiver
        return [
            *WriteReceiver(self.storage.appender, enabled=enabled).routes(),
            *self.otlp_metrics.routes(),
            *ReadEndpoint(
                self.storage.querier,
                lambda: ReadOptions(external_labels=self.config.global_config.external_labels),
            ).routes(),
        ]

    def lazy_routes(self) -> list[LazyRoutes]:
        """The log, trace and remote storage APIs on the main port, imported on their first
        request."""
        return [
            LazyRoutes(
                (
                    "/loki",
                    "/api/prom",
                    "/prometheus/api/v1/rules",
                    "/prometheus/api/v1/alerts",
                    "/otlp/v1/logs",
                ),
                lambda: [*self._loki_api().routes(), *self._log_push_routes()],
            ),
            LazyRoutes(("/elasticsearch",), lambda: self.elasticsearch.routes()),
            LazyRoutes(
                ("/otlp/v1/traces", "/api/v2/spans"),
                lambda: [*self.otlp_traces.routes(), *self.zipkin.routes()],
            ),
            LazyRoutes(
                ("/api/v1/write", "/api/v1/read", "/api/v1/otlp", "/otlp/v1/metrics"),
                self._remote_routes,
            ),
            LazyRoutes(
                ("/jaeger", "/tempo"),
                lambda: [*self._jaeger_api().routes(), *self._tempo_api().routes()],
            ),
        ]

    def app(self) -> Starlette:
        options = self.options
        api = PrometheusAPI(
            APIContext(
                engine=self.engine,
                queryable=self.storage.querier,
                clock=self.clock.now,
                flags=server_flags.shown(options),
                config_yaml=lambda: self.config_text,
                tsdb_stats=lambda: tsdb_status(self.tsdb),
                metadata=lambda: family_metadata(self.scrape_metadata()),
                runtime=self._runtime,
                max_concurrency=options.query_max_concurrency,
            )
        )

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        routes = [
            *UIAssets().routes(),
            *Lifecycle(
                enabled=options.enable_lifecycle,
                not_ready=self.not_ready,
                reload=self.reload,
                quit_=self._on_quit,
            ).routes(),
            Route(
                "/metrics",
                metrics_endpoint(
                    ScrapeCollector(self.host_collectors, time.perf_counter), self.registry
                ),
            ),
            *AdminAPI(
                options.enable_admin_api,
                lambda with_head: snapshot(self.tsdb, with_head, self.clock.now()),
            ).routes(),
            *api.routes(),
            *TargetsAPI(self.manager, GlobalURLOptions()).routes(),
            *RulesAPI(self.rules, self._metric_names).routes(),
            *DashboardsAPI(self.dashboards).routes(),
            *alertmanagers_routes(self.notifier.alertmanagers),
            *self.lazy_routes(),
            *SlowSQLAPI(lambda: self.metrics_generator).routes(),
        ]
        if self.alertmanager is not None:
            build = BuildInfo(version=ALERTMANAGER_API_VERSION, branch="vigil")
            routes += AlertmanagerAPI(self.alertmanager, build).routes(lifecycle=False)
        return Starlette(routes=routes, lifespan=lifespan, exception_handlers=_HANDLERS)
