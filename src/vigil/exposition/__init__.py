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
from vigil.exposition.text import Problem, TextParser, parse_text

# The scrape path needs numpy; a process that only serves /metrics (vigil agent) should
# not pay for importing it, so these names load on first use. The scrape parser itself is
# `vigil.exposition.scan.scan` (the submodule owns the name `scan` here).
_LAZY = {
    "NO_TIMESTAMP": "vigil.exposition.scan",
    "FamilyMetadata": "vigil.exposition.scan",
    "ScrapeBatch": "vigil.exposition.scan",
    "SeriesCache": "vigil.exposition.scan",
    "decode_body": "vigil.exposition.scan",
    "detect_format": "vigil.exposition.scan",
    "CheckResult": "vigil.exposition.check",
    "check_body": "vigil.exposition.check",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'vigil.exposition' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


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
    "series_text",
]
