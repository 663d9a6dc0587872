"""Real bodies: node_exporter 1.5, a Spring Boot app, and Prometheus's parser test data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, FIXTURES, peer
from vigil.exposition import Format, MetricType, render_openmetrics, render_text
from vigil.exposition.check import check_body
from vigil.exposition.openmetrics import parse_openmetrics
from vigil.exposition.text import parse_text

NODE = FIXTURES / "exposition" / "node-exporter-1.5.0.txt"
SPRING = FIXTURES / "exposition" / "spring-boot-actuator.txt"
EXPOSITION = CONFORMANCE / "exposition"


def test_node_exporter_families() -> None:
    families = parse_text(NODE.read_text())
    by_name = {f.name: f for f in families}
    # The file has 283 TYPE lines, and every family has samples.
    assert len(families) == 283
    assert by_name["node_cpu_seconds_total"].type is MetricType.COUNTER
    assert by_name["node_memory_MemTotal_bytes"].type is MetricType.GAUGE
    assert by_name["go_gc_duration_seconds"].type is MetricType.SUMMARY
    cpu = by_name["node_cpu_seconds_total"].samples
    assert {tuple(s.labels.names()) for s in cpu} == {("cpu", "mode")}
    assert sum(len(f.samples) for f in families) == 507


def _promtool_problems(path: Path) -> list[str]:
    with path.open("rb") as body:
        done = subprocess.run(
            [peer("promtool"), "check", "metrics"], stdin=body, capture_output=True, check=False
        )
    assert done.returncode == 3, done.stderr
    return sorted(line for line in done.stderr.decode().splitlines() if line)


@pytest.mark.parametrize("path", [SPRING, NODE], ids=["spring-boot", "node-exporter"])
def test_lint_matches_promtool(path: Path) -> None:
    result = check_body(path.read_bytes())
    assert result.error is None
    ours = sorted(f"{p.metric} {p.text}" for p in result.problems)
    assert ours == _promtool_problems(path)


def test_spring_boot_lints() -> None:
    result = check_body(SPRING.read_bytes())
    texts = {(p.metric, p.text) for p in result.problems}
    assert ("http_server_requests_seconds", "no help text") in texts
    assert (
        "system_cpu_count",
        'non-histogram and non-summary metrics should not have "_count" suffix',
    ) in texts


FILES = [
    ("1histogram.om.txt", Format.OPENMETRICS),
    ("alltypes.5mfs.om.txt", Format.OPENMETRICS),
    ("alltypes.237mfs.prom.txt", Format.TEXT),
    ("alltypes.237mfs.nometa.prom.txt", Format.TEXT),
]


def _parse(text: str, fmt: Format) -> list:  # type: ignore[type-arg]
    # Prometheus's scrape rules (strict=False) for OpenMetrics: alltypes.5mfs.om.txt is
    # client_golang output with negative buckets and a _sum, which the OpenMetrics 1.0
    # spec forbids (see test_alltypes_is_not_strict_openmetrics) but Prometheus reads.
    return parse_openmetrics(text, strict=False) if fmt is Format.OPENMETRICS else parse_text(text)


@pytest.mark.parametrize(("name", "fmt"), FILES, ids=[n for n, _ in FILES])
def test_upstream_files_parse_and_round_trip(name: str, fmt: Format) -> None:
    families = _parse((EXPOSITION / name).read_text(), fmt)
    assert families
    rendered = render_openmetrics(families) if fmt is Format.OPENMETRICS else render_text(families)
    assert _comparable(_parse(rendered, fmt)) == _comparable(families)


def _comparable(families: list) -> list:  # type: ignore[type-arg]
    """Families as tuples in which NaN equals NaN (Python's == says it does not)."""
    return [
        (
            f.name,
            f.type,
            f.help,
            f.unit,
            [(s.name, s.labels, s.value.hex(), s.timestamp_ms, s.exemplar) for s in f.samples],
        )
        for f in families
    ]


@pytest.mark.parametrize(
    ("name", "count"), [("alltypes.237mfs.prom.txt", 237), ("alltypes.5mfs.om.txt", 5)]
)
def test_upstream_family_counts(name: str, count: int) -> None:
    fmt = Format.OPENMETRICS if name.endswith(".om.txt") else Format.TEXT
    assert len(_parse((EXPOSITION / name).read_text(), fmt)) == count


def test_alltypes_is_not_strict_openmetrics() -> None:
    result = check_body((EXPOSITION / "alltypes.5mfs.om.txt").read_bytes(), Format.OPENMETRICS)
    assert result.error is not None
    assert "negative buckets must not have a _sum" in result.error.message


def test_text_round_trip_of_openmetrics_families_reads_as_text() -> None:
    families = parse_openmetrics((EXPOSITION / "1histogram.om.txt").read_text())
    again = parse_text(render_text(families))
    assert [(f.name, f.type) for f in again] == [
        ("golang_manual_histogram_seconds", MetricType.HISTOGRAM)
    ]
    assert [s.value for s in again[0].samples] == [s.value for s in families[0].samples]
