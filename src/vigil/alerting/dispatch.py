"""The dispatcher: sorts stored alerts into aggregation groups (one per route and group labels)
and flushes each group into the notification pipeline on Alertmanager 0.25's timers.

A group's first flush comes `group_wait` after it was created — at once if an alert in it
started more than `group_wait` ago and the group has not flushed yet — then one every
`group_interval`, each carrying all of the group's alerts. Alerts resolved at a flush leave
the group once the pipeline succeeded, unless they were updated meanwhile; empty groups are
dropped by a maintenance pass every 30 s. Whether a flush reaches a receiver (repeat_interval,
send_resolved) is the notification log's business, further down the pipeline.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from prometheus_client import Gauge
from prometheus_client.core import SummaryMetricFamily

from vigil.alerting._api import Notification, NotifyError, Stage
from vigil.alerting.route import Route
from vigil.alerting.store import AlertStore
from vigil.model.alert import Alert, make_alert
from vigil.model.clock import Clock
from vigil.model.labels import Labels

_log = logging.getLogger(__name__)

MIN_NOTIFICATION_TIMEOUT = 10.0
"""Alertmanager's `notify.MinTimeout`: a flush may take at least this long."""

MAINTENANCE_INTERVAL = 30.0
"""How often Alertmanager's dispatcher drops empty aggregation groups."""
_ROUTE_CACHE_SIZE = 1 << 18

NotifyFunc = Callable[[Notification], Awaitable[bool]]


def notification_timeout(group_interval: float) -> float:
    """How long one flush may take: until the next one, but at least 10 s."""
    return max(group_interval, MIN_NOTIFICATION_TIMEOUT)


def labels_before(a: Labels, b: Labels) -> bool:
    """Prometheus's `LabelSet.Before`: fewer labels first, then at the first differing
    name the set that has the *larger* name comes first, else the smaller value."""
    if len(a) != len(b):
        return len(a) < len(b)
    for (name_a, value_a), (name_b, value_b) in zip(a, b, strict=True):
        if name_a != name_b:
            return name_a > name_b
        if value_a != value_b:
            return value_a < value_b
    return False


def _compare_alerts(a: Alert, b: Alert) -> int:
    """Alertmanager's `AlertSlice.Less`: by `job`, then `instance` (alerts having the label
    first), then `labels_before`."""
    for name in ("job", "instance"):
        value_a = _label(a.labels, name)
        value_b = _label(b.labels, name)
        if value_a is None and value_b is None:
            continue
        if value_a is None:
            return 1
        if value_b is None:
            return -1
        if value_a != value_b:
            return -1 if value_a < value_b else 1
    if labels_before(a.labels, b.labels):
        return -1
    return 1 if labels_before(b.labels, a.labels) else 0


def _label(labels: Labels, name: str) -> str | None:
    for key, value in labels:
        if key == name:
            return value
    return None


def _job_instance(alert: Alert) -> tuple[bool, str, bool, str]:
    """`_compare_alerts` up to `labels_before`, as a key."""
    job = _label(alert.labels, "job")
    instance = _label(alert.labels, "instance")
    return (job is None, job or "", instance is None, instance or "")


def sort_alerts(alerts: list[Alert]) -> list[Alert]:
    """Sorted (stably) in the order Alertmanager lists a group's alerts: by a key, and only
    the alerts that share their job and instance by comparing their label sets."""
    keyed = sorted(((_job_instance(a), i) for i, a in enumerate(alerts)), key=_first)
    out: list[Alert] = []
    start = 0
    for end in range(1, len(keyed) + 1):
        if end < len(keyed) and keyed[end][0] == keyed[start][0]:
            continue
        run = [alerts[i] for _, i in keyed[start:end]]
        if len(run) > 1:
            run.sort(key=functools.cmp_to_key(_compare_alerts))
        out += run
        start = end
    return out


def _first(item: tuple[tuple[bool, str, bool, str], int]) -> tuple[bool, str, bool, str]:
    return item[0]


