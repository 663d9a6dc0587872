"""A notification stage that adds annotations from outside the alert (DESIGN: alerts carry
labels and annotations only; what a notification shows beyond them — a dying container's
last log lines — is added here, at send time, not by the rule engine).

An `Annotator` looks at one firing alert and returns annotations to add (never replacing
one the alert already has); it may block (it reads storage), so it runs in a worker thread.
One that cannot answer raises AnnotationUnavailable: that is logged and the alert goes out
without the extra annotations, never held back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Mapping

from vigil.alerting._api import Notification
from vigil.model import Labels
from vigil.model.alert import Alert

log = logging.getLogger(__name__)

Annotator = Callable[[Alert], Mapping[str, str]]


class AnnotationUnavailable(Exception):
    """What an annotator raises when its source cannot be read now (the message says why)."""


class AnnotateStage:
    def __init__(self, name: str, annotator: Annotator) -> None:
        self._name = name
        self._annotator = annotator

    async def exec(self, notification: Notification) -> Notification | None:
        alerts = await asyncio.to_thread(self._annotated, notification)
        return dataclasses.replace(notification, alerts=alerts)

    def _annotated(self, notification: Notification) -> tuple[Alert, ...]:
        out = []
        for alert in notification.alerts:
            if alert.resolved_at(notification.now):
                out.append(alert)
                continue
            try:
                extra = self._annotator(alert)
            except AnnotationUnavailable as err:
                log.warning("%s not added to %s: %s", self._name, alert.labels, err)
                extra = {}
            added = {k: v for k, v in extra.items() if k not in dict(alert.annotations)}
            if added:
                merged = Labels.from_dict({**dict(alert.annotations), **added})
                alert = dataclasses.replace(alert, annotations=merged)
            out.append(alert)
        return tuple(out)
