"""The generic stages that join the notification pipeline together (Alertmanager's
`notify.MultiStage`, `FanoutStage`, `RoutingStage`, `MuteStage`).

Alertmanager's pipeline per receiver reads: mute by inhibition → time-active → time-mute →
mute by silence → fan out to each integration (dedup → retry → record). The stages that
know the notification log, time intervals or integrations live beside their state; these
only sequence, split and filter.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import replace

from vigil.alerting._api import Muter, Notification, NotifyError, Stage


class MultiStage:
    """Stages in order, each fed what the previous passed on; stops quietly (None) as soon as
    a stage returns None or no alerts are left, and at the first error."""

    def __init__(self, stages: Iterable[Stage]) -> None:
        self.stages = tuple(stages)

    async def exec(self, notification: Notification) -> Notification | None:
        current: Notification | None = notification
        for stage in self.stages:
            if current is None or not current.alerts:
                return None
            current = await stage.exec(current)
        return current


class FanoutStage:
    """Every stage (one per integration of a receiver) on the same notification, concurrently.

    All of them run to the end even when some fail; then the failures are raised together as
    one NotifyError (messages joined with "; ", retryable if any was). Passes nothing on.
    """

    def __init__(self, stages: Iterable[Stage]) -> None:
        self.stages = tuple(stages)

    async def exec(self, notification: Notification) -> Notification | None:
        results = await asyncio.gather(
            *(stage.exec(notification) for stage in self.stages), return_exceptions=True
        )
        failures: list[NotifyError] = []
        for result in results:
            if isinstance(result, NotifyError):
                failures.append(result)
            elif isinstance(result, BaseException):
                raise result
        if failures:
            raise NotifyError(
                "; ".join(str(failure) for failure in failures),
                retry=any(failure.retry for failure in failures),
            )
        return None


class RoutingStage:
    """Hands the notification to the pipeline of its receiver."""

    def __init__(self, by_receiver: Mapping[str, Stage]) -> None:
        self.by_receiver = dict(by_receiver)

    async def exec(self, notification: Notification) -> Notification | None:
        stage = self.by_receiver.get(notification.receiver)
        if stage is None:
            raise NotifyError(
                f"stage for receiver missing: no pipeline for receiver {notification.receiver!r}",
                retry=False,
            )
        return await stage.exec(notification)


class MuteStage:
    """Drops the alerts the muter (inhibitor or silencer) mutes; None when none are left."""

    def __init__(self, muter: Muter) -> None:
        self.muter = muter

    async def exec(self, notification: Notification) -> Notification | None:
        kept = tuple(
            a for a in notification.alerts if not self.muter.mutes(a.labels, a.fingerprint)
        )
        if not kept:
            return None
        if len(kept) == len(notification.alerts):
            return notification
        return replace(notification, alerts=kept)
