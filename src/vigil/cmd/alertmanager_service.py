"""Alertmanager in one object, for `vigil alertmanager` and inside `vigil server`: the config
becomes a routing tree, an inhibitor and a notification pipeline; the state (alerts,
silences, notification log) outlives reloads, and silences and the log outlive restarts."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Route

import vigil
from vigil.alerting import route as routing
from vigil.alerting._api import Notification, Stage
from vigil.alerting._snapshot import SnapshotError
from vigil.alerting.dispatch import Dispatcher, DispatcherMetrics
from vigil.alerting.inhibit import Inhibitor
from vigil.alerting.marker import AlertStatus, Marker
from vigil.alerting.nflog import DedupStage, NotificationLog, ReceiverKey, RecordStage
from vigil.alerting.pipeline import FanoutStage, MultiStage, MuteStage, RoutingStage
from vigil.alerting.route import build_tree
from vigil.alerting.silences import Silence, SilenceError, SilenceNotFound, Silences
from vigil.alerting.silences import SilenceState as _SilenceState
from vigil.alerting.store import AlertStore
from vigil.alerting.timeinterval import TimeActiveStage, TimeMuteStage
from vigil.config import ConfigError
from vigil.config.alertmanager import Config, Receiver, load_config
from vigil.model.alert import Alert
from vigil.model.clock import Clock
from vigil.notify.kinds import KINDS
from vigil.notify.metrics import NotifyMetrics
from vigil.web import alertmanager_api as api
from vigil.web.metrics import metrics_endpoint

if TYPE_CHECKING:
    from vigil.notify.template import Templates

log = logging.getLogger("vigil.alertmanager")

DEFAULT_RETENTION = 120 * 3600.0
MAINTENANCE_INTERVAL = 15 * 60.0
PERSIST_INTERVAL = 0.05
"""Seconds between notification log writes after notifications (see `_Persist`)."""
GC_INTERVAL = 30 * 60.0
SILENCES_FILE = "silences"
NFLOG_FILE = "nflog"


@dataclass(frozen=True, slots=True)
class AlertmanagerOptions:
    storage_path: Path
    config_file: Path | None = None
    external_url: str = ""
    retention: float = DEFAULT_RETENTION
    maintenance_interval: float = MAINTENANCE_INTERVAL


class _Pipeline:
    """What one config builds: the route tree, the inhibitor and the receivers' stages."""

    def __init__(self, service: AlertmanagerService, config: Config) -> None:
        self.config = config
        self.tree = build_tree(config)
        self.templates: Templates | None = None
        self.inhibitor = Inhibitor(config.inhibit_rules, service.marker, service.clock)
        intervals = {interval.name: interval for interval in config.time_intervals}
        by_receiver: dict[str, Stage] = {}
        for receiver in config.receivers:
            integrations = self._integrations(service, receiver)
            by_receiver[receiver.name] = MultiStage(
                [
                    MuteStage(self.inhibitor),
                    TimeActiveStage(intervals),
                    TimeMuteStage(intervals),
                    MuteStage(service.silences),
                    *service.annotate,
                    FanoutStage(integrations),
                ]
            )
        self.stage = RoutingStage(by_receiver)

    def _integrations(self, service: AlertmanagerService, receiver: Receiver) -> list[Stage]:
        """Each integration's dedup, retry and record stages. Receivers that send nowhere
        (the default config's) load no sender, HTTP client or template: `templates` stays
        None until a receiver has an integration."""
        if not receiver.integrations:
            return []
        from vigil.notify.receivers import build_integrations
        from vigil.notify.retry import RetryStage
        from vigil.notify.template import Templates

        if self.templates is None:
            self.templates = Templates.load(self.config.templates, service.clock.now)
        stages: list[Stage] = []
        for integration in build_integrations(
            self.config, receiver.name, self.templates, service.external_url, service.clock.now
        ):
            key = ReceiverKey(receiver.name, integration.name, integration.index)
            stages.append(
                MultiStage(
                    [
                        DedupStage(service.nflog, key, integration.send_resolved),
                        RetryStage(integration, service.notify_metrics, service.clock),
                        RecordStage(service.nflog, key),
                        service.persist,
                    ]
                )
            )
        return stages


