"""Go's text/template for vigil: rule annotations and notification templates render as Prometheus and Alertmanager render them."""

from vigil.notify.gotemplate._gotime import GoDuration, GoTime
from vigil.notify.gotemplate._template import Template, TemplateError
from vigil.notify.gotemplate._values import MISSING, StringMap

__all__ = ["MISSING", "GoDuration", "GoTime", "StringMap", "Template", "TemplateError"]
