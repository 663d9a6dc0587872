"""What an exposition body means: metric families of samples, independent of the format."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from vigil.model import Labels


class MetricType(enum.StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    GAUGEHISTOGRAM = "gaugehistogram"
    SUMMARY = "summary"
    INFO = "info"
    STATESET = "stateset"
    UNKNOWN = "unknown"  # "untyped" in the text format


class Format(enum.StrEnum):
    TEXT = "text"  # Prometheus text format 0.0.4
    OPENMETRICS = "openmetrics"  # OpenMetrics 1.0.0


@dataclass(frozen=True, slots=True)
class Exemplar:
    labels: Labels
    value: float
    timestamp: float | None = None  # seconds, as OpenMetrics writes it


@dataclass(frozen=True, slots=True)
class Sample:
    """One line of a body: the full sample name (with any _total/_bucket suffix) and its labels."""

    name: str
    labels: Labels
    value: float
    timestamp_ms: int | None = None
    exemplar: Exemplar | None = None


@dataclass(slots=True)
class MetricFamily:
    name: str
    type: MetricType = MetricType.UNKNOWN
    help: str | None = None
    unit: str | None = None
    samples: list[Sample] = field(default_factory=list)


class ParseError(ValueError):
    """A body that cannot be read, with the 1-based line and column where reading stopped."""

    def __init__(self, line: int, col: int, message: str, *, source: str | None = None) -> None:
        self.line = line
        self.col = col
        self.message = message
        self.source = source
        where = f"line {line}, col {col}" if col else f"line {line}"
        if source:
            where = f"{source}: {where}"
        super().__init__(f"{where}: {message}")
