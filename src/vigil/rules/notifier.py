"""The notifier: Prometheus's notifier.Manager. Firing and resolved alerts are handed over after
each group evaluation (`notify_group`, Prometheus's sendAlerts), relabeled, queued (bounded,
oldest dropped first) and POSTed in batches to every Alertmanager that `alerting.alertmanagers`
discovers, with Alertmanager's v2 API. A batch that fails is counted and dropped, never
retried: still-active alerts are sent again every resend delay, which is what heals a gap."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

from vigil import __version__
from vigil.config.alerting import AlertmanagerConfig
from vigil.config.http_client import async_client
from vigil.config.prometheus import Config
from vigil.config.relabel import RelabelConfig
from vigil.config.shown import redact_url
from vigil.model import Labels
from vigil.model.clock import Clock
from vigil.rules.alerting import Alert, AlertingRule, AlertState
from vigil.rules.group import Group
from vigil.rules.query import RuleHealth
from vigil.scrape.discovery import Discoverer, FileDiscovery, HTTPDiscovery, StaticDiscovery
from vigil.scrape.relabel import ADDRESS, ALERTS_PATH, SCHEME, TargetError, alertmanager_labels
from vigil.scrape.relabel import relabel as relabel_labels

log = logging.getLogger("vigil.notifier")

DEFAULT_QUEUE_CAPACITY = 10_000
DEFAULT_RESEND_DELAY_MS = 60_000
MAX_BATCH_SIZE = 64
IN_PROCESS = "in-process"
"""The `alertmanager` label of alerts handed to vigil's own Alertmanager."""
_USER_AGENT = f"vigil/{__version__}"
_NO_LABELS = Labels()
_GO_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


@dataclass(frozen=True, slots=True)
class PostableAlert:
    """One alert as the Alertmanager API receives it; times are ms since the epoch."""

    labels: Labels
    annotations: Labels
    starts_at_ms: int
    ends_at_ms: int
    generator_url: str = ""

    def to_json(self) -> dict[str, object]:
        """Alertmanager's models.PostableAlert, keys in the order Prometheus writes them."""
        out: dict[str, object] = {}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out["endsAt"] = _rfc3339_millis(self.ends_at_ms)
        out["startsAt"] = _rfc3339_millis(self.starts_at_ms)
        if self.generator_url:
            out["generatorURL"] = self.generator_url
        out["labels"] = dict(self.labels)
        return out


@dataclass(frozen=True, slots=True)
class NotifierOptions:
    """`--alertmanager.notification-queue-capacity`, `--rules.alert.resend-delay`,
    `--web.external-url` (the base of each alert's generatorURL)."""

    queue_capacity: int = DEFAULT_QUEUE_CAPACITY
    resend_delay_ms: int = DEFAULT_RESEND_DELAY_MS
    max_batch_size: int = MAX_BATCH_SIZE
    external_url: str = ""
    drain_on_shutdown: bool = True


