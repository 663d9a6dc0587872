"""The alert store: every alert Alertmanager currently knows, by fingerprint (Alertmanager's
`provider/mem` plus the defaults its API applies on a POST).

`put` stamps, validates and merges alerts and tells subscribers (the dispatcher, the inhibitor)
about each stored one; `gc` forgets resolved alerts and tells them too. Aggregation groups keep
their own copies, so a resolved alert still gets its resolved notification after a GC.
Call `put` and `gc` from the event loop's thread: subscribers may start asyncio tasks.
"""

from __future__ import annotations

import builtins
import functools
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily

from vigil.model.alert import Alert, fingerprints, make_alert, merged_span
from vigil.model.clock import Clock
from vigil.model.labels import Labels, is_legacy_label_name

_log = logging.getLogger(__name__)

DEFAULT_GC_INTERVAL = 30 * 60.0
"""Alertmanager's `--alerts.gc-interval` default."""

AlertCallback = Callable[[Alert], None]
BatchCallback = Callable[[Sequence[Alert]], None]


@dataclass(frozen=True, slots=True)
class InvalidAlert:
    """An alert `put` refused; `message` is Alertmanager's (the API joins them with "; " into
    its 400 answer), `index` its position in the batch."""

    index: int
    alert: Alert
    message: str


def validate(alert: Alert) -> str:
    """Alertmanager's `Alert.Validate()` message, or "" for a valid alert."""
    return _problem(alert.starts_at, alert.ends_at, alert.labels, alert.annotations)


def _problem(starts_at: float, ends_at: float, labels: Labels, annotations: Labels) -> str:
    if starts_at == 0.0:
        return "start time missing"
    if ends_at != 0.0 and ends_at < starts_at:
        return "start time must be before end time"
    problem = _label_set_problem(labels)
    if problem:
        return f"invalid label set: {problem}"
    if not labels:
        return "at least one label pair required"
    problem = _label_set_problem(annotations)
    if problem:
        return f"invalid annotations: {problem}"
    return ""


def _stored_labels(labels: Labels) -> Labels:
    """The labels Alertmanager stores: pairs with empty values dropped."""
    for _, value in labels:
        if value == "":
            return Labels(pair for pair in labels if pair[1] != "")
    return labels


@functools.lru_cache(maxsize=1 << 15)
def _label_set_problem(labels: Labels) -> str:
    """Cached: senders repeat the same label sets every resend."""
    for name, value in labels:
        if not _valid_name(name):
            return f"invalid name {_go_quote(name)}"
        if not value.isascii():
            try:
                value.encode()
            except UnicodeEncodeError:
                return f"invalid value {_go_quote(value)}"
    return ""


_valid_name = functools.lru_cache(maxsize=1 << 12)(is_legacy_label_name)
"""Cached: a few label names recur in every alert."""


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Subscription:
    __slots__ = ("on_delete", "on_put")

    def __init__(self, on_put: BatchCallback, on_delete: BatchCallback | None) -> None:
        self.on_put = on_put
        self.on_delete = on_delete


