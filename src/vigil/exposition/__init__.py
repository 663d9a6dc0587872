"""Prometheus text format 0.0.4 and OpenMetrics 1.0.0: parse, render, negotiate."""

from vigil.exposition._types import (
    Exemplar,
    Format,
    MetricFamily,
    MetricType,
    ParseError,
    Sample,
)
from vigil.exposition.negotiate import Exposition, expose, negotiate_format
from vigil.exposition.registry import families_from_registry
from vigil.exposition.render import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    format_value,
    render,
    render_openmetrics,
    render_text,
)

__all__ = [
    "OPENMETRICS_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "Exemplar",
    "Exposition",
    "Format",
    "MetricFamily",
    "MetricType",
    "ParseError",
    "Sample",
    "expose",
    "families_from_registry",
    "format_value",
    "negotiate_format",
    "render",
    "render_openmetrics",
    "render_text",
]
