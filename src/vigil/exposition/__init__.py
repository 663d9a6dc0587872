"""Prometheus text format 0.0.4 and OpenMetrics 1.0.0: parse, render, negotiate."""

from vigil.exposition._types import (
    Exemplar,
    Format,
    MetricFamily,
    MetricType,
    ParseError,
    Sample,
)
from vigil.exposition.check import CheckResult, check_body
from vigil.exposition.negotiate import Exposition, expose, negotiate_format
from vigil.exposition.openmetrics import parse_openmetrics
from vigil.exposition.registry import families_from_registry
from vigil.exposition.render import (
    OPENMETRICS_CONTENT_TYPE,
    TEXT_CONTENT_TYPE,
    format_value,
    render,
    render_openmetrics,
    render_text,
    series_text,
)
from vigil.exposition.scan import (
    NO_TIMESTAMP,
    FamilyMetadata,
    ScrapeBatch,
    SeriesCache,
    decode_body,
    detect_format,
    scan,
)
from vigil.exposition.text import Problem, TextParser, parse_text

__all__ = [
    "NO_TIMESTAMP",
    "OPENMETRICS_CONTENT_TYPE",
    "TEXT_CONTENT_TYPE",
    "CheckResult",
    "Exemplar",
    "Exposition",
    "FamilyMetadata",
    "Format",
    "MetricFamily",
    "MetricType",
    "ParseError",
    "Problem",
    "Sample",
    "ScrapeBatch",
    "SeriesCache",
    "TextParser",
    "check_body",
    "decode_body",
    "detect_format",
    "expose",
    "families_from_registry",
    "format_value",
    "negotiate_format",
    "parse_openmetrics",
    "parse_text",
    "render",
    "render_openmetrics",
    "render_text",
    "scan",
    "series_text",
]
