"""Go's text/template for vigil: rule annotations and notification templates render as Prometheus and Alertmanager render them.

The names below are loaded by their first use: a server whose alerts have not fired yet (and
whose only rule files are the default pack's, which its tests parse) has not imported the
template engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vigil.template._gotime import GoDuration, GoTime
    from vigil.template._template import Template, TemplateError
    from vigil.template._values import MISSING, StringMap
    from vigil.template.prometheus import (
        QueryResultSample,
        expand_alert_template,
        parse_prometheus_template,
    )

_HOMES = {
    "GoDuration": "vigil.template._gotime",
    "GoTime": "vigil.template._gotime",
    "MISSING": "vigil.template._values",
    "QueryResultSample": "vigil.template.prometheus",
    "StringMap": "vigil.template._values",
    "Template": "vigil.template._template",
    "TemplateError": "vigil.template._template",
    "expand_alert_template": "vigil.template.prometheus",
    "parse_prometheus_template": "vigil.template.prometheus",
}

__all__ = [
    "MISSING",
    "GoDuration",
    "GoTime",
    "QueryResultSample",
    "StringMap",
    "Template",
    "TemplateError",
    "expand_alert_template",
    "parse_prometheus_template",
]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