@dataclass(frozen=True, slots=True)
class AlertGroup:
    """One aggregation group as `/api/v2/alerts/groups` shows it."""

    labels: Labels
    receiver: str
    group_key: str
    alerts: tuple[Alert, ...]


def _compare_groups(a: AlertGroup, b: AlertGroup) -> int:
    if a.labels == b.labels:
        return (a.receiver > b.receiver) - (a.receiver < b.receiver)
    if labels_before(a.labels, b.labels):
        return -1
    return 1 if labels_before(b.labels, a.labels) else 0


class AggregationGroup:
    """The alerts of one route with the same group labels, flushed on the group's timer by
    an asyncio task (`start`/`stop`)."""

    def __init__(
        self,
        route: Route,
        labels: Labels,
        clock: Clock,
        notify: NotifyFunc,
        timeout: Callable[[float], float] = notification_timeout,
        turn: asyncio.Lock | None = None,
    ) -> None:
        """`turn` is shared by the groups of one dispatcher: a flush builds its notification
        holding it, so groups whose timers fire together take turns between which the event
        loop runs (1,000 groups flushing at once would otherwise hold it for all of them)."""
        self.route = route
        self.labels = labels
        self.key = route.group_key(labels)
        self._clock = clock
        self._notify = notify
        self._timeout = timeout
        self._turn = turn if turn is not None else asyncio.Lock()
        self._alerts: dict[int, Alert] = {}
        self._next = clock.now() + route.options.group_wait.seconds
        self._has_flushed = False
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"AggregationGroup({self.key!r}, {len(self._alerts)} alerts)"

    def alerts(self) -> list[Alert]:
        return list(self._alerts.values())

    def empty(self) -> bool:
        return not self._alerts

    def insert(self, alert: Alert, now: float | None = None) -> None:
        """Add or replace the alert; flush now if the group has not flushed yet and the
        alert has waited out `group_wait` already (`now` defaults to the clock's)."""
        self._alerts[alert.fingerprint] = alert
        if self._has_flushed:
            return
        if now is None:
            now = self._clock.now()
        if alert.starts_at + self.route.options.group_wait.seconds < now:
            self._next = now
            if self._task is not None:  # still waiting out group_wait: flush at once instead
                self._task.cancel()
                self.start()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._run(), name=f"aggregation group {self.key}"
        )

    async def stop(self) -> None:
        """Cancel the timer and any flush in progress; returns when the task has ended."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        options = self.route.options
        while True:
            await self._sleep()
            fired_at = self._next
            self._next = self._clock.now() + options.group_interval.seconds
            self._has_flushed = True
            await self._flush(fired_at)

    async def _sleep(self) -> None:
        """Until `_next`; on the group's own task, so a test clock sees who it woke."""
        await self._clock.sleep_until(self._next)

    async def _flush(self, fired_at: float) -> None:
        """Send all alerts (those not resolved yet without an end time, so they don't resolve
        downstream as time passes); after success drop the resolved ones unchanged since.

        The notification's `now` is when the timer fired, as in Alertmanager, where a flush
        that overran its interval is followed at once by one stamped with the missed tick.
        """
        async with self._turn:
            await asyncio.sleep(0)  # the groups that fired with this one queue up behind it
            notification, resolved = self._notification(fired_at)
        if notification is None:
            return
        if not await self._notify(notification):
            return
        for alert in resolved:
            current = self._alerts.get(alert.fingerprint)
            if current is not None and current.updated_at == alert.updated_at:
                del self._alerts[alert.fingerprint]

    def _notification(self, fired_at: float) -> tuple[Notification | None, list[Alert]]:
        """The flush's notification (None without alerts) and the alerts resolved in it."""
        if not self._alerts:
            return None, []
        now = self._clock.now()
        sent: list[Alert] = []
        resolved: list[Alert] = []
        for alert in self._alerts.values():
            if alert.resolved_at(now):
                resolved.append(alert)
                sent.append(alert)
            else:
                sent.append(
                    make_alert(
                        alert.labels,
                        alert.annotations,
                        alert.starts_at,
                        0.0,
                        alert.generator_url,
                        alert.updated_at,
                        alert.timeout,
                        alert.fingerprint,
                    )
                )
        options = self.route.options
        notification = Notification(
            receiver=options.receiver,
            group_key=self.key,
            group_labels=self.labels,
            alerts=tuple(sort_alerts(sent)),
            now=fired_at,
            deadline=now + self._timeout(options.group_interval.seconds),
            repeat_interval=options.repeat_interval.seconds,
            mute_time_intervals=options.mute_time_intervals,
            active_time_intervals=options.active_time_intervals,
        )
        return notification, resolved


