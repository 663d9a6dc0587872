"""Go's text/template for vigil: rule annotations and notification templates render as Prometheus and Alertmanager render them."""

from vigil.template._gotime import GoDuration, GoTime
from vigil.template._template import Template, TemplateError
from vigil.template._values import MISSING, StringMap

__all__ = ["MISSING", "GoDuration", "GoTime", "StringMap", "Template", "TemplateError"]
