"""metrics_pb2: the committed generated module matches metrics.proto, and its field numbers
are client_model's (io.prometheus.client).

Run this file as a script to regenerate src/vigil/exposition/metrics_pb2.py/.pyi after
editing metrics.proto (needs grpcio-tools, a test dependency).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vigil.exposition import metrics_pb2

ROOT = Path(__file__).resolve().parents[2]
PROTO_DIR = ROOT / "src" / "vigil" / "exposition"
GENERATED = ("metrics_pb2.py", "metrics_pb2.pyi")
HEADER = (
    "# ruff: noqa\n"
    "# Generated from metrics.proto by tests/exposition/test_metrics_pb.py; do not edit.\n"
)
STUB_HEADER = '# mypy: disable-error-code="type-arg"\n'


def generate(out_dir: Path) -> None:
    """protoc (from grpcio-tools) → metrics_pb2.py/.pyi, then ruff-formatted."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"--python_out={out_dir}",
            f"--pyi_out={out_dir}",
            str(PROTO_DIR / "metrics.proto"),
        ],
        check=True,
    )
    for name in GENERATED:
        path = out_dir / name
        extra = STUB_HEADER if name.endswith(".pyi") else ""
        path.write_text(HEADER + extra + path.read_text())
    ruff = Path(sys.executable).with_name("ruff")
    subprocess.run(
        [str(ruff), "format", "--quiet", "--config", str(ROOT / "pyproject.toml")]
        + [str(out_dir / n) for n in GENERATED],
        check=True,
    )


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    generate(tmp_path)
    stale = [n for n in GENERATED if (tmp_path / n).read_text() != (PROTO_DIR / n).read_text()]
    assert stale == [], f"regenerate with `python {Path(__file__).name}`"


if __name__ == "__main__":
    generate(PROTO_DIR)


# (message, field, number) as in client_model's io/prometheus/client/metrics.proto.
FIELD_NUMBERS = [
    ("MetricFamily", "name", 1),
    ("MetricFamily", "help", 2),
    ("MetricFamily", "type", 3),
    ("MetricFamily", "metric", 4),
    ("MetricFamily", "unit", 5),
    ("Metric", "label", 1),
    ("Metric", "gauge", 2),
    ("Metric", "counter", 3),
    ("Metric", "summary", 4),
    ("Metric", "untyped", 5),
    ("Metric", "timestamp_ms", 6),
    ("Metric", "histogram", 7),
    ("Counter", "value", 1),
    ("Counter", "created_timestamp", 3),
    ("Summary", "sample_count", 1),
    ("Summary", "sample_sum", 2),
    ("Summary", "quantile", 3),
    ("Histogram", "sample_count", 1),
    ("Histogram", "sample_sum", 2),
    ("Histogram", "bucket", 3),
    ("Histogram", "sample_count_float", 4),
    ("Histogram", "schema", 5),
    ("Histogram", "zero_threshold", 6),
    ("Histogram", "zero_count", 7),
    ("Histogram", "zero_count_float", 8),
    ("Histogram", "negative_span", 9),
    ("Histogram", "negative_delta", 10),
    ("Histogram", "negative_count", 11),
    ("Histogram", "positive_span", 12),
    ("Histogram", "positive_delta", 13),
    ("Histogram", "positive_count", 14),
    ("Histogram", "created_timestamp", 15),
    ("Histogram", "exemplars", 16),
    ("Bucket", "cumulative_count", 1),
    ("Bucket", "upper_bound", 2),
    ("Bucket", "cumulative_count_float", 4),
    ("BucketSpan", "offset", 1),
    ("BucketSpan", "length", 2),
]


def test_field_numbers_are_client_model_ones() -> None:
    got = [
        (message, name, getattr(metrics_pb2, message).DESCRIPTOR.fields_by_name[name].number)
        for message, name, _ in FIELD_NUMBERS
    ]
    assert got == FIELD_NUMBERS


def test_metric_types_are_client_model_ones() -> None:
    assert dict(metrics_pb2.MetricType.items()) == {
        "COUNTER": 0,
        "GAUGE": 1,
        "SUMMARY": 2,
        "UNTYPED": 3,
        "HISTOGRAM": 4,
        "GAUGE_HISTOGRAM": 5,
    }
