"""Notification: receivers (Slack, webhook, email) as pipeline stages, retries with backoff,
Alertmanager's template data and default templates, and the Go templates they render.

The names below are imported on first use: an Alertmanager whose receivers send nowhere
never loads the HTTP client or the templates."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.notify.integration import Integration, SendError
    from vigil.notify.metrics import NotifyMetrics
    from vigil.notify.receivers import ReceiverTestResult, build_integrations, test_receiver
    from vigil.notify.retry import RetryStage
    from vigil.notify.template import Data, Templates, notification_data, template_data

_WHERE = {
    "Data": "vigil.notify.template",
    "Integration": "vigil.notify.integration",
    "NotifyMetrics": "vigil.notify.metrics",
    "ReceiverTestResult": "vigil.notify.receivers",
    "RetryStage": "vigil.notify.retry",
    "SendError": "vigil.notify.integration",
    "Templates": "vigil.notify.template",
    "build_integrations": "vigil.notify.receivers",
    "notification_data": "vigil.notify.template",
    "template_data": "vigil.notify.template",
    "test_receiver": "vigil.notify.receivers",
}

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


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'vigil.notify' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