class AlertStore:
    """Alerts by fingerprint, with Alertmanager's stamping (`updated_at`, default `starts_at`,
    `ends_at` = now + `resolve_timeout` flagged `timeout`) and merge on overlap.

    `state_of(fingerprint)` ("active", "suppressed", "unprocessed": the marker's view) feeds
    `alertmanager_alerts{state}`; without it every unresolved alert counts as active.
    """

    def __init__(
        self,
        clock: Clock,
        resolve_timeout: float,
        *,
        registry: Any = None,
        state_of: Callable[[int], str] | None = None,
    ) -> None:
        self.clock = clock
        self.resolve_timeout = resolve_timeout
        self._alerts: dict[int, Alert] = {}
        self._subscriptions: list[_Subscription] = []
        self._state_of = state_of
        if registry is not None:
            registry.register(_AlertsByState(self))

    def __len__(self) -> int:
        return len(self._alerts)

    def get(self, fingerprint: int) -> Alert | None:
        return self._alerts.get(fingerprint)

    def list(self) -> list[Alert]:
        return list(self._alerts.values())

    def put(self, alerts: Iterable[Alert]) -> builtins.list[InvalidAlert]:
        """Store the valid alerts (merging each with the stored one when their activity
        overlaps) and return the invalid ones; the valid ones are stored either way.

        One pass builds each stored alert once: the stamping of Alertmanager's POST handler
        (update time, default start, end by `resolve_timeout`, empty label values dropped),
        validation, and `Alert.merge` with the stored alert. Subscribers then get the batch.
        """
        now = self.clock.now()
        timeout_end = now + self.resolve_timeout
        table = self._alerts
        invalid: builtins.list[InvalidAlert] = []
        stored: builtins.list[Alert] = []
        batch = tuple(alerts)
        labelsets = [_stored_labels(alert.labels) for alert in batch]
        for index, (alert, labels, fp) in enumerate(
            zip(batch, labelsets, fingerprints(labelsets), strict=True)
        ):
            starts, ends, timeout = alert.starts_at, alert.ends_at, alert.timeout
            if starts == 0.0:
                starts = ends if ends != 0.0 else now
            if ends == 0.0:
                ends, timeout = timeout_end, True
            problem = _problem(starts, ends, labels, alert.annotations)
            if problem:
                invalid.append(InvalidAlert(index, alert, problem))
                continue
            old = table.get(fp)
            younger: Alert | None = None  # a stored alert updated after now: the clock went back
            if old is not None and (
                old.starts_at < ends < old.ends_at or old.starts_at < starts < old.ends_at
            ):
                if old.updated_at > now:
                    younger = old
                else:
                    starts, ends = merged_span(old, starts, ends, now)
            new = make_alert(
                labels, alert.annotations, starts, ends, alert.generator_url, now, timeout, fp
            )
            if younger is not None:
                new = younger.merge(new, now)
            table[fp] = new
            stored.append(new)
        if stored:
            for subscription in tuple(self._subscriptions):
                subscription.on_put(stored)
        return invalid

    def subscribe(
        self, on_put: AlertCallback, on_delete: AlertCallback | None = None
    ) -> Callable[[], None]:
        """Call `on_put` with every alert stored from now on (as merged) and `on_delete` with
        every alert GC drops; returns the function that ends the subscription."""

        def put_each(alerts: Sequence[Alert]) -> None:
            for alert in alerts:
                on_put(alert)

        def delete_each(alerts: Sequence[Alert]) -> None:
            assert on_delete is not None
            for alert in alerts:
                on_delete(alert)

        return self.subscribe_batches(put_each, delete_each if on_delete is not None else None)

    def subscribe_batches(
        self, on_put: BatchCallback, on_delete: BatchCallback | None = None
    ) -> Callable[[], None]:
        """`subscribe` by batch: `on_put` gets the alerts each `put` stored, in order, once
        they all are stored; `on_delete` the alerts each GC dropped."""
        subscription = _Subscription(on_put, on_delete)
        self._subscriptions.append(subscription)

        def unsubscribe() -> None:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

        return unsubscribe

    def gc(self, now: float | None = None) -> builtins.list[Alert]:
        """Drop the alerts resolved at `now` (default: the clock's now) and return them."""
        at = self.clock.now() if now is None else now
        dropped = [alert for alert in self._alerts.values() if alert.resolved_at(at)]
        for alert in dropped:
            del self._alerts[alert.fingerprint]
        if dropped:
            for subscription in tuple(self._subscriptions):
                if subscription.on_delete is not None:
                    subscription.on_delete(dropped)
        if dropped:
            _log.debug("alert store GC dropped %d resolved alerts", len(dropped))
        return dropped

    async def run_gc(self, interval: float = DEFAULT_GC_INTERVAL) -> None:
        """GC every `interval` seconds of the clock, until cancelled."""
        while True:
            await self.clock.sleep_until(self.clock.now() + interval)
            self.gc()

    def count_by_state(self) -> dict[str, int]:
        """How many stored alerts are active and suppressed (Alertmanager's marker count)."""
        counts = {"active": 0, "suppressed": 0}
        for state in self._states():
            if state in counts:
                counts[state] += 1
        return counts

    def _states(self) -> Iterator[str]:
        if self._state_of is not None:
            state_of = self._state_of
            yield from (state_of(fp) for fp in self._alerts)
            return
        now = self.clock.now()
        yield from (
            "unprocessed" if a.resolved_at(now) else "active" for a in self._alerts.values()
        )


class _AlertsByState:
    """`alertmanager_alerts{state}`, read at scrape time like Alertmanager's GaugeFuncs."""

    def __init__(self, store: AlertStore) -> None:
        self._store = store

    def describe(self) -> list[GaugeMetricFamily]:
        return [self._family()]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = self._family()
        for state, count in self._store.count_by_state().items():
            family.add_metric([state], count)
        yield family

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "alertmanager_alerts", "How many alerts by state.", labels=["state"]
        )