class _Persist:
    """Writes the notification log after each notification, so a `kill -9` right after a
    send does not send it again after the restart; a notification leaves this stage once a
    snapshot holding its record is on disk.

    Group commit: one write at a time, at most one per `PERSIST_INTERVAL`, shared by every
    notification recorded meanwhile (a burst of groups flushing together would otherwise
    rewrite the whole log once per group). The first record after a quiet spell is written
    at once.
    """

    def __init__(self, save: Callable[[], None]) -> None:
        self._save = save
        self._next: asyncio.Future[None] | None = None
        self._last_write = -PERSIST_INTERVAL

    async def exec(self, notification: Notification) -> Notification | None:
        if self._next is None:
            self._next = asyncio.ensure_future(self._write())
        await asyncio.shield(self._next)
        return notification

    async def _write(self) -> None:
        await asyncio.sleep(max(0.0, self._last_write + PERSIST_INTERVAL - time.monotonic()))
        self._next = None  # records from here on wait for the next write
        self._save()
        self._last_write = time.monotonic()

    async def idle(self) -> None:
        """Returns once the pending write, if any, is done."""
        if self._next is not None:
            await asyncio.gather(self._next, return_exceptions=True)


class AlertmanagerService:
    """Implements `web.alertmanager_api.AlertmanagerCore` over vigil's alerting stages."""

    def __init__(
        self,
        config: Config,
        config_text: str,
        options: AlertmanagerOptions,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        annotate: Sequence[Stage] = (),
    ) -> None:
        """`annotate`: stages that add annotations to a group's alerts once it is not muted,
        before it is sent (vigil server adds a dying container's last log lines)."""
        self.options = options
        self.clock = clock
        self.annotate = tuple(annotate)
        self.registry = registry if registry is not None else CollectorRegistry()
        self.external_url = options.external_url
        self.started_at = clock.now()
        self.marker = Marker()
        self.silences = Silences(clock, self.marker, options.retention)
        self.nflog = NotificationLog(clock, options.retention)
        self.notify_metrics = NotifyMetrics(self.registry)
        self.persist = _Persist(self.save_nflog)
        self._dispatcher_metrics = DispatcherMetrics(self.registry)
        self.store = AlertStore(
            clock,
            config.global_config.resolve_timeout.seconds,
            registry=self.registry,
            state_of=lambda fp: self.marker.status(fp).state,
        )
        self._received = Counter(
            "alertmanager_alerts_received_total",
            "The total number of received alerts.",
            ["status"],
            registry=self.registry,
        )
        self._received_firing = self._received.labels("firing")
        self._received_resolved = self._received.labels("resolved")
        self._invalid = Counter(
            "alertmanager_alerts_invalid_total",
            "The total number of received alerts that were invalid.",
            registry=self.registry,
        )
        self._reload_ok = Gauge(
            "alertmanager_config_last_reload_successful",
            "Whether the last configuration reload attempt was successful.",
            registry=self.registry,
        )
        self._reload_time = Gauge(
            "alertmanager_config_last_reload_success_timestamp_seconds",
            "Timestamp of the last successful configuration reload.",
            registry=self.registry,
        )
        self._silences_gauge = Gauge(
            "alertmanager_silences",
            "How many silences by state.",
            ["state"],
            registry=self.registry,
        )
        for state in _SilenceState:
            self._silences_gauge.labels(str(state)).set_function(self._silence_counter(state))
        self.config = config
        self.config_text = config_text
        self._pipeline = _Pipeline(self, config)
        self._dispatcher: Dispatcher | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._reload_ok.set(1)
        self._reload_time.set(self.started_at)
        options.storage_path.mkdir(parents=True, exist_ok=True)
        self._load_state()

    def _silence_counter(self, state: _SilenceState) -> Callable[[], float]:
        return lambda: self.silences.count(state)

    # ---- lifecycle

    def _load_state(self) -> None:
        for what, path, load in (
            ("silences", self._path(SILENCES_FILE), self.silences.load),
            ("notification log", self._path(NFLOG_FILE), self.nflog.load),
        ):
            if load(str(path)):
                log.info("loaded %s from %s", what, path)

    def _path(self, name: str) -> Path:
        return self.options.storage_path / name

    async def start(self) -> None:
        self._subscribe()
        self._start_dispatcher()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self.store.run_gc()),
            loop.create_task(self._maintain()),
        ]

    def _subscribe(self) -> None:
        pipeline = self._pipeline

        def on_delete(alerts: Sequence[Alert]) -> None:
            for alert in alerts:
                pipeline.inhibitor.forget(alert.fingerprint)
                self.marker.delete(alert.fingerprint)

        if self._unsubscribe is not None:
            self._unsubscribe()
        pipeline.inhibitor.observe_all(self.store.list())
        self._unsubscribe = self.store.subscribe_batches(pipeline.inhibitor.observe_all, on_delete)

    def _start_dispatcher(self) -> None:
        self._dispatcher = Dispatcher(
            self._pipeline.tree,
            self.store,
            self._pipeline.stage,
            self.clock,
            metrics=self._dispatcher_metrics,
        )
        self._dispatcher.start()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        await self.persist.idle()
        self.save_silences()
        self.save_nflog()

    async def _maintain(self) -> None:
        """Alertmanager's maintenance: drop expired silences and log entries, snapshot both."""
        while True:
            await self.clock.sleep_until(self.clock.now() + self.options.maintenance_interval)
            self.silences.gc()
            self.nflog.gc()
            self.save_silences()
            self.save_nflog()

    def save_silences(self) -> None:
        try:
            self.silences.snapshot(str(self._path(SILENCES_FILE)))
        except OSError as err:
            log.error("writing the silences snapshot failed: %s", err)

    def save_nflog(self) -> None:
        try:
            self.nflog.snapshot(str(self._path(NFLOG_FILE)))
        except OSError as err:
            log.error("writing the notification log snapshot failed: %s", err)

    async def apply(self, config: Config, text: str) -> None:
        """Swap in a new config; alerts, silences and the notification log stay."""
        pipeline = _Pipeline(self, config)
        if self._dispatcher is not None:
            await self._dispatcher.stop()
        self.config, self.config_text, self._pipeline = config, text, pipeline
        self.store.resolve_timeout = config.global_config.resolve_timeout.seconds
        self._subscribe()
        self._start_dispatcher()
        self._reload_ok.set(1)
        self._reload_time.set(self.clock.now())

    async def reload(self) -> bool:
        """SIGHUP and `POST /-/reload`: a config that fails to load keeps the running one."""
        path = self.options.config_file
        if path is None:
            return True
        try:
            config, text = load_service_config(path)
            await self.apply(config, text)
        except (ConfigError, OSError, ServiceConfigError) as err:
            log.error("reloading %s failed, keeping the running config: %s", path, err)
            self._reload_ok.set(0)
            return False
        log.info("reloaded %s", path)
        return True

    # ---- AlertmanagerCore

    def now(self) -> float:
        return self.clock.now()

    @property
    def resolve_timeout(self) -> float:
        return self.config.global_config.resolve_timeout.seconds

    def put_alerts(self, alerts: Sequence[Alert]) -> list[str]:
        now = self.clock.now()
        resolved = sum(1 for alert in alerts if alert.ends_at != 0.0 and alert.ends_at <= now)
        if resolved:
            self._received_resolved.inc(resolved)
        if len(alerts) > resolved:
            self._received_firing.inc(len(alerts) - resolved)
        invalid = self.store.put(alerts)
        self._invalid.inc(len(invalid))
        return [problem.message for problem in invalid]

    def alerts(self) -> list[Alert]:
        return self.store.list()

    def alert_status(self, alert: Alert) -> AlertStatus:
        """As Alertmanager's API does, decide the mute state afresh before showing it."""
        self._pipeline.inhibitor.mutes(alert.labels, alert.fingerprint)
        self.silences.mutes(alert.labels, alert.fingerprint)
        return self.marker.status(alert.fingerprint)

    def receivers_for(self, alert: Alert) -> list[str]:
        if self._dispatcher is None:
            return [route.receiver for route in self._pipeline.tree.match(alert.labels)]
        return [route.receiver for route, _ in self._dispatcher.destinations(alert)]

    def alert_groups(self) -> list[api.AlertGroupView]:
        if self._dispatcher is None:
            return []
        groups, receivers = self._dispatcher.groups()
        return [
            api.AlertGroupView(
                g.labels, g.receiver, g.alerts, tuple(receivers[a.fingerprint] for a in g.alerts)
            )
            for g in groups
        ]

    def list_silences(self) -> list[api.SilenceView]:
        now = self.clock.now()
        return [_view(s, now) for s in self.silences.query()]

    def get_silence(self, silence_id: str) -> api.SilenceView | None:
        try:
            return _view(self.silences.get(silence_id), self.clock.now())
        except SilenceNotFound:
            return None

    def set_silence(self, silence: api.SilenceView) -> str:
        try:
            silence_id = self.silences.set(
                Silence(
                    id=silence.id,
                    matchers=silence.matchers,
                    starts_at=silence.starts_at,
                    ends_at=silence.ends_at,
                    created_by=silence.created_by,
                    comment=silence.comment,
                )
            )
        except SilenceNotFound as err:
            raise api.SilenceError(str(err), not_found=True) from None
        except SilenceError as err:
            raise api.SilenceError(str(err)) from None
        self.save_silences()
        return silence_id

    def expire_silence(self, silence_id: str) -> None:
        try:
            self.silences.expire(silence_id)
        except SilenceNotFound as err:
            raise api.SilenceError(str(err), not_found=True) from None
        except SilenceError as err:
            raise api.SilenceError(str(err)) from None
        self.save_silences()

    def receiver_names(self) -> list[str]:
        return [receiver.name for receiver in self.config.receivers]

    def sends_nowhere(self) -> bool:
        return self.config.sends_nowhere()

    def route_tree(self) -> routing.Route:
        return self._pipeline.tree

    def receivers(self) -> Sequence[Receiver]:
        return self.config.receivers

    async def test_receiver(self, name: str) -> list[tuple[str, bool, str]]:
        from vigil.notify.receivers import test_receiver

        results = await test_receiver(
            self.config, name, self.clock, self._pipeline.templates, self.external_url
        )
        return [(r.integration, r.ok, r.detail) for r in results]

    def status_config(self) -> str:
        """The config as `/api/v2/status` shows it, secrets hidden as Alertmanager hides them."""
        return self.config.shown


