"""The `alertmanager_notification*` series under Alertmanager's names, so its dashboards and
alerts keep working; registered at start, before (and without) any integration."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Alertmanager 0.25 creates these series up front so rates start at zero.
KNOWN_INTEGRATIONS = (
    "email",
    "pagerduty",
    "wechat",
    "pushover",
    "slack",
    "opsgenie",
    "webhook",
    "victorops",
    "sns",
    "telegram",
)
FAILURE_REASONS = (
    "other",
    "clientError",
    "serverError",
    "contextCanceledError",
    "contextDeadlineExceededError",
)


class NotifyMetrics:
    """The `alertmanager_notification*` series, registered in the registry given."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.notifications = Counter(
            "alertmanager_notifications_total",
            "The total number of attempted notifications.",
            ["integration"],
            registry=registry,
        )
        self.failed = Counter(
            "alertmanager_notifications_failed_total",
            "The total number of failed notifications.",
            ["integration", "reason"],
            registry=registry,
        )
        self.requests = Counter(
            "alertmanager_notification_requests_total",
            "The total number of attempted notification requests.",
            ["integration"],
            registry=registry,
        )
        self.requests_failed = Counter(
            "alertmanager_notification_requests_failed_total",
            "The total number of failed notification requests.",
            ["integration"],
            registry=registry,
        )
        self.latency = Histogram(
            "alertmanager_notification_latency_seconds",
            "The latency of notifications in seconds.",
            ["integration"],
            buckets=(1, 5, 10, 15, 20),
            registry=registry,
        )
        for name in KNOWN_INTEGRATIONS:
            self.notifications.labels(name)
            self.requests.labels(name)
            self.requests_failed.labels(name)
            self.latency.labels(name)
            for reason in FAILURE_REASONS:
                self.failed.labels(name, reason)
