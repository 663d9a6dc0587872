"""Generic webhook notifications: Alertmanager's payload version "4" (template data plus
version, groupKey and truncatedAlerts), byte-compatible with what Alertmanager 0.25 posts."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from vigil.alerting._api import Notification
from vigil.config.duration import Duration
from vigil.config.http import HTTPClientConfig
from vigil.config.receiver import NO_DURATION, NO_HTTP, NO_SECRET, Entry, KindDefaults, SecretURL
from vigil.notify.integration import (
    Sender,
    SenderContext,
    build_client,
    go_json,
    post_json,
    read_secret_file,
)
from vigil.notify.template import notification_data


@dataclass(frozen=True, slots=True)
class WebhookConfig(KindDefaults):
    """`webhook_configs` entry; `max_alerts` 0 means all; `http_config` from `global:`."""

    kind: ClassVar[str] = "webhook"
    line: int = 0
    send_resolved: bool = True
    http_config: HTTPClientConfig = NO_HTTP
    url: SecretURL = NO_SECRET
    url_file: str = ""
    max_alerts: int = 0
    timeout: Duration = NO_DURATION

    @staticmethod
    def check(entry: Entry) -> None:
        entry.one_of("url", "url_file")

    def sender(self, context: SenderContext) -> Sender:
        return Webhook(self, context.external_url)


class Webhook:
    """One `webhook_configs` entry as a sender; `max_alerts` > 0 keeps only the first ones."""

    def __init__(self, config: WebhookConfig, external_url: str) -> None:
        self._config = config
        self._external_url = external_url

    def payload(self, notification: Notification) -> dict[str, Any]:
        alerts = notification.alerts
        limit = self._config.max_alerts
        truncated = max(0, len(alerts) - limit) if limit > 0 else 0
        if truncated:
            notification = replace(notification, alerts=alerts[:limit])
        return {
            **notification_data(notification, self._external_url).to_json(),
            "version": "4",
            "groupKey": notification.group_key,
            "truncatedAlerts": truncated,
        }

    async def send(self, notification: Notification) -> str:
        conf = self._config
        url = str(conf.url) or read_secret_file(conf.url_file, "url_file")
        timeout = conf.timeout.milliseconds / 1000 or None
        async with build_client(conf.http_config, timeout) as client:
            return await post_json(client, url, go_json(self.payload(notification)))