def _view(silence: Silence, now: float) -> api.SilenceView:
    return api.SilenceView(
        id=silence.id,
        matchers=silence.matchers,
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        comment=silence.comment,
        updated_at=silence.updated_at,
        state=str(silence.state(now)),
    )


class ServiceConfigError(Exception):
    """A config that loads but that vigil cannot run: a template that does not parse, a
    receiver kind or HTTP setting vigil has no sender for."""


def load_service_config(path: Path) -> tuple[Config, str]:
    """The config and its text; also checks that its templates parse and every integration
    has a sender, so a config vigil cannot honour fails at load, not at the first alert.
    Raises ConfigError, OSError or ServiceConfigError."""
    config = load_config(str(path), KINDS)
    check_service_config(config)
    return config, path.read_text(encoding="utf-8")


def check_service_config(config: Config) -> None:
    if not config.templates and not any(receiver.integrations for receiver in config.receivers):
        return  # no template to parse, no sender to build: nothing to import for them
    from vigil.notify.receivers import UnsupportedIntegration, build_integrations
    from vigil.notify.template import Templates
    from vigil.template import TemplateError

    try:
        templates = Templates.load(config.templates)
        for receiver in config.receivers:
            build_integrations(config, receiver.name, templates, "", time.time)
    except (TemplateError, UnsupportedIntegration) as err:
        raise ServiceConfigError(str(err)) from None


