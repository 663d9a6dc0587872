"""OpenTelemetry metric and attribute names → Prometheus names, as Prometheus 3 translates them.

`otlp.translation_strategy` picks the rules:
- `UnderscoreEscapingWithSuffixes` (the default): characters outside `[a-zA-Z0-9:]` split the
  name into words joined by `_`; unit suffixes (`s` → `_seconds`, `By/s` → `_bytes_per_second`),
  `_total` for monotonic counters and `_ratio` for gauges of unit `1` are added once.
- `UnderscoreEscapingWithoutSuffixes`: the same escaping, no suffixes.
- `NoUTF8EscapingWithSuffixes`: names kept as sent (Prometheus 3 stores UTF-8 names), suffixes
  added.
- `NoTranslation`: names kept as sent.
Label names are escaped (`[^a-zA-Z0-9_]` → `_`, `key_` before a leading digit, `key` before a
single leading `_`) under the escaping strategies, kept as sent otherwise.
"""

from __future__ import annotations

import enum
import re


class MetricKind(enum.Enum):
    GAUGE = "gauge"
    MONOTONIC_COUNTER = "counter"
    NON_MONOTONIC_COUNTER = "updowncounter"
    HISTOGRAM = "histogram"
    EXPONENTIAL_HISTOGRAM = "exponential_histogram"
    SUMMARY = "summary"


class UntranslatableName(ValueError):
    """A name that translates to nothing a Prometheus series can carry."""


# UCUM units as OpenTelemetry writes them → the Prometheus base-unit words.
_UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
_PER_UNITS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}

_NOT_METRIC_WORD = re.compile(r"[^a-zA-Z0-9:]+")
_NOT_METRIC_CHAR = re.compile(r"[^a-zA-Z0-9:_]+")
_NOT_UNIT_CHAR = re.compile(r"[^a-zA-Z0-9:]")
_UNDERSCORES = re.compile(r"__+")
_NOT_LABEL_CHAR = re.compile(r"[^a-zA-Z0-9_]")

STRATEGIES = (
    "UnderscoreEscapingWithSuffixes",
    "UnderscoreEscapingWithoutSuffixes",
    "NoUTF8EscapingWithSuffixes",
    "NoTranslation",
)


def escapes(strategy: str) -> bool:
    return strategy.startswith("UnderscoreEscaping")


def adds_suffixes(strategy: str) -> bool:
    return strategy.endswith("WithSuffixes")


def metric_name(name: str, unit: str, kind: MetricKind, strategy: str) -> str:
    """The family name a metric is stored under; UntranslatableName if nothing valid is left."""
    if escapes(strategy):
        built = (
            _escaped_with_suffixes(name, unit, kind) if adds_suffixes(strategy) else _escaped(name)
        )
        if built and built != name and not built.strip("_"):
            raise UntranslatableName(
                f'metric name "{name}" translates to "{built}", only underscores'
            )
    else:
        built = _utf8_with_suffixes(name, unit, kind) if adds_suffixes(strategy) else name
    if not built:
        raise UntranslatableName(f'metric name "{name}" translates to an empty name')
    return built


def label_name(name: str, strategy: str) -> str:
    """The label an attribute becomes; UntranslatableName if nothing valid is left."""
    if not name:
        raise UntranslatableName("an attribute with an empty name")
    if not escapes(strategy):
        return name
    built = _NOT_LABEL_CHAR.sub("_", name)
    if built[0].isdigit():
        built = "key_" + built
    elif built.startswith("_") and not built.startswith("__"):
        built = "key" + built
    if built != name and not built.strip("_"):
        raise UntranslatableName(
            f'attribute name "{name}" translates to "{built}", only underscores'
        )
    return built


def _unit_suffixes(unit: str) -> tuple[str, str]:
    """(main, per) words of a UCUM unit like `By/s`; `{requests}` and `1` add nothing."""
    main_text, slash, per_text = unit.partition("/")
    main_text = main_text.strip()
    main = ""
    if main_text and "{" not in main_text and "}" not in main_text:
        main = _UNITS.get(main_text, main_text)
    per = ""
    if slash and per_text:
        per_text = per_text.strip()
        if per_text and "{" not in per_text and "}" not in per_text:
            per = _PER_UNITS.get(per_text, per_text)
        if per:
            per = "per_" + per
    return main, per


def _clean_unit(unit: str) -> str:
    return _UNDERSCORES.sub("_", _NOT_UNIT_CHAR.sub("_", unit)).removeprefix("_")


def _escaped_with_suffixes(name: str, unit: str, kind: MetricKind) -> str:
    words = [word for word in _NOT_METRIC_WORD.split(name) if word]
    main, per = _unit_suffixes(unit)
    main, per = _clean_unit(main), _clean_unit(per)
    if main in words:
        main = ""
    if per == "per_":
        per = ""
    else:
        per = per.removesuffix("_")
        if per in words:
            per = ""
    if per:
        main = main.removesuffix("_")
    words += [suffix for suffix in (main, per) if suffix]
    if kind is MetricKind.MONOTONIC_COUNTER:
        words = [word for word in words if word != "total"] + ["total"]
    if unit == "1" and kind is MetricKind.GAUGE:
        words = [word for word in words if word != "ratio"] + ["ratio"]
    built = "_".join(words)
    return "_" + built if built[:1].isdigit() else built


def _escaped(name: str) -> str:
    built = "_".join(word for word in _NOT_METRIC_CHAR.split(name) if word)
    return "_" + built if built[:1].isdigit() else built


def _trim(name: str, suffix: str) -> str:
    """`name` without `suffix` and the delimiter before it (if something is left)."""
    if name.endswith(suffix) and len(name) > len(suffix) + 1:
        return name[: -(len(suffix) + 1)]
    return name


def _utf8_with_suffixes(name: str, unit: str, kind: MetricKind) -> str:
    after: list[str] = []
    if unit == "1" and kind is MetricKind.GAUGE:
        name = _trim(name, "ratio")
        after.append("_ratio")
    if kind is MetricKind.MONOTONIC_COUNTER:
        name = _trim(name, "total")
        after.append("_total")
    main, per = _unit_suffixes(unit)
    if per:
        name = _trim(name, per)
        after.append("_" + per)
    if main and not name.endswith(main):
        name += "_" + main
    return name + "".join(reversed(after))