class DispatcherMetrics:
    """The dispatcher's self-metrics; made once per registry and handed to each dispatcher
    (a config reload builds a new dispatcher, the metrics stay)."""

    def __init__(self, registry: Any) -> None:
        self.aggregation_groups = Gauge(
            "alertmanager_dispatcher_aggregation_groups",
            "Number of active aggregation groups",
            registry=registry,
        )
        self.processing_duration = _DurationSummary(
            "alertmanager_dispatcher_alert_processing_duration_seconds",
            "Summary of latencies for the processing of alerts.",
        )
        if registry is not None:
            registry.register(self.processing_duration)


class _DurationSummary:
    """A summary without quantiles that takes a whole batch in one `observe_many` (a
    prometheus_client Summary costs a lock and two increments per alert)."""

    def __init__(self, name: str, documentation: str) -> None:
        self._name = name
        self._documentation = documentation
        self.count = 0
        self.sum = 0.0

    def observe_many(self, count: int, total: float) -> None:
        self.count += count
        self.sum += total

    def describe(self) -> list[SummaryMetricFamily]:
        return [SummaryMetricFamily(self._name, self._documentation)]

    def collect(self) -> Iterator[SummaryMetricFamily]:
        yield SummaryMetricFamily(
            self._name, self._documentation, count_value=self.count, sum_value=self.sum
        )


