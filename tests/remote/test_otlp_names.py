"""OpenTelemetry names → Prometheus names under each `otlp.translation_strategy`, as Prometheus 3
translates them (cases from its translator's documented examples)."""

from __future__ import annotations

import pytest

from vigil.remote.otlp.names import MetricKind, UntranslatableName, label_name, metric_name

GAUGE = MetricKind.GAUGE
COUNTER = MetricKind.MONOTONIC_COUNTER
UPDOWN = MetricKind.NON_MONOTONIC_COUNTER
HISTOGRAM = MetricKind.HISTOGRAM
SUMMARY = MetricKind.SUMMARY

ESCAPED = "UnderscoreEscapingWithSuffixes"
ESCAPED_BARE = "UnderscoreEscapingWithoutSuffixes"
UTF8 = "NoUTF8EscapingWithSuffixes"
AS_SENT = "NoTranslation"

METRICS = [
    # the default: escaped, with unit and type suffixes
    (
        "http.server.request.duration",
        "s",
        HISTOGRAM,
        ESCAPED,
        "http_server_request_duration_seconds",
    ),
    ("requests", "", COUNTER, ESCAPED, "requests_total"),
    ("requests_total", "", COUNTER, ESCAPED, "requests_total"),
    ("total.requests", "", COUNTER, ESCAPED, "requests_total"),
    ("items", "1", COUNTER, ESCAPED, "items_total"),
    ("cpu_usage", "1", GAUGE, ESCAPED, "cpu_usage_ratio"),
    ("cpu_usage_ratio", "1", GAUGE, ESCAPED, "cpu_usage_ratio"),
    ("memory.usage", "By", GAUGE, ESCAPED, "memory_usage_bytes"),
    ("response_time", "ms", SUMMARY, ESCAPED, "response_time_milliseconds"),
    ("response_time_seconds", "s", GAUGE, ESCAPED, "response_time_seconds"),
    ("requests", "1/s", GAUGE, ESCAPED, "requests_per_second"),
    ("throughput", "By/s", GAUGE, ESCAPED, "throughput_bytes_per_second"),
    ("custom_metric", "custom_unit", GAUGE, ESCAPED, "custom_metric_custom_unit"),
    ("custom_metric", "{custom}", GAUGE, ESCAPED, "custom_metric"),
    ("custom_metric", "By/{custom}", GAUGE, ESCAPED, "custom_metric_bytes"),
    (
        "custom_metric",
        "unit@with#special/chars",
        GAUGE,
        ESCAPED,
        "custom_metric_unit_with_special_per_chars",
    ),
    (
        "metric__with__underscores",
        "unit__with__underscores",
        GAUGE,
        ESCAPED,
        "metric_with_underscores_unit_with_underscores",
    ),
    ("active_connections", "{connection}", UPDOWN, ESCAPED, "active_connections"),
    ("room.temperature", "Cel", GAUGE, ESCAPED, "room_temperature_celsius"),
    ("uptime", "d", GAUGE, ESCAPED, "uptime_days"),
    ("2xx.responses", "", COUNTER, ESCAPED, "_2xx_responses_total"),
    ("métric", "", GAUGE, ESCAPED, "m_tric"),
    # escaped, no suffixes
    ("metric@with#special$chars", "s", COUNTER, ESCAPED_BARE, "metric_with_special_chars"),
    ("metric@@##$$name", "", GAUGE, ESCAPED_BARE, "metric_name"),
    ("123metric", "", GAUGE, ESCAPED_BARE, "_123metric"),
    # UTF-8 names kept, with suffixes
    ("http.server.request.duration", "s", HISTOGRAM, UTF8, "http.server.request.duration_seconds"),
    ("requêsts", "", COUNTER, UTF8, "requêsts_total"),
    ("requests_total", "", COUNTER, UTF8, "requests_total"),
    ("cpu_usagé", "1", GAUGE, UTF8, "cpu_usagé_ratio"),
    ("requêsts", "1/s", GAUGE, UTF8, "requêsts_per_second"),
    ("cpu_seconds_total", "s", COUNTER, UTF8, "cpu_seconds_total"),
    ("@#$%", "", COUNTER, UTF8, "@#$%_total"),
    # as sent
    ("http.server.request.duration", "s", HISTOGRAM, AS_SENT, "http.server.request.duration"),
]


@pytest.mark.parametrize(("name", "unit", "kind", "strategy", "want"), METRICS)
def test_metric_names(name: str, unit: str, kind: MetricKind, strategy: str, want: str) -> None:
    assert metric_name(name, unit, kind, strategy) == want


@pytest.mark.parametrize(
    ("name", "strategy"),
    [("@#$%", ESCAPED), ("@#$%", ESCAPED_BARE), ("", UTF8), ("", AS_SENT), ("...", ESCAPED)],
)
def test_names_with_nothing_left_are_refused(name: str, strategy: str) -> None:
    with pytest.raises(UntranslatableName):
        metric_name(name, "", GAUGE, strategy)


LABELS = [
    ("http.method", ESCAPED, "http_method"),
    ("http.method", ESCAPED_BARE, "http_method"),
    ("123invalid", ESCAPED, "key_123invalid"),
    ("_private", ESCAPED, "key_private"),
    ("__reserved__", ESCAPED, "__reserved__"),
    ("héllo", ESCAPED, "h_llo"),
    ("http.method", UTF8, "http.method"),
    ("_private", AS_SENT, "_private"),
]


@pytest.mark.parametrize(("name", "strategy", "want"), LABELS)
def test_label_names(name: str, strategy: str, want: str) -> None:
    assert label_name(name, strategy) == want


@pytest.mark.parametrize(("name", "strategy"), [("", ESCAPED), ("", UTF8), ("..", ESCAPED)])
def test_label_names_with_nothing_left_are_refused(name: str, strategy: str) -> None:
    with pytest.raises(UntranslatableName):
        label_name(name, strategy)
