"""Alertmanager's RetryStage: send through one integration, retrying with exponential backoff
until the notification's deadline while the failure is retryable, and count every attempt
under Alertmanager's metric names so its dashboards and alerts keep working."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import replace

from vigil.alerting._api import Notification, NotifyError
from vigil.model.clock import Clock
from vigil.notify.integration import Integration, SendError
from vigil.notify.metrics import NotifyMetrics

log = logging.getLogger(__name__)


class Backoff:
    """cenkalti/backoff's ExponentialBackOff as Alertmanager configures it: 0.5 s first,
    ×1.5 each time, ±50 % jitter, at most 60 s, never giving up by itself."""

    def __init__(
        self,
        initial: float = 0.5,
        multiplier: float = 1.5,
        jitter: float = 0.5,
        maximum: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self._current = initial
        self._multiplier = multiplier
        self._jitter = jitter
        self._maximum = maximum
        self._rng = rng or random.Random()

    def next(self) -> float:
        delta = self._jitter * self._current
        wait = self._current - delta + self._rng.random() * 2 * delta
        self._current = min(self._current * self._multiplier, self._maximum)
        return wait


class RetryStage:
    """A `Stage` around one integration. Without `send_resolved`, resolved alerts are left
    out of what is sent, and a notification with only resolved alerts counts as done."""

    def __init__(
        self,
        integration: Integration,
        metrics: NotifyMetrics,
        clock: Clock,
        backoff: Callable[[], Backoff] = Backoff,
    ) -> None:
        self.integration = integration
        self._metrics = metrics
        self._clock = clock
        self._backoff = backoff

    async def exec(self, notification: Notification) -> Notification | None:
        name = self.integration.name
        self._metrics.notifications.labels(name).inc()
        try:
            await self._exec(notification)
        except NotifyError as err:
            self._metrics.failed.labels(name, getattr(err, "reason", "other")).inc()
            raise
        return notification

    async def _exec(self, notification: Notification) -> None:
        sent = notification
        if not self.integration.send_resolved:
            firing = tuple(a for a in notification.alerts if not a.resolved_at(notification.now))
            if not firing:
                return
            sent = replace(notification, alerts=firing)
        where = f"{notification.receiver}/{self.integration}"
        backoff = self._backoff()
        clock, deadline = self._clock, notification.deadline
        attempts, next_at = 0, clock.now()
        last: NotifyError | None = None
        while True:
            if next_at >= deadline or clock.now() >= deadline:
                await clock.sleep_until(deadline)
                reason = (
                    getattr(last, "reason", "other") if last else "contextDeadlineExceededError"
                )
                cause = last if last is not None else "context deadline exceeded"
                raise SendError(
                    f"{where}: notify retry canceled after {attempts} attempts: {cause}",
                    retry=False,
                    reason=reason,
                )
            await clock.sleep_until(next_at)
            attempts += 1
            started = clock.now()
            err = await self._attempt(sent, deadline - started)
            if err is None:
                log.debug("%s: notify success after %d attempts", where, attempts)
                return
            if not err.retry:
                raise SendError(
                    f"{where}: notify retry canceled due to unrecoverable error after"
                    f" {attempts} attempts: {err}",
                    retry=False,
                    reason=getattr(err, "reason", "other"),
                )
            if last is None or str(last) != str(err):
                log.warning("%s: notify attempt %d failed, will retry: %s", where, attempts, err)
            last = err
            next_at = started + backoff.next()

    async def _attempt(self, notification: Notification, seconds: float) -> NotifyError | None:
        """One send, timed and counted; its failure (None on success)."""
        name = self.integration.name
        start = time.perf_counter()
        error: NotifyError | None = None
        try:
            async with asyncio.timeout(max(seconds, 0.0)):
                await self.integration.exec(notification)
        except TimeoutError:
            error = SendError(
                "context deadline exceeded", retry=True, reason="contextDeadlineExceededError"
            )
        except NotifyError as err:
            error = err
        self._metrics.latency.labels(name).observe(time.perf_counter() - start)
        self._metrics.requests.labels(name).inc()
        if error is not None:
            self._metrics.requests_failed.labels(name).inc()
        return error
