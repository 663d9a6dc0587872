"""Render metric families as Prometheus text 0.0.4 or OpenMetrics 1.0.0."""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable

from vigil.exposition._types import Exemplar, Format, MetricFamily, MetricType, Sample
from vigil.model import Labels
from vigil.model.labels import is_legacy_label_name

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"

_TEXT_TYPE_NAMES = {
    MetricType.COUNTER: "counter",
    MetricType.GAUGE: "gauge",
    MetricType.HISTOGRAM: "histogram",
    MetricType.SUMMARY: "summary",
    MetricType.GAUGEHISTOGRAM: "histogram",
    MetricType.INFO: "gauge",
    MetricType.STATESET: "gauge",
    MetricType.UNKNOWN: "untyped",
}


def format_value(value: float) -> str:
    """Shortest text that reads back as the same float; integers without a fraction."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(value)
    return text[:-2] if text.endswith(".0") else text


def _escape_value(value: str) -> str:
    if "\\" in value or '"' in value or "\n" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return value


def _escape_help(text: str, openmetrics: bool) -> str:
    text = text.replace("\\", "\\\\").replace("\n", "\\n")
    return text.replace('"', '\\"') if openmetrics else text


def _quote_name(name: str) -> str:
    return name if is_legacy_metric_name(name) else '"' + _escape_value(name) + '"'


def is_legacy_metric_name(name: str) -> bool:
    return bool(name) and (is_legacy_label_name(name.replace(":", "_")))


@functools.lru_cache(maxsize=1 << 14)
def series_text(name: str, labels: Labels) -> str:
    """`name{a="b"}` as a body writes it; quoted where a name is not a classic one. Cached:
    an exporter's /metrics writes the same series on every scrape."""
    parts = []
    legacy = is_legacy_metric_name(name)
    if not legacy:
        parts.append('"' + _escape_value(name) + '"')
    for key, value in labels:
        key_text = key if is_legacy_label_name(key) else '"' + _escape_value(key) + '"'
        parts.append(f'{key_text}="{_escape_value(value)}"')
    if legacy:
        return name + ("{" + ",".join(parts) + "}" if parts else "")
    return "{" + ",".join(parts) + "}"


def _exemplar(exemplar: Exemplar) -> str:
    pairs = ",".join(f'{key}="{_escape_value(value)}"' for key, value in exemplar.labels)
    text = " # {" + pairs + "} " + format_value(exemplar.value)
    if exemplar.timestamp is not None:
        text += " " + format_value(exemplar.timestamp)
    return text


def render_text(families: Iterable[MetricFamily]) -> str:
    """Prometheus text format 0.0.4. Counters' `_created` samples become gauges of their own."""
    out: list[str] = []
    for family in families:
        samples = family.samples
        name = family.name
        created: list[Sample] = []
        if family.type is MetricType.COUNTER:
            created = [s for s in samples if s.name == name + "_created"]
            if created:
                samples = [s for s in samples if s.name != name + "_created"]
            if samples and all(s.name == name + "_total" for s in samples):
                name = name + "_total"
        elif family.type is MetricType.INFO and not name.endswith("_info"):
            name = name + "_info"
        elif family.type is MetricType.GAUGEHISTOGRAM:
            samples = [_gauge_histogram_as_histogram(name, s) for s in samples]
        _header_text(out, name, family, _TEXT_TYPE_NAMES[family.type])
        for sample in samples:
            line = series_text(sample.name, sample.labels) + " " + format_value(sample.value)
            if sample.timestamp_ms is not None:
                line += f" {sample.timestamp_ms}"
            out.append(line)
        if created:
            _header_text(out, family.name + "_created", family, "gauge")
            out.extend(series_text(s.name, s.labels) + " " + format_value(s.value) for s in created)
    out.append("")
    return "\n".join(out)


def _gauge_histogram_as_histogram(name: str, sample: Sample) -> Sample:
    if sample.name == name + "_gcount":
        return Sample(name + "_count", sample.labels, sample.value, sample.timestamp_ms)
    if sample.name == name + "_gsum":
        return Sample(name + "_sum", sample.labels, sample.value, sample.timestamp_ms)
    return sample


def _header_text(out: list[str], name: str, family: MetricFamily, type_name: str) -> None:
    quoted = _quote_name(name)
    if family.help is not None:
        out.append(f"# HELP {quoted} {_escape_help(family.help, openmetrics=False)}")
    out.append(f"# TYPE {quoted} {type_name}")


def render_openmetrics(families: Iterable[MetricFamily]) -> str:
    """OpenMetrics 1.0.0, ending in `# EOF`."""
    out: list[str] = []
    for family in families:
        quoted = _quote_name(family.name)
        out.append(f"# TYPE {quoted} {family.type.value}")
        if family.unit:
            out.append(f"# UNIT {quoted} {family.unit}")
        if family.help is not None:
            out.append(f"# HELP {quoted} {_escape_help(family.help, openmetrics=True)}")
        for sample in family.samples:
            line = series_text(sample.name, sample.labels) + " " + format_value(sample.value)
            if sample.timestamp_ms is not None:
                line += " " + format_value(sample.timestamp_ms / 1000)
            if sample.exemplar is not None:
                line += _exemplar(sample.exemplar)
            out.append(line)
    out.append("# EOF\n")
    return "\n".join(out)


def render(families: Iterable[MetricFamily], fmt: Format) -> str:
    return render_openmetrics(families) if fmt is Format.OPENMETRICS else render_text(families)