class Dispatcher:
    """Routes every alert the store takes into aggregation groups and runs their timers.

    `start()` (inside the event loop) takes the alerts already stored, then subscribes;
    `stop()` unsubscribes and cancels every group, including flushes in progress.
    """

    def __init__(
        self,
        route: Route,
        store: AlertStore,
        stage: Stage,
        clock: Clock,
        *,
        timeout: Callable[[float], float] = notification_timeout,
        maintenance_interval: float = MAINTENANCE_INTERVAL,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self.route = route
        self._store = store
        self._stage = stage
        self._clock = clock
        self._timeout = timeout
        self._maintenance_interval = maintenance_interval
        self._metrics = metrics
        self._groups: dict[Route, dict[Labels, AggregationGroup]] = {}
        # By fingerprint: the label set, and the routes with group labels it goes to.
        self._destinations: dict[int, tuple[Labels, tuple[tuple[Route, Labels], ...]]] = {}
        self._unsubscribe: Callable[[], None] | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._turn = asyncio.Lock()

    def start(self) -> None:
        if self._unsubscribe is not None:
            raise RuntimeError("the dispatcher is running already")
        loop = asyncio.get_running_loop()
        self._groups = {}
        self._count_groups()
        self._route_alerts(self._store.list())
        self._unsubscribe = self._store.subscribe_batches(self._route_alerts)
        self._maintenance = loop.create_task(self._maintain(), name="dispatcher maintenance")

    async def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        maintenance, self._maintenance = self._maintenance, None
        if maintenance is not None:
            maintenance.cancel()
            await asyncio.gather(maintenance, return_exceptions=True)
        await asyncio.gather(*(group.stop() for group in self._all_groups()))

    def _all_groups(self) -> list[AggregationGroup]:
        return [group for groups in self._groups.values() for group in groups.values()]

    def _route_alerts(self, alerts: Sequence[Alert]) -> None:
        """Insert each alert into the group of every route it matches; the routes and group
        labels of a label set are cached by fingerprint (resends repeat the same sets)."""
        if not alerts:
            return
        started = time.perf_counter()
        now = self._clock.now()
        for alert in alerts:
            for route, group_labels in self.destinations(alert):
                self._insert(alert, route, group_labels, now)
        if self._metrics is not None:
            self._metrics.processing_duration.observe_many(
                len(alerts), time.perf_counter() - started
            )

    def destinations(self, alert: Alert) -> tuple[tuple[Route, Labels], ...]:
        """The routes that take the alert, each with the alert's group labels there."""
        labels = alert.labels
        cache = self._destinations
        cached = cache.get(alert.fingerprint)
        if cached is None or (cached[0] is not labels and cached[0] != labels):
            if len(cache) >= _ROUTE_CACHE_SIZE:
                cache.clear()
            cached = (
                labels,
                tuple((route, route.group_labels(labels)) for route in self.route.match(labels)),
            )
            cache[alert.fingerprint] = cached
        return cached[1]

    def _insert(self, alert: Alert, route: Route, labels: Labels, now: float) -> None:
        groups = self._groups.get(route)
        if groups is None:
            groups = self._groups[route] = {}
        group = groups.get(labels)
        if group is not None:
            group.insert(alert, now)
            return
        group = AggregationGroup(
            route, labels, self._clock, self._notify, self._timeout, self._turn
        )
        groups[labels] = group
        self._count_groups()
        group.insert(alert, now)
        group.start()

    async def _notify(self, notification: Notification) -> bool:
        """Run the pipeline until the notification's deadline; True when it succeeded."""
        work = asyncio.ensure_future(self._stage.exec(notification))
        timer = asyncio.ensure_future(self._clock.sleep_until(notification.deadline))
        try:
            await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
            if not work.done():
                work.cancel()
                await asyncio.wait((work,))
        problem: BaseException | str | None = (
            "deadline exceeded" if work.cancelled() else work.exception()
        )
        if problem is None:
            return True
        where = (
            f"receiver {notification.receiver!r}, group {notification.group_key}, "
            f"{len(notification.alerts)} alerts"
        )
        if isinstance(problem, str | NotifyError):
            _log.error("Notify for alerts failed (%s): %s", where, problem)
        else:
            _log.error("Notify for alerts failed (%s)", where, exc_info=problem)
        return False

    async def _maintain(self) -> None:
        while True:
            await self._clock.sleep_until(self._clock.now() + self._maintenance_interval)
            await self.remove_empty_groups()

    async def remove_empty_groups(self) -> None:
        """Alertmanager's maintenance pass: stop and forget the groups left without alerts."""
        emptied: list[AggregationGroup] = []
        for groups in self._groups.values():
            for labels, group in list(groups.items()):
                if group.empty():
                    del groups[labels]
                    emptied.append(group)
        if emptied:
            self._count_groups()
            await asyncio.gather(*(group.stop() for group in emptied))

    def _count_groups(self) -> None:
        if self._metrics is not None:
            self._metrics.aggregation_groups.set(len(self._all_groups()))

    def groups(
        self,
        route_filter: Callable[[Route], bool] | None = None,
        alert_filter: Callable[[Alert, float], bool] | None = None,
    ) -> tuple[list[AlertGroup], dict[int, tuple[str, ...]]]:
        """The groups whose route passes `route_filter`, each with its alerts that pass
        `alert_filter(alert, now)` (groups left without any are skipped), in Alertmanager's
        order; and for every listed alert's fingerprint, its receivers, sorted."""
        now = self._clock.now()
        listed: list[AlertGroup] = []
        receivers: dict[int, list[str]] = {}
        for route, groups in self._groups.items():
            if route_filter is not None and not route_filter(route):
                continue
            receiver = route.receiver
            for group in groups.values():
                alerts = [a for a in group.alerts() if alert_filter is None or alert_filter(a, now)]
                if not alerts:
                    continue
                for alert in alerts:
                    receivers.setdefault(alert.fingerprint, []).append(receiver)
                listed.append(AlertGroup(group.labels, receiver, group.key, tuple(alerts)))
        listed.sort(key=functools.cmp_to_key(_compare_groups))
        ordered = [replace(g, alerts=tuple(sort_alerts(list(g.alerts)))) for g in listed]
        return ordered, {fp: tuple(sorted(names)) for fp, names in receivers.items()}
