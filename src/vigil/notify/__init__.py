"""Notification: receivers (Slack, webhook, email) as pipeline stages, retries with backoff,
Alertmanager's template data and default templates, and the Go templates they render."""

from vigil.notify.integration import Integration, SendError
from vigil.notify.receivers import ReceiverTestResult, build_integrations, test_receiver
from vigil.notify.retry import NotifyMetrics, RetryStage
from vigil.notify.template import Data, Templates, notification_data, template_data

__all__ = [
    "Data",
    "Integration",
    "NotifyMetrics",
    "ReceiverTestResult",
    "RetryStage",
    "SendError",
    "Templates",
    "build_integrations",
    "notification_data",
    "template_data",
    "test_receiver",
]
