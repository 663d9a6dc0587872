"""The dead man's switch: a vigil on the app's VM dies with the VM, and a dead box sends no
alert. While the rule engine, the notifier and the storage are healthy, `Heartbeat` POSTs to
an external URL every interval; whatever watches that URL (a healthchecks-style service, or
another Alertmanager's webhook receiver) alerts when the pings stop. While vigil is not
healthy the pings stop, or, given a failure URL (healthchecks' `<ping URL>/fail`), the reason
is POSTed there instead, so the alert comes at once and says why.

The body is Alertmanager's webhook payload (version 4) carrying a firing `Watchdog` alert, so
the same URL type works for ping services (which ignore the body) and for Alertmanagers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil import __version__
from vigil.model.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 60.0


@dataclass(frozen=True, slots=True)
class GroupHealth:
    """What the heartbeat needs to know of a rule group: when it last ran and how often."""

    name: str
    interval_s: float
    last_evaluation_s: float | None


def rules_problem(groups: Iterable[GroupHealth], now: float, started: float) -> str | None:
    """Why the rule engine is not healthy (a group more than three intervals late), or None.

    A group that never ran counts from the process start, so a fresh start is not late."""
    for group in groups:
        last = group.last_evaluation_s if group.last_evaluation_s is not None else started
        if now - last > 3 * group.interval_s:
            return f"rule group {group.name!r} last evaluated {now - last:.0f}s ago"
    return None


def payload(external_url: str, now_rfc3339: str) -> bytes:
    """Alertmanager's webhook body with one firing Watchdog alert."""
    labels = {"alertname": "Watchdog", "severity": "none", "source": "vigil"}
    body = {
        "receiver": "heartbeat",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {
                    "summary": "vigil is alive: its rules are evaluated and alerts are sent",
                },
                "startsAt": now_rfc3339,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": external_url,
                "fingerprint": "",
            }
        ],
        "groupLabels": {"alertname": "Watchdog"},
        "commonLabels": labels,
        "commonAnnotations": {},
        "externalURL": external_url,
        "version": "4",
        "groupKey": '{}:{alertname="Watchdog"}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body).encode()


class Heartbeat:
    """Pings `url` every `interval` seconds while `problem()` returns None; otherwise POSTs
    the problem as text to `fail_url`, if there is one."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        problem: Callable[[], str | None],
        *,
        fail_url: str = "",
        interval: float = DEFAULT_INTERVAL,
        external_url: str = "",
        registry: CollectorRegistry | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = url
        self.fail_url = fail_url
        self._unhealthy = False
        self._clock = clock
        self._problem = problem
        self._interval = interval
        self._external_url = external_url
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=min(10.0, interval),
            headers={"User-Agent": f"vigil/{__version__}"},
        )
        registry = registry if registry is not None else CollectorRegistry()
        self._last_success = Gauge(
            "vigil_heartbeat_last_success_timestamp_seconds",
            "When the dead man's switch URL last took a ping.",
            registry=registry,
        )
        self._failures = Counter(
            "vigil_heartbeat_failures_total",
            "Pings the dead man's switch URL refused or that could not be sent.",
            registry=registry,
        )
        self._skipped = Counter(
            "vigil_heartbeat_skipped_total",
            "Pings withheld because vigil itself was not healthy.",
            registry=registry,
        )

    async def beat(self) -> bool:
        """One ping, unless vigil is unhealthy; True when the URL took it. Becoming unhealthy
        and healthy again is logged once each, not at every beat."""
        problem = self._problem()
        if problem is not None:
            self._skipped.inc()
            if not self._unhealthy:
                self._unhealthy = True
                where = f"reported to {_redact(self.fail_url)}" if self.fail_url else "withheld"
                log.warning("heartbeat %s until vigil is healthy again: %s", where, problem)
            if self.fail_url:
                await self._post(self.fail_url, problem.encode(), "text/plain; charset=utf-8")
            return False
        if self._unhealthy:
            self._unhealthy = False
            log.warning("heartbeat resumes: vigil is healthy again")
        now = self._clock.now()
        body = payload(self._external_url, _rfc3339(now))
        if not await self._post(self.url, body, "application/json"):
            return False
        self._last_success.set(now)
        return True

    async def _post(self, url: str, body: bytes, content_type: str) -> bool:
        try:
            response = await self._client.post(
                url, content=body, headers={"Content-Type": content_type}
            )
        except httpx.HTTPError as err:
            self._failures.inc()
            log.error("heartbeat to %s failed: %s", _redact(url), err)
            return False
        if response.status_code // 100 != 2:
            self._failures.inc()
            log.error("heartbeat to %s answered %d", _redact(url), response.status_code)
            return False
        return True

    async def run(self) -> None:
        """Beat now and then every interval, until cancelled."""
        try:
            while True:
                started = self._clock.now()
                await self.beat()
                await self._clock.sleep_until(started + self._interval)
        finally:
            await self._client.aclose()


def _rfc3339(t: float) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _redact(url: str) -> str:
    """Ping URLs carry their secret in the path: show scheme and host only."""
    parts = httpx.URL(url)
    return f"{parts.scheme}://{parts.host}/…"