# --------------------------------------------------------------------------- standalone


def alertmanager_app(service: AlertmanagerService, route_prefix: str = "") -> Starlette:
    """`vigil alertmanager`: API v2, lifecycle endpoints and self-metrics on one port."""
    build = api.BuildInfo(
        version=api.ALERTMANAGER_API_VERSION, branch="vigil", revision=vigil.__version__
    )
    routes: list[BaseRoute] = [
        *api.AlertmanagerAPI(service, build, reload=service.reload, prefix=route_prefix).routes(),
        Route(f"{route_prefix}/metrics", metrics_endpoint(service.registry)),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await service.start()
        # What startup made (modules, parsed templates, the config) lives as long as the
        # process: moved out of the collector's sight, full collections no longer walk it
        # (they took a quarter of alert ingestion's time). Undone at shutdown.
        gc.collect()
        gc.freeze()
        # SIGHUP reloads, as in Alertmanager; a loop outside the main thread (tests) cannot
        # take signal handlers, which leaves /-/reload.
        with contextlib.suppress(RuntimeError, ValueError):
            asyncio.get_running_loop().add_signal_handler(
                signal.SIGHUP, lambda: asyncio.ensure_future(service.reload())
            )
        try:
            yield
        finally:
            gc.unfreeze()
            await service.stop()

    return Starlette(routes=routes, lifespan=lifespan)


def storage_error(path: Path) -> str | None:
    """Why `--storage.path` cannot be used, naming the path and the permission; None if fine."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return f"cannot create --storage.path {path}: {err.strerror or err}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"--storage.path {path} is not writable by this user (uid {os.getuid()})"
    return None


__all__ = [
    "AlertmanagerOptions",
    "AlertmanagerService",
    "ServiceConfigError",
    "SnapshotError",
    "alertmanager_app",
    "load_service_config",
    "storage_error",
]
