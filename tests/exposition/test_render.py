"""Rendering and content negotiation: what vigil serves reads back the same and passes promtool."""

from __future__ import annotations

import gzip
import subprocess

import pytest

from tests.conftest import peer
from vigil.exposition import (
    Exemplar,
    Format,
    MetricFamily,
    MetricType,
    Sample,
    expose,
    format_value,
    negotiate_format,
    render_openmetrics,
    render_text,
)
from vigil.exposition.openmetrics import parse_openmetrics
from vigil.exposition.text import parse_text
from vigil.model import Labels

L = Labels.from_dict

FAMILIES = [
    MetricFamily(
        "http_requests",
        MetricType.COUNTER,
        'Requests "served".\nBy code.',
        None,
        [
            Sample(
                "http_requests_total",
                L({"code": "200", "path": 'a\\b"c\nd'}),
                3.0,
                None,
                Exemplar(L({"trace_id": "abc"}), 0.5, 12.25),
            ),
            Sample("http_requests_created", L({"code": "200", "path": 'a\\b"c\nd'}), 1700000000.5),
        ],
    ),
    MetricFamily(
        "temp_celsius",
        MetricType.GAUGE,
        "Temperature.",
        "celsius",
        [Sample("temp_celsius", L({}), -1.5e-7, 1700000000123)],
    ),
    MetricFamily(
        "lat_seconds",
        MetricType.HISTOGRAM,
        "Latency.",
        "seconds",
        [
            Sample("lat_seconds_bucket", L({"le": "0.1"}), 1.0),
            Sample("lat_seconds_bucket", L({"le": "+Inf"}), 2.0),
            Sample("lat_seconds_count", L({}), 2.0),
            Sample("lat_seconds_sum", L({}), 0.3),
        ],
    ),
    MetricFamily(
        "build", MetricType.INFO, "Build.", None, [Sample("build_info", L({"version": "1"}), 1.0)]
    ),
    MetricFamily("odd", MetricType.UNKNOWN, None, None, [Sample("odd", L({}), float("inf"))]),
]


def test_openmetrics_round_trip() -> None:
    assert parse_openmetrics(render_openmetrics(FAMILIES)) == FAMILIES


def test_text_rendering() -> None:
    text = render_text(FAMILIES)
    assert (
        '# HELP http_requests_total Requests "served".\\nBy code.\n# TYPE http_requests_total counter\n'
        in text
    )
    assert 'http_requests_total{code="200",path="a\\\\b\\"c\\nd"} 3\n' in text
    assert "# TYPE http_requests_created gauge\n" in text
    assert "temp_celsius -1.5e-07 1700000000123\n" in text
    assert "odd +Inf\n" in text
    families = {f.name: f for f in parse_text(text)}
    assert families["http_requests_total"].samples[0].labels.get("path") == 'a\\b"c\nd'
    assert families["lat_seconds"].type is MetricType.HISTOGRAM
    assert families["build_info"].type is MetricType.GAUGE


def test_promtool_accepts_rendering() -> None:
    body = render_text(FAMILIES).encode()
    done = subprocess.run(
        [peer("promtool"), "check", "metrics"], input=body, capture_output=True, check=False
    )
    assert done.returncode in (0, 3), done.stderr.decode()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (0.5, "0.5"),
        (-0.0, "-0"),
        (1e22, "1e+22"),
        (float("nan"), "NaN"),
        (float("-inf"), "-Inf"),
        (123456789.0, "123456789"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text
    assert float(text) == value or value != value


@pytest.mark.parametrize(
    ("accept", "fmt"),
    [
        (None, Format.TEXT),
        ("text/plain;version=0.0.4", Format.TEXT),
        ("application/openmetrics-text; version=1.0.0", Format.OPENMETRICS),
        (
            "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
            Format.OPENMETRICS,
        ),
        ("text/plain;q=0.9,application/openmetrics-text;version=1.0.0;q=0.5", Format.TEXT),
        ("application/openmetrics-text; version=2.0.0", Format.TEXT),
        ("application/json", Format.TEXT),
    ],
)
def test_negotiation(accept: str | None, fmt: Format) -> None:
    assert negotiate_format(accept) is fmt


def test_expose_gzip() -> None:
    exposition = expose(FAMILIES, "application/openmetrics-text; version=1.0.0", "gzip, deflate")
    assert exposition.content_encoding == "gzip"
    assert exposition.content_type.startswith("application/openmetrics-text; version=1.0.0")
    assert gzip.decompress(exposition.body).endswith(b"# EOF\n")
    plain = expose(FAMILIES, None, "identity")
    assert plain.content_encoding is None
    assert plain.content_type == "text/plain; version=0.0.4; charset=utf-8"
