"""metrics_pb2: the committed generated module matches metrics.proto, and its field numbers
are client_model's (io.prometheus.client).

Run it as a module (`python -m tests.exposition.test_metrics_pb`) to regenerate
src/vigil/exposition/metrics_pb2.py/.pyi after editing metrics.proto (needs grpcio-tools, a
test dependency).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.protoc import ROOT, GeneratedProto
from vigil.exposition import metrics_pb2

PROTO = GeneratedProto(
    ROOT / "src" / "vigil" / "exposition" / "metrics.proto", "tests/exposition/test_metrics_pb.py"
)


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    assert PROTO.stale(tmp_path) == [], (
        "regenerate with `python -m tests.exposition.test_metrics_pb`"
    )


if __name__ == "__main__":
    PROTO.regenerate()


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
