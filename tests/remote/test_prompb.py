"""prompb: the committed generated module matches prompb.proto, and its field numbers are Prometheus's.

Run it as a module (`python -m tests.remote.test_prompb`) to regenerate
src/vigil/remote/prompb_pb2.py/.pyi after editing prompb.proto (needs grpcio-tools, a test
dependency).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import numpy as np
import pytest
from tests.protoc import ROOT, GeneratedProto

from vigil.model import Labels
from vigil.remote import prompb
from vigil.remote.encode import LabelTable, encode_metadata

PROTO = GeneratedProto(
    ROOT / "src" / "vigil" / "remote" / "prompb.proto", "tests/remote/test_prompb.py"
)


def test_generated_module_is_up_to_date(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    assert PROTO.stale(tmp_path) == [], "regenerate with `python -m tests.remote.test_prompb`"


if __name__ == "__main__":
    PROTO.regenerate()


# (message, field, number) as in Prometheus's prompb/types.proto and prompb/remote.proto.
FIELD_NUMBERS = [
    ("WriteRequest", "timeseries", 1),
    ("WriteRequest", "metadata", 3),
    ("TimeSeries", "labels", 1),
    ("TimeSeries", "samples", 2),
    ("TimeSeries", "exemplars", 3),
    ("TimeSeries", "histograms", 4),
    ("Histogram", "count_int", 1),
    ("Histogram", "count_float", 2),
    ("Histogram", "sum", 3),
    ("Histogram", "schema", 4),
    ("Histogram", "zero_threshold", 5),
    ("Histogram", "zero_count_int", 6),
    ("Histogram", "zero_count_float", 7),
    ("Histogram", "negative_spans", 8),
    ("Histogram", "negative_deltas", 9),
    ("Histogram", "negative_counts", 10),
    ("Histogram", "positive_spans", 11),
    ("Histogram", "positive_deltas", 12),
    ("Histogram", "positive_counts", 13),
    ("Histogram", "reset_hint", 14),
    ("Histogram", "timestamp", 15),
    ("Histogram", "custom_values", 16),
    ("BucketSpan", "offset", 1),
    ("BucketSpan", "length", 2),
    ("Label", "name", 1),
    ("Label", "value", 2),
    ("Sample", "value", 1),
    ("Sample", "timestamp", 2),
    ("MetricMetadata", "type", 1),
    ("MetricMetadata", "metric_family_name", 2),
    ("MetricMetadata", "help", 4),
    ("MetricMetadata", "unit", 5),
    ("ReadRequest", "queries", 1),
    ("ReadRequest", "accepted_response_types", 2),
    ("ReadResponse", "results", 1),
    ("Query", "start_timestamp_ms", 1),
    ("Query", "end_timestamp_ms", 2),
    ("Query", "matchers", 3),
    ("Query", "hints", 4),
    ("QueryResult", "timeseries", 1),
    ("LabelMatcher", "type", 1),
    ("LabelMatcher", "name", 2),
    ("LabelMatcher", "value", 3),
    ("ReadHints", "step_ms", 1),
    ("ReadHints", "func", 2),
    ("ReadHints", "start_ms", 3),
    ("ReadHints", "end_ms", 4),
    ("ReadHints", "grouping", 5),
    ("ReadHints", "by", 6),
    ("ReadHints", "range_ms", 7),
]


def test_field_numbers_are_prometheus_ones() -> None:
    got = [
        (message, name, getattr(prompb, message).DESCRIPTOR.fields_by_name[name].number)
        for message, name, _ in FIELD_NUMBERS
    ]
    assert got == FIELD_NUMBERS


def test_enum_values_are_prometheus_ones() -> None:
    got = {
        "LabelMatcher.Type": dict(prompb.LabelMatcher.Type.items()),
        "MetricMetadata.MetricType": dict(prompb.MetricMetadata.MetricType.items()),
        "ReadRequest.ResponseType": dict(prompb.ReadRequest.ResponseType.items()),
    }
    assert got == {
        "LabelMatcher.Type": {"EQ": 0, "NEQ": 1, "RE": 2, "NRE": 3},
        "MetricMetadata.MetricType": {
            "UNKNOWN": 0,
            "COUNTER": 1,
            "GAUGE": 2,
            "HISTOGRAM": 3,
            "GAUGEHISTOGRAM": 4,
            "SUMMARY": 5,
            "INFO": 6,
            "STATESET": 7,
        },
        "ReadRequest.ResponseType": {"SAMPLES": 0, "STREAMED_XOR_CHUNKS": 1},
    }


STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]
LABELS = {
    0: Labels.from_dict({"__name__": "up", "job": "node"}),
    1: Labels.from_dict({"__name__": "x" * 200, "é": "ünïcode ✓"}),
    2: Labels.from_dict({"__name__": "y" * 20_000}),  # 3-byte length varints
    7: Labels(),
}


@pytest.mark.parametrize(
    ("name", "refs", "ts", "vs"),
    [
        ("one sample", [0], [1_700_000_000_123], [1.5]),
        ("zero value and zero timestamp omitted", [0, 1], [0, 5], [0.0, 0.0]),
        ("negative zero kept", [1], [1], [-0.0]),
        ("negative timestamp is a 10-byte varint", [0], [-1], [2.0]),
        (
            "nan, stale marker, infinities",
            [0, 0, 1, 1],
            [1, 2, 3, 4],
            [math.nan, STALE_NAN, math.inf, -math.inf],
        ),
        ("long and empty label sets", [2, 7, 0, 2], [9, 9, 9, 2**62], [1.0, 2.0, 3.0, 4.0]),
    ],
)
def test_numpy_encoding_is_byte_identical_to_protobuf(
    name: str, refs: list[int], ts: list[int], vs: list[float]
) -> None:
    table = LabelTable()
    for ref, labels in LABELS.items():
        table.set(ref, labels)
    got = table.encode(
        np.array(refs, dtype=np.int64), np.array(ts, dtype=np.int64), np.array(vs, dtype=np.float64)
    )
    want = prompb.WriteRequest(
        timeseries=[
            prompb.TimeSeries(
                labels=[prompb.Label(name=k, value=v) for k, v in LABELS[ref]],
                samples=[prompb.Sample(value=v, timestamp=t)],
            )
            for ref, t, v in zip(refs, ts, vs, strict=True)
        ]
    ).SerializeToString()
    assert got == want, name


def test_metadata_encoding_is_byte_identical_to_protobuf() -> None:
    entries = [
        (1, "http_requests_total", "Requests.", ""),
        (0, "x", "", "seconds"),
        (2, "g", "", ""),
    ]
    want = prompb.WriteRequest(
        metadata=[
            prompb.MetricMetadata(type=k, metric_family_name=n, help=h, unit=u)  # type: ignore[arg-type]
            for k, n, h, u in entries
        ]
    ).SerializeToString()
    assert encode_metadata(entries) == want