def encode_alerts(alerts: Sequence[PostableAlert]) -> bytes:
    """The request body: compact JSON, with Go's HTML escaping of `<`, `>` and `&`."""
    text = json.dumps([a.to_json() for a in alerts], separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_HTML_ESCAPES.items():
        text = text.replace(char, escaped)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029").encode()


def _rfc3339_millis(t_ms: int) -> str:
    """go-openapi's strfmt.DateTime: RFC 3339 with milliseconds, here always in UTC."""
    instant = datetime.fromtimestamp(t_ms // 1000, UTC)
    return f"{instant:%Y-%m-%dT%H:%M:%S}.{t_ms % 1000:03d}Z"


def generator_url(external_url: str, expr: str) -> str:
    """Prometheus's externalURL + strutil.TableLinkForExpression(expr) (the rule's expression
    as written: Prometheus prints its parsed form, which for most rules is the same text)."""
    query = urllib.parse.quote_plus(expr.strip(), safe="")
    return f"{external_url}/graph?g0.expr={query}&g0.tab=1"


def alerts_to_send(
    rule: AlertingRule, t_ms: int, resend_delay_ms: int, interval_ms: int
) -> list[Alert]:
    """Prometheus's AlertingRule.sendAlerts at evaluation time `t_ms`: every firing or
    resolved alert not sent since it last changed or for longer than the resend delay. Marks
    them sent and valid for 4 × max(resend delay, interval), two missed evaluations or sends
    with room to spare."""
    due: list[Alert] = []
    for alert in rule.all_alerts():
        if not _needs_sending(alert, t_ms, resend_delay_ms):
            continue
        alert.last_sent_ms = t_ms
        alert.valid_until_ms = t_ms + 4 * max(resend_delay_ms, interval_ms)
        due.append(alert)
    return due


def _needs_sending(alert: Alert, t_ms: int, resend_delay_ms: int) -> bool:
    if alert.state == AlertState.PENDING:
        return False
    if alert.resolved_at_ms > alert.last_sent_ms:
        return True
    return alert.last_sent_ms + resend_delay_ms < t_ms


def to_postable(alert: Alert, url: str) -> PostableAlert:
    """cmd/prometheus's sendAlerts: startsAt is when the alert fired; endsAt when it resolved,
    or until when a firing alert is valid if Prometheus goes silent."""
    ends_at = alert.resolved_at_ms if alert.resolved_at_ms else alert.valid_until_ms
    return PostableAlert(alert.labels, alert.annotations, alert.fired_at_ms, ends_at, url)


def relabel_alerts(
    alerts: Iterable[PostableAlert],
    configs: Sequence[RelabelConfig],
    external_labels: Labels = _NO_LABELS,
) -> list[PostableAlert]:
    """External labels the alert lacks are added, then `configs` applied; dropped alerts vanish."""
    out: list[PostableAlert] = []
    for alert in alerts:
        labels = alert.labels
        if external_labels:
            missing = {k: v for k, v in external_labels if not labels.get(k)}
            if missing:
                labels = Labels.from_dict({**dict(labels), **missing})
        relabeled = relabel_labels(labels, configs)
        if relabeled is None:
            continue
        out.append(
            PostableAlert(
                relabeled,
                alert.annotations,
                alert.starts_at_ms,
                alert.ends_at_ms,
                alert.generator_url,
            )
        )
    return out


class NotifierMetrics:
    """Prometheus's own notifier metrics, by the same names."""

    def __init__(
        self,
        registry: CollectorRegistry,
        capacity: int,
        queue_length: Callable[[], int],
        discovered: Callable[[], int],
    ) -> None:
        self.latency = Summary(
            "prometheus_notifications_latency_seconds",
            "Latency quantiles for sending alert notifications.",
            ["alertmanager"],
            registry=registry,
        )
        self.errors = Counter(
            "prometheus_notifications_errors_total",
            "Total number of sent alerts affected by errors.",
            ["alertmanager"],
            registry=registry,
        )
        self.sent = Counter(
            "prometheus_notifications_sent_total",
            "Total number of alerts sent.",
            ["alertmanager"],
            registry=registry,
        )
        self.dropped = Counter(
            "prometheus_notifications_dropped_total",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            registry=registry,
        )
        self.queue_length = Gauge(
            "prometheus_notifications_queue_length",
            "The number of alert notifications in the queue.",
            registry=registry,
        )
        self.queue_length.set_function(lambda: float(queue_length()))
        self.queue_capacity = Gauge(
            "prometheus_notifications_queue_capacity",
            "The capacity of the alert notifications queue.",
            registry=registry,
        )
        self.queue_capacity.set(capacity)
        self.discovered = Gauge(
            "prometheus_notifications_alertmanagers_discovered",
            "The number of alertmanagers discovered and active.",
            registry=registry,
        )
        self.discovered.set_function(lambda: float(discovered()))

    def track(self, url: str) -> None:
        """A newly discovered Alertmanager's counters start at 0."""
        self.sent.labels(url)
        self.errors.labels(url)

    def forget(self, url: str) -> None:
        for metric in (self.latency, self.sent, self.errors):
            with contextlib.suppress(KeyError):
                metric.remove(url)


@dataclass(slots=True)
class AlertmanagerSet:
    """One `alertmanagers` entry: its discovery, its HTTP client, and the deduplicated URLs
    of the Alertmanagers it currently finds."""

    config: AlertmanagerConfig
    client: httpx.AsyncClient
    discoverers: list[Discoverer]
    metrics: NotifierMetrics
    urls: list[str] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def sync(self) -> None:
        """Prometheus's alertmanagerSet.sync: a group whose target is not host:port is
        skipped (and logged), the others kept."""
        urls: list[str] = []
        for discoverer in self.discoverers:
            for group in discoverer.groups():
                try:
                    found = [alertmanager_labels(t, self.config) for t in group.discovered()]
                except TargetError as err:
                    log.error("creating discovered Alertmanagers failed: %s", err)
                    continue
                for labels in found:
                    if labels is None:
                        continue
                    url = f"{labels.get(SCHEME)}://{labels.get(ADDRESS)}{labels.get(ALERTS_PATH)}"
                    if url not in urls:
                        urls.append(url)
        for url in urls:
            self.metrics.track(url)
        for url in self.urls:
            if url not in urls:
                self.metrics.forget(url)
        self.urls = urls

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()
        await self.client.aclose()


class Notifier:
    """Queues alerts and sends them to the configured Alertmanagers; `apply(config)` on start
    and every reload, `start()` runs the send loop, `stop()` drains the queue and ends it."""

    def __init__(
        self,
        clock: Clock,
        registry: CollectorRegistry | None = None,
        options: NotifierOptions = NotifierOptions(),
        transport: httpx.AsyncBaseTransport | None = None,
        timer: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._clock = clock
        self._options = options
        self._transport = transport
        self._timer = timer
        self._queue: deque[PostableAlert] = deque()
        self._sets: list[AlertmanagerSet] = []
        self._external_labels = _NO_LABELS
        self._relabel_configs: tuple[RelabelConfig, ...] = ()
        self._more = asyncio.Event()
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._local: Callable[[Sequence[PostableAlert]], None] | None = None
        self.metrics = NotifierMetrics(
            registry if registry is not None else CollectorRegistry(),
            options.queue_capacity,
            lambda: len(self._queue),
            lambda: len(self.alertmanagers()),
        )

    @property
    def options(self) -> NotifierOptions:
        return self._options

    def alertmanagers(self) -> list[str]:
        """The URLs alerts are POSTed to (what /api/v1/alertmanagers lists as active)."""
        return [url for s in self._sets for url in s.urls]

    def queue_length(self) -> int:
        return len(self._queue)

    # --- configuration ------------------------------------------------------------------

    async def apply(self, config: Config) -> None:
        """Take `config`'s external labels, alert relabeling and Alertmanagers; an entry whose
        config did not change keeps its discovered Alertmanagers and discovery."""
        self._external_labels = config.global_config.external_labels
        self._relabel_configs = config.alerting.alert_relabel_configs
        old = list(self._sets)
        sets: list[AlertmanagerSet] = []
        for am_config in config.alerting.alertmanagers:
            reused = next((s for s in old if s.config == am_config), None)
            if reused is not None:
                old.remove(reused)
                sets.append(reused)
            else:
                sets.append(self._new_set(am_config))
        self._sets = sets
        for stale in old:
            for url in stale.urls:
                self.metrics.forget(url)
            await stale.close()

    def _new_set(self, config: AlertmanagerConfig) -> AlertmanagerSet:
        if config.sigv4 is not None:
            log.warning("alertmanager config line %d: sigv4 is not supported", config.line)
        discovery = config.discovery
        discoverers: list[Discoverer] = [StaticDiscovery(discovery.static_configs)]
        for file_sd in discovery.file_sd_configs:
            files = FileDiscovery(file_sd, self._clock)
            files.refresh()
            discoverers.append(files)
        for http_sd in discovery.http_sd_configs:
            discoverers.append(
                HTTPDiscovery(
                    http_sd,
                    self._clock,
                    async_client(http_sd.http_client, transport=self._transport),
                )
            )
        am_set = AlertmanagerSet(
            config,
            async_client(config.http_client, transport=self._transport),
            discoverers,
            self.metrics,
        )
        am_set.sync()
        loop = asyncio.get_running_loop()
        am_set.tasks = [loop.create_task(d.run(am_set.sync)) for d in discoverers]
        return am_set

    def deliver_locally(self, sink: Callable[[Sequence[PostableAlert]], None] | None) -> None:
        """Also hand every batch to the in-process Alertmanager (no network hop); None stops."""
        self._local = sink

    # --- queueing -----------------------------------------------------------------------

    def notify_group(self, group: Group, t_ms: int) -> None:
        """The rule manager's hook after `group` evaluated at `t_ms`: each alerting rule that
        evaluated cleanly hands over the alerts due for sending."""
        for rule in group.alerting_rules():
            if rule.health != RuleHealth.OK or rule.last_evaluation_ms != t_ms:
                continue
            due = alerts_to_send(rule, t_ms, self._options.resend_delay_ms, group.interval_ms)
            if due:
                url = generator_url(self._options.external_url, rule.expr)
                self.send([to_postable(alert, url) for alert in due])

    def send(self, alerts: Sequence[PostableAlert]) -> None:
        """Queue `alerts` (external labels and alert_relabel_configs applied); a full queue
        drops its oldest alerts, counted in prometheus_notifications_dropped_total."""
        kept = relabel_alerts(alerts, self._relabel_configs, self._external_labels)
        if not kept:
            return
        capacity = self._options.queue_capacity
        if len(kept) > capacity:
            log.warning("alert batch larger than queue capacity, dropping %d", len(kept) - capacity)
            self.metrics.dropped.inc(len(kept) - capacity)
            kept = kept[len(kept) - capacity :]
        overflow = len(self._queue) + len(kept) - capacity
        if overflow > 0:
            log.warning("alert notification queue full, dropping %d alerts", overflow)
            self.metrics.dropped.inc(overflow)
            for _ in range(overflow):
                self._queue.popleft()
        self._queue.extend(kept)
        self._more.set()

    # --- sending ------------------------------------------------------------------------

    def start(self) -> None:
        if self._loop_task is None:
            self._stopping = False
            self._loop_task = asyncio.get_running_loop().create_task(self._send_loop())

    async def stop(self) -> None:
        """Let the batch in flight finish, send what is queued (unless draining is off),
        then end discovery and close the clients."""
        if self._loop_task is not None:
            self._stopping = True
            self._more.set()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
            self._loop_task = None
        if self._options.drain_on_shutdown:
            await self.flush()
        elif self._queue:
            self.metrics.dropped.inc(len(self._queue))
            self._queue.clear()
        sets, self._sets = self._sets, []
        for am_set in sets:
            await am_set.close()

    async def flush(self) -> None:
        """Send batches until the queue is empty."""
        while self._queue:
            await self.send_one_batch()

    async def _send_loop(self) -> None:
        while True:
            await self._more.wait()
            self._more.clear()
            if self._stopping:
                return
            await self.send_one_batch()
            if self._queue:
                self._more.set()

    async def send_one_batch(self) -> None:
        """Send up to max_batch_size queued alerts to every Alertmanager; when some entry of
        `alertmanagers` had a target yet none of them took the batch, it counts as dropped."""
        size = min(len(self._queue), self._options.max_batch_size)
        batch = [self._queue.popleft() for _ in range(size)]
        if batch and not await self._send_all(batch):
            self.metrics.dropped.inc(len(batch))

    async def _send_all(self, alerts: list[PostableAlert]) -> bool:
        begin = self._timer()
        if self._local is not None:
            self._local(alerts)
            self.metrics.sent.labels(IN_PROCESS).inc(len(alerts))
        shared_payload = b""
        posts = []
        for am_set in list(self._sets):
            if not am_set.urls:
                continue
            am_alerts = alerts
            payload = shared_payload
            if am_set.config.alert_relabel_configs:
                am_alerts = relabel_alerts(alerts, am_set.config.alert_relabel_configs)
                if not am_alerts:
                    continue
                payload = encode_alerts(am_alerts)
            elif not payload:
                payload = shared_payload = encode_alerts(alerts)
            posts.append(self._post_to_set(am_set, payload, len(am_alerts), begin))
        covered = await asyncio.gather(*posts)
        return all(covered)

    async def _post_to_set(
        self, am_set: AlertmanagerSet, payload: bytes, count: int, begin: float
    ) -> bool:
        """POST to each Alertmanager of one set at once; True when at least one took it."""
        results = await asyncio.gather(
            *(self._post(am_set, url, payload, count, begin) for url in list(am_set.urls))
        )
        return any(results)

    async def _post(
        self, am_set: AlertmanagerSet, url: str, payload: bytes, count: int, begin: float
    ) -> bool:
        error = ""
        try:
            response = await am_set.client.post(
                url,
                content=payload,
                headers={"Content-Type": "application/json", "User-Agent": _USER_AGENT},
                timeout=am_set.config.timeout.seconds,
            )
            if response.status_code // 100 != 2:
                error = f"bad response status {response.status_code} {response.reason_phrase}"
        except (httpx.HTTPError, OSError) as err:
            error = str(err) or type(err).__name__
        duration = self._timer() - begin
        if error:
            log.error("error sending %d alerts to %s: %s", count, redact_url(url), error)
            self.metrics.errors.labels(url).inc(count)
        else:
            self.metrics.sent.labels(url).inc(count)
        self.metrics.latency.labels(url).observe(duration)
        return not error
