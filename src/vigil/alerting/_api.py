"""The seams between Alertmanager's parts: what a notification pipeline stage receives and
returns, and what mutes an alert. The dispatcher only knows `Stage`; receivers (in `notify`)
plug in as stages too, so nothing here imports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from vigil.model.alert import Alert
from vigil.model.labels import Labels


@dataclass(frozen=True, slots=True)
class Notification:
    """One flush of one aggregation group towards one receiver, as it moves down the pipeline.

    `deadline` bounds retries (Alertmanager: the group interval, at least 10 s); `alerts`
    shrinks as mute stages drop silenced or inhibited alerts.
    """

    receiver: str
    group_key: str
    group_labels: Labels
    alerts: tuple[Alert, ...]
    now: float
    deadline: float
    repeat_interval: float
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


class NotifyError(Exception):
    """A stage failed; `retry` says whether trying again could help (a 5xx, not a 4xx)."""

    def __init__(self, message: str, *, retry: bool = True) -> None:
        super().__init__(message)
        self.retry = retry


class Stage(Protocol):
    """One step of the notification pipeline (Alertmanager's notify.Stage)."""

    async def exec(self, notification: Notification) -> Notification | None:
        """The notification to pass on (its alerts possibly filtered), or None to stop here
        quietly; raise NotifyError when it failed (the group tries again at its next flush)."""
        ...


class Muter(Protocol):
    """What the inhibitor and the silencer share: does anything mute these labels now?
    `fp` is the labels' fingerprint when the caller has it (an alert keeps its own)."""

    def mutes(self, labels: Labels, fp: int | None = None) -> bool: ...
