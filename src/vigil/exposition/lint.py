"""The lint rules of `promtool check metrics` (client_golang's promlint), over text-format families."""

from __future__ import annotations

import re
from collections.abc import Iterable

from vigil.exposition._types import MetricFamily, MetricType
from vigil.exposition.text import Problem
from vigil.model import Labels

_BASE_UNITS = {
    "amperes": "amperes",
    "bytes": "bytes",
    "celsius": "celsius",
    "grams": "grams",
    "joules": "joules",
    "kelvin": "kelvin",
    "meters": "meters",
    "metres": "metres",
    "seconds": "seconds",
    "volts": "volts",
    "minutes": "seconds",
    "hours": "seconds",
    "days": "seconds",
    "weeks": "seconds",
    "kelvins": "kelvin",
    "fahrenheit": "celsius",
    "rankine": "celsius",
    "inches": "meters",
    "yards": "meters",
    "miles": "meters",
    "bits": "bytes",
    "calories": "joules",
    "pounds": "grams",
    "ounces": "grams",
}
_PREFIXES = (
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi",
    "mega", "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
)  # fmt: skip
_ABBREVIATIONS = ("s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d")
_TYPE_WORDS = ("counter", "gauge", "summary", "histogram", "gauge_histogram")
_CAMEL = re.compile(r"[a-z][A-Z]")


def _has_word(name: str, word: str) -> bool:
    return f"_{word}_" in name or name.endswith(f"_{word}")


def _unit(name: str) -> tuple[str, str] | None:
    words = set(name.split("_"))
    for unit, base in _BASE_UNITS.items():
        for prefix in (*_PREFIXES, ""):
            if prefix + unit in words:
                return prefix + unit, base
    return None


def lint_family(family: MetricFamily) -> list[Problem]:
    """Problems with one family as read from the text format (le/quantile already apart)."""
    name = family.name
    mtype = family.type
    found: list[str] = []
    if family.help is None:
        found.append("no help text")
    unit = _unit(name)
    if unit is not None and unit[0] != unit[1]:
        found.append(f'use base unit "{unit[1]}" instead of "{unit[0]}"')
    total = name.endswith("_total")
    if mtype is MetricType.COUNTER and not total:
        found.append('counter metrics should have "_total" suffix')
    elif mtype not in (MetricType.UNKNOWN, MetricType.COUNTER) and total:
        found.append('non-counter metrics should not have "_total" suffix')
    if mtype is not MetricType.UNKNOWN:
        histogram = mtype is MetricType.HISTOGRAM
        summary = mtype is MetricType.SUMMARY
        if not histogram and name.endswith("_bucket"):
            found.append('non-histogram metrics should not have "_bucket" suffix')
        if not histogram and not summary and name.endswith("_count"):
            found.append('non-histogram and non-summary metrics should not have "_count" suffix')
        if not histogram and not summary and name.endswith("_sum"):
            found.append('non-histogram and non-summary metrics should not have "_sum" suffix')
        for label in _label_names(family):
            if not histogram and label == "le":
                found.append('non-histogram metrics should not have "le" label')
            if not summary and label == "quantile":
                found.append('non-summary metrics should not have "quantile" label')
    lower = name.lower()
    found.extend(
        f"metric name should not include type '{word}'"
        for word in _TYPE_WORDS
        if _has_word(lower, word)
    )
    if ":" in name:
        found.append("metric names should not contain ':'")
    if _CAMEL.search(name):
        found.append("metric names should be written in 'snake_case' not 'camelCase'")
    found.extend(
        "label names should be written in 'snake_case' not 'camelCase'"
        for label in _label_names(family)
        if _CAMEL.search(label)
    )
    found.extend(
        "metric names should not contain abbreviated units"
        for word in _ABBREVIATIONS
        if _has_word(lower, word)
    )
    return [Problem(name, text) for text in found]


def _label_names(family: MetricFamily) -> Iterable[str]:
    """Label names per metric as promlint sees them: one histogram or summary is one metric
    (its le/quantile belong to the type); any other sample is a metric of its own."""
    skip = {MetricType.HISTOGRAM: "le", MetricType.SUMMARY: "quantile"}.get(family.type)
    if skip is None:
        label_sets: Iterable[Labels] = (s.labels for s in family.samples)
    else:
        label_sets = dict.fromkeys(s.labels.without(skip) for s in family.samples)
    for labels in label_sets:
        yield from labels.names()


def lint(families: Iterable[MetricFamily]) -> list[Problem]:
    """All problems, sorted by metric then text, as promtool prints them."""
    problems = [p for family in families for p in lint_family(family)]
    return sorted(problems, key=lambda p: (p.metric, p.text))
