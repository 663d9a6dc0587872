"""`POST /api/v1/otlp/v1/metrics` into a real TSDB: what each kind of OTLP metric becomes under
Prometheus 3's translation and the otlp config section, what is not stored and how the answer
says so, and each kind of bad request answered with a clear reason."""

from __future__ import annotations

import copy
import errno
import gzip
import json
import logging
import math
import os
import subprocess
import sys
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.conftest import CONFORMANCE

from vigil.config import parse_config
from vigil.config.prometheus import OTLPConfig
from vigil.model import Labels, Matcher
from vigil.model.clock import ManualClock
from vigil.remote.otlp import DISABLED_MESSAGE, PATH, OTLPReceiver, OTLPSettings
from vigil.remote.receiver import CommittingAppender, ReceiverOptions
from vigil.tsdb import STALE_NAN_BITS, StorageNotReady
from vigil.tsdb.db import TSDB

NOW_MS = 1_700_000_000_000
T_NS = NOW_MS * 1_000_000 + 123_456  # nanoseconds, truncated to NOW_MS
CUMULATIVE = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AGGREGATION_TEMPORALITY_DELTA
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}

Stored = dict[Labels, list[tuple[int, float]]]


def _value(value: object) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    return AnyValue(string_value=str(value))


def _attributes(**attributes: object) -> list[KeyValue]:
    return [KeyValue(key=k.replace("__", "."), value=_value(v)) for k, v in attributes.items()]


RESOURCE = Resource(
    attributes=_attributes(
        service__name="shop",
        service__namespace="prod",
        service__instance__id="pod-1",
        host__name="vm1",
        k8s__cluster__name="eu",
    )
)


def _metrics() -> list[pb.Metric]:
    """One metric of each kind a Prometheus 3 stores or refuses, all at T_NS."""
    point = {"time_unix_nano": T_NS, "start_time_unix_nano": T_NS - 10**9}
    return [
        pb.Metric(
            name="http.requests",
            unit="{request}",
            sum=pb.Sum(
                aggregation_temporality=CUMULATIVE,
                is_monotonic=True,
                data_points=[
                    pb.NumberDataPoint(
                        **point,
                        as_int=42,
                        attributes=_attributes(http__method="GET", http__status_code=200),
                    )
                ],
            ),
        ),
        pb.Metric(
            name="queue.depth",
            unit="{item}",
            sum=pb.Sum(
                aggregation_temporality=CUMULATIVE,
                data_points=[pb.NumberDataPoint(**point, as_double=3.5)],
            ),
        ),
        pb.Metric(
            name="memory.usage",
            unit="By",
            gauge=pb.Gauge(
                data_points=[
                    pb.NumberDataPoint(
                        **point,
                        as_double=1024.0,
                        attributes=[
                            KeyValue(key="a_b", value=_value("y")),
                            KeyValue(key="a.b", value=_value("x")),
                            KeyValue(key="flag", value=_value(True)),
                            KeyValue(key="ratio", value=_value(0.25)),
                        ],
                    )
                ]
            ),
        ),
        pb.Metric(
            name="http.duration",
            unit="s",
            histogram=pb.Histogram(
                aggregation_temporality=CUMULATIVE,
                data_points=[
                    pb.HistogramDataPoint(
                        **point,
                        count=6,
                        sum=7.5,
                        bucket_counts=[1, 2, 3],
                        explicit_bounds=[0.1, 1.0],
                    )
                ],
            ),
        ),
        pb.Metric(
            name="rpc.latency",
            unit="ms",
            summary=pb.Summary(
                data_points=[
                    pb.SummaryDataPoint(
                        **point,
                        count=4,
                        sum=10.0,
                        quantile_values=[
                            pb.SummaryDataPoint.ValueAtQuantile(quantile=0.5, value=2.0),
                            pb.SummaryDataPoint.ValueAtQuantile(quantile=0.99, value=5.0),
                        ],
                    )
                ]
            ),
        ),
        pb.Metric(
            name="cpu.utilization",
            unit="1",
            gauge=pb.Gauge(
                data_points=[
                    pb.NumberDataPoint(**point, flags=pb.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK)
                ]
            ),
        ),
        pb.Metric(
            name="request.size",
            unit="By",
            exponential_histogram=pb.ExponentialHistogram(
                aggregation_temporality=CUMULATIVE,
                data_points=[pb.ExponentialHistogramDataPoint(**point, count=1, sum=3.0)],
            ),
        ),
        pb.Metric(
            name="http.errors",
            sum=pb.Sum(
                aggregation_temporality=DELTA,
                is_monotonic=True,
                data_points=[pb.NumberDataPoint(**point, as_int=1)],
            ),
        ),
    ]


def _request(
    metrics: Sequence[pb.Metric], resource: Resource = RESOURCE
) -> ExportMetricsServiceRequest:
    scope = pb.ScopeMetrics(scope=InstrumentationScope(name="shop.lib", version="1.2"))
    scope.metrics.extend(metrics)
    return ExportMetricsServiceRequest(
        resource_metrics=[pb.ResourceMetrics(resource=resource, scope_metrics=[scope])]
    )


@pytest.fixture
def tsdb(tmp_path: Path) -> Iterator[TSDB]:
    with TSDB.open(tmp_path / "data", clock=lambda: NOW_MS / 1000) as db:
        yield db


def _client(
    tsdb: TSDB,
    config: OTLPConfig | None = None,
    *,
    enabled: bool = True,
    options: ReceiverOptions | None = None,
    registry: CollectorRegistry | None = None,
) -> TestClient:
    settings = OTLPSettings(config or OTLPConfig())
    receiver = OTLPReceiver(
        tsdb.appender,
        lambda: settings,
        enabled=enabled,
        options=options or ReceiverOptions(),
        registry=registry,
    )
    return TestClient(Starlette(routes=list(receiver.routes())))


def _otlp_config(text: str) -> OTLPConfig:
    return parse_config(text, "prometheus.yml").otlp


def _stored(tsdb: TSDB) -> Stored:
    querier = tsdb.querier(0, 10**13)
    try:
        return {
            s.labels: list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True))
            for s in querier.select([Matcher.of("__name__", "=~", ".+")])
        }
    finally:
        querier.close()


def _labels(name: str, **labels: str) -> Labels:
    return Labels.from_dict({"__name__": name, **labels})


SHOP = {"job": "prod/shop", "instance": "pod-1", "k8s_cluster_name": "eu"}

EXPECTED: Stored = {
    _labels("http_requests_total", **SHOP, http_method="GET", http_status_code="200"): [
        (NOW_MS, 42.0)
    ],
    _labels("queue_depth", **SHOP): [(NOW_MS, 3.5)],
    _labels("memory_usage_bytes", **SHOP, a_b="x;y", flag="true", ratio="0.25"): [(NOW_MS, 1024.0)],
    _labels("http_duration_seconds_bucket", **SHOP, le="0.1"): [(NOW_MS, 1.0)],
    _labels("http_duration_seconds_bucket", **SHOP, le="1"): [(NOW_MS, 3.0)],
    _labels("http_duration_seconds_bucket", **SHOP, le="+Inf"): [(NOW_MS, 6.0)],
    _labels("http_duration_seconds_sum", **SHOP): [(NOW_MS, 7.5)],
    _labels("http_duration_seconds_count", **SHOP): [(NOW_MS, 6.0)],
    _labels("rpc_latency_milliseconds", **SHOP, quantile="0.5"): [(NOW_MS, 2.0)],
    _labels("rpc_latency_milliseconds", **SHOP, quantile="0.99"): [(NOW_MS, 5.0)],
    _labels("rpc_latency_milliseconds_sum", **SHOP): [(NOW_MS, 10.0)],
    _labels("rpc_latency_milliseconds_count", **SHOP): [(NOW_MS, 4.0)],
    _labels("cpu_utilization_ratio", **SHOP): [(NOW_MS, math.nan)],
    _labels(
        "target_info", job="prod/shop", instance="pod-1", host_name="vm1", k8s_cluster_name="eu"
    ): [(NOW_MS, 1.0)],
}

PROMOTE_CLUSTER = "otlp:\n  promote_resource_attributes: [' k8s.cluster.name']\n"


def _same(got: Stored, want: Stored) -> None:
    """Equal, NaN matching NaN."""
    assert {k: [(t, repr(v)) for t, v in p] for k, p in got.items()} == {
        k: [(t, repr(v)) for t, v in p] for k, p in want.items()
    }


def _partial_success(body: bytes) -> tuple[int, str]:
    response = ExportMetricsServiceResponse.FromString(body)
    return response.partial_success.rejected_data_points, response.partial_success.error_message


def _status(response: httpx.Response) -> tuple[int, str, str]:
    """A refused request's HTTP status, content type and `google.rpc.Status` message."""
    kind = response.headers["content-type"]
    if kind == PROTOBUF["Content-Type"]:
        status = Status.FromString(response.content)
    else:
        status = json_format.Parse(response.content, Status())
    return response.status_code, kind, status.message


def test_each_kind_of_metric_is_stored_as_prometheus_3_translates_it(tsdb: TSDB) -> None:
    registry = CollectorRegistry()
    body = _request(_metrics()).SerializeToString()
    with _client(tsdb, _otlp_config(PROMOTE_CLUSTER), registry=registry) as client:
        response = client.post(PATH, content=body, headers=PROTOBUF)
    assert (response.status_code, response.headers["content-type"]) == (
        200,
        "application/x-protobuf",
    )
    assert _partial_success(response.content) == (
        2,
        'metric "request.size": an exponential histogram, which Prometheus 3 stores as a '
        "native histogram; vigil does not store native histograms yet; "
        'metric "http.errors": delta temporality is not stored, as in Prometheus 3 (set the '
        "exporter's temporality preference to cumulative)",
    )
    stored = _stored(tsdb)
    _same(stored, EXPECTED)
    querier = tsdb.querier(0, 10**13)
    (stale,) = querier.select([Matcher.of("__name__", "=", "cpu_utilization_ratio")])
    assert stale.values.view(np.uint64).tolist() == [STALE_NAN_BITS]
    querier.close()
    dropped = {
        reason: registry.get_sample_value(
            "vigil_otlp_data_points_dropped_total", {"reason": reason}
        )
        for reason in ("delta_temporality", "exponential_histogram", "untranslatable_name")
    }
    assert dropped == {"delta_temporality": 1, "exponential_histogram": 1, "untranslatable_name": 0}


def test_utf8_strategy_keeps_names_as_sent(tsdb: TSDB) -> None:
    config = _otlp_config(
        "otlp:\n  translation_strategy: NoUTF8EscapingWithSuffixes\n"
        "  promote_resource_attributes: [k8s.cluster.name]\n"
    )
    with _client(tsdb, config) as client:
        response = client.post(
            PATH, content=_request(_metrics()[:4]).SerializeToString(), headers=PROTOBUF
        )
    assert response.status_code == 200
    cluster = {"job": "prod/shop", "instance": "pod-1", "k8s.cluster.name": "eu"}
    assert set(_stored(tsdb)) == {
        _labels(
            "http.requests_total", **cluster, **{"http.method": "GET", "http.status_code": "200"}
        ),
        _labels("queue.depth", **cluster),
        _labels(
            "memory.usage_bytes",
            **cluster,
            **{"a.b": "x", "a_b": "y", "flag": "true", "ratio": "0.25"},
        ),
        _labels("http.duration_seconds_bucket", **cluster, le="0.1"),
        _labels("http.duration_seconds_bucket", **cluster, le="1"),
        _labels("http.duration_seconds_bucket", **cluster, le="+Inf"),
        _labels("http.duration_seconds_sum", **cluster),
        _labels("http.duration_seconds_count", **cluster),
        _labels(
            "target_info",
            job="prod/shop",
            instance="pod-1",
            **{"host.name": "vm1", "k8s.cluster.name": "eu"},
        ),
    }


def test_resource_attributes_promoted_all_but_ignored_and_identifying_ones_kept(
    tsdb: TSDB,
) -> None:
    config = _otlp_config(
        "otlp:\n  promote_all_resource_attributes: true\n"
        "  ignore_resource_attributes: [host.name, service.name, service.namespace, service.instance.id]\n"
        "  keep_identifying_resource_attributes: true\n"
        "  promote_scope_metadata: true\n"
    )
    with _client(tsdb, config) as client:
        response = client.post(
            PATH, content=_request(_metrics()[1:2]).SerializeToString(), headers=PROTOBUF
        )
    assert response.status_code == 200
    assert set(_stored(tsdb)) == {
        _labels(
            "queue_depth",
            job="prod/shop",
            instance="pod-1",
            k8s_cluster_name="eu",
            otel_scope_name="shop.lib",
            otel_scope_version="1.2",
        ),
        _labels(
            "target_info",
            job="prod/shop",
            instance="pod-1",
            host_name="vm1",
            k8s_cluster_name="eu",
            service_name="shop",
            service_namespace="prod",
            service_instance_id="pod-1",
        ),
    }


def test_a_resource_with_only_identifying_attributes_has_no_target_info(tsdb: TSDB) -> None:
    resource = Resource(attributes=_attributes(service__name="shop"))
    with _client(tsdb) as client:
        body = _request(_metrics()[1:2], resource).SerializeToString()
        assert client.post(PATH, content=body, headers=PROTOBUF).status_code == 200
    assert set(_stored(tsdb)) == {_labels("queue_depth", job="shop")}


def _conformance() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((CONFORMANCE / "otlp" / "metrics.json").read_text())
    return document


CONFORMANCE_MS = 1544712660300
CONFORMANCE_GAUGE = _labels("my_gauge_ratio", job="my.service", my_gauge_attr="some value")


def test_the_otlp_json_example_is_stored_without_its_delta_metrics(tsdb: TSDB) -> None:
    """The OpenTelemetry JSON example sends its sums and histograms with delta temporality:
    Prometheus 3 stores only its gauge, and so does vigil, saying what it left out."""
    body = json.dumps(_conformance()).encode()
    with _client(tsdb) as client:
        response = client.post(PATH, content=body, headers=JSON)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/json")
    answer = response.json()["partialSuccess"]
    assert answer["rejectedDataPoints"] == "3"
    assert answer["errorMessage"].count("delta temporality is not stored") == 3
    assert _stored(tsdb) == {CONFORMANCE_GAUGE: [(CONFORMANCE_MS, 10.0)]}


def test_the_otlp_json_example_made_cumulative_is_stored_whole(tsdb: TSDB) -> None:
    document = _conformance()
    for metric in document["resourceMetrics"][0]["scopeMetrics"][0]["metrics"]:
        for kind in ("sum", "histogram", "exponentialHistogram"):
            if kind in metric:
                metric[kind]["aggregationTemporality"] = 2
    with _client(tsdb) as client:
        response = client.post(PATH, content=json.dumps(document).encode(), headers=JSON)
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedDataPoints"] == "1"
    job = {"job": "my.service"}
    t = CONFORMANCE_MS
    assert _stored(tsdb) == {
        CONFORMANCE_GAUGE: [(t, 10.0)],
        _labels("my_counter_total", **job, my_counter_attr="some value"): [(t, 5.0)],
        _labels("my_histogram_bucket", **job, my_histogram_attr="some value", le="1"): [(t, 1.0)],
        _labels("my_histogram_bucket", **job, my_histogram_attr="some value", le="+Inf"): [
            (t, 2.0)
        ],
        _labels("my_histogram_sum", **job, my_histogram_attr="some value"): [(t, 2.0)],
        _labels("my_histogram_count", **job, my_histogram_attr="some value"): [(t, 2.0)],
    }


@pytest.mark.parametrize(
    ("encoding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_a_compressed_body_is_accepted(
    tsdb: TSDB, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    body = compress(json.dumps(_conformance()).encode())
    with _client(tsdb) as client:
        response = client.post(PATH, content=body, headers={**JSON, "Content-Encoding": encoding})
    assert response.status_code == 200
    assert _stored(tsdb) == {CONFORMANCE_GAUGE: [(CONFORMANCE_MS, 10.0)]}


def test_the_config_is_read_at_each_request(tsdb: TSDB) -> None:
    """/-/reload swaps the config the server's receiver reads: the next request uses it."""
    settings = [OTLPSettings()]
    receiver = OTLPReceiver(tsdb.appender, lambda: settings[0])
    body = _request(
        _metrics()[1:2], Resource(attributes=_attributes(service__name="a.b"))
    ).SerializeToString()
    with TestClient(Starlette(routes=list(receiver.routes()))) as client:
        assert client.post(PATH, content=body, headers=PROTOBUF).status_code == 200
        settings[0] = OTLPSettings(_otlp_config("otlp: {translation_strategy: NoTranslation}"))
        assert client.post(PATH, content=body, headers=PROTOBUF).status_code == 200
    assert set(_stored(tsdb)) == {
        _labels("queue_depth", job="a.b"),
        _labels("queue.depth", job="a.b"),
    }


BIG = gzip.compress(bytes(200_000))

BAD = [
    pytest.param(
        b"\x0a\xff",
        PROTOBUF,
        400,
        "body is not a valid ExportMetricsServiceRequest protobuf: Error parsing message",
        id="truncated-protobuf",
    ),
    pytest.param(b"{", JSON, 400, "body is not JSON: unexpected end of JSON input", id="not-json"),
    pytest.param(
        b"[1]",
        JSON,
        400,
        "body is not an OTLP/JSON ExportMetricsServiceRequest object",
        id="json-list",
    ),
    pytest.param(
        b'{"resourceMetrics": 5}',
        JSON,
        400,
        "body is not a valid OTLP/JSON ExportMetricsServiceRequest: Failed to parse resourceMetrics field",
        id="json-wrong-shape",
    ),
    pytest.param(
        b"{}",
        {"Content-Type": "text/plain"},
        415,
        "unsupported content type: text/plain, supported: [application/json, application/x-protobuf]",
        id="content-type",
    ),
    pytest.param(
        b"{}",
        {**JSON, "Content-Encoding": "br"},
        415,
        'unsupported Content-Encoding "br": send gzip, deflate or no encoding',
        id="content-encoding",
    ),
    pytest.param(
        b"{}",
        {**JSON, "Content-Encoding": "gzip"},
        400,
        "body is not valid gzip: Error -3 while decompressing data: incorrect header check",
        id="not-gzip",
    ),
    pytest.param(
        gzip.compress(bytes(1_000))[:-10],
        {**PROTOBUF, "Content-Encoding": "gzip"},
        400,
        "body is not valid gzip: the stream is truncated",
        id="truncated-gzip",
    ),
    pytest.param(
        BIG,
        {**PROTOBUF, "Content-Encoding": "gzip"},
        413,
        "request too large: more than 100000 bytes after gzip decompression (the limit)",
        id="gzip-bomb",
    ),
    pytest.param(
        bytes(2_000_000),
        PROTOBUF,
        413,
        "request too large: body of more than 1000000 bytes (the limit)",
        id="huge-body",
    ),
]


@pytest.mark.parametrize(("body", "headers", "status", "message"), BAD)
def test_bad_requests_are_refused_with_a_reason_and_lose_nothing(
    tsdb: TSDB, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    options = ReceiverOptions(max_body_bytes=1_000_000, max_decoded_bytes=100_000)
    with _client(tsdb, options=options) as client:
        good = client.post(PATH, content=json.dumps(_conformance()).encode(), headers=JSON)
        assert good.status_code == 200
        response = client.post(PATH, content=body, headers=headers)
    kind = headers["Content-Type"] if status != 415 else JSON["Content-Type"]
    code, got_kind, got = _status(response)
    assert (code, got_kind, got[: len(message)]) == (status, kind, message)
    assert _stored(tsdb) == {CONFORMANCE_GAUGE: [(CONFORMANCE_MS, 10.0)]}


def test_without_the_flag_the_endpoint_says_how_to_enable_it(tsdb: TSDB) -> None:
    with _client(tsdb, enabled=False) as client:
        response = client.post(PATH, content=json.dumps(_conformance()).encode(), headers=JSON)
    assert (response.status_code, response.text) == (404, DISABLED_MESSAGE)
    assert _stored(tsdb) == {}


def test_a_push_before_the_wal_is_replayed_is_answered_503_for_a_retry() -> None:
    def not_ready() -> CommittingAppender:
        raise StorageNotReady("replaying the WAL (40%)")

    receiver = OTLPReceiver(not_ready)
    with TestClient(Starlette(routes=list(receiver.routes()))) as client:
        response = client.post(PATH, content=json.dumps(_conformance()).encode(), headers=JSON)
    assert _status(response) == (
        503,
        JSON["Content-Type"],
        "TSDB not ready: replaying the WAL (40%)",
    )
    assert response.headers["Retry-After"] == "30"


def test_samples_the_head_refuses_are_counted_in_partial_success(tsdb: TSDB) -> None:
    """Same bounds as remote write: a point beyond now + --storage.tsdb.max-future is refused
    (said in a 200's partial success, so the exporter does not retry it forever); the rest of
    the request is kept."""
    metrics = _metrics()[1:3]
    metrics[1].gauge.data_points[0].time_unix_nano = (NOW_MS + 3_600_000) * 1_000_000
    resource = Resource(attributes=_attributes(service__name="shop"))
    with _client(tsdb) as client:
        response = client.post(
            PATH, content=_request(metrics, resource).SerializeToString(), headers=PROTOBUF
        )
    assert (response.status_code, _partial_success(response.content)) == (
        200,
        (
            1,
            "1 of 2 samples refused (1 out of bounds (too far in the future: beyond now + "
            "--storage.tsdb.max-future)); 1 stored",
        ),
    )
    assert set(_stored(tsdb)) == {_labels("queue_depth", job="shop")}


@pytest.mark.parametrize("headers", [PROTOBUF, JSON])
def test_a_request_the_head_refuses_whole_is_a_400_status(
    tsdb: TSDB, headers: dict[str, str]
) -> None:
    metric = _metrics()[2]
    metric.gauge.data_points[0].time_unix_nano = (NOW_MS + 3_600_000) * 1_000_000
    request = _request([metric], Resource(attributes=_attributes(service__name="shop")))
    body = (
        request.SerializeToString()
        if headers is PROTOBUF
        else json_format.MessageToJson(request).encode()
    )
    with _client(tsdb) as client:
        response = client.post(PATH, content=body, headers=headers)
    assert _status(response) == (
        400,
        headers["Content-Type"],
        "1 of 1 samples refused (1 out of bounds (too far in the future: beyond now + "
        "--storage.tsdb.max-future)); 0 stored",
    )
    assert _stored(tsdb) == {}


def test_a_resent_request_stores_nothing_twice(tsdb: TSDB) -> None:
    body = _request(_metrics()[:6]).SerializeToString()
    with _client(tsdb, _otlp_config(PROMOTE_CLUSTER)) as client:
        first = client.post(PATH, content=body, headers=PROTOBUF)
        again = client.post(PATH, content=body, headers=PROTOBUF)
    assert (first.status_code, again.status_code) == (200, 200)
    assert _partial_success(again.content) == (0, "")
    _same(_stored(tsdb), EXPECTED)


def test_json_and_protobuf_bodies_store_the_same(tmp_path: Path) -> None:
    request = _request(_metrics())
    document = json_format.MessageToDict(request)
    results = []
    for name, body, headers in (
        ("pb", request.SerializeToString(), PROTOBUF),
        ("json", json.dumps(copy.deepcopy(document)).encode(), JSON),
    ):
        with TSDB.open(tmp_path / name, clock=lambda: NOW_MS / 1000) as db:
            with _client(db, _otlp_config(PROMOTE_CLUSTER)) as client:
                assert client.post(PATH, content=body, headers=headers).status_code == 200
            results.append({k: [(t, repr(v)) for t, v in p] for k, p in _stored(db).items()})
    assert results[0] == results[1]


def test_the_server_loads_the_otlp_protobuf_classes_only_when_a_request_comes() -> None:
    program = (
        "import sys, vigil.cmd.server_process;"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"


def test_a_data_point_whose_attribute_has_no_label_name_is_dropped_and_said(tsdb: TSDB) -> None:
    metric = _metrics()[1]
    good = metric.sum.data_points[0]
    bad = metric.sum.data_points.add()
    bad.CopyFrom(good)
    bad.attributes.append(KeyValue(key="..", value=_value("x")))
    resource = Resource(attributes=[*_attributes(service__name="shop"), KeyValue(key="")])
    config = _otlp_config("otlp: {promote_all_resource_attributes: true}")
    with _client(tsdb, config) as client:
        response = client.post(
            PATH, content=_request([metric], resource).SerializeToString(), headers=PROTOBUF
        )
    assert response.status_code == 200
    assert _partial_success(response.content) == (
        1,
        'resource attribute left out: an attribute with an empty name; metric "queue.depth": '
        'attribute name ".." translates to "__", only underscores; '
        "target_info not stored: an attribute with an empty name",
    )
    assert set(_stored(tsdb)) == {
        _labels("queue_depth", job="shop", service_name="shop"),
    }


def test_a_full_disk_is_answered_503_with_retry_after_and_logged_once_a_minute(
    tsdb: TSDB, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An exporter retries a 503 (honouring Retry-After); a push every few ms is a log line a
    minute with the count, never a traceback."""
    clock = ManualClock(NOW_MS / 1000)
    full = [True]
    write = os.write

    def disk(fd: int, data: bytes | memoryview) -> int:
        if full[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write(fd, data)

    monkeypatch.setattr(os, "write", disk)
    caplog.set_level(logging.INFO, logger="vigil.remote.receiver")
    receiver = OTLPReceiver(tsdb.appender, clock=clock.now)
    body = _request(_metrics()[1:2], Resource(attributes=_attributes(service__name="shop")))
    answers = []
    with TestClient(Starlette(routes=list(receiver.routes()))) as client:
        for advance in (0, 1, 60):
            clock.advance(advance)
            response = client.post(PATH, content=body.SerializeToString(), headers=PROTOBUF)
            answers.append((*_status(response), response.headers.get("Retry-After")))
        full[0] = False
        stored = client.post(PATH, content=body.SerializeToString(), headers=PROTOBUF)
    refused = (503, PROTOBUF["Content-Type"], "storage cannot write: No space left on device", "30")
    assert answers == [refused] * 3
    assert (stored.status_code, _partial_success(stored.content)) == (200, (0, ""))
    logged = [r for r in caplog.records if r.name == "vigil.remote.receiver"]
    assert [(r.getMessage(), r.exc_info) for r in logged] == [
        ("OTLP metrics refused with 503: storage cannot write: No space left on device", None),
        (
            "OTLP metrics: 2 requests refused with 503 in the last 61s: "
            "storage cannot write: No space left on device",
            None,
        ),
    ]


def test_attribute_sets_that_escape_alike_are_one_series(tsdb: TSDB) -> None:
    """`a.b` and `a_b` are both the label `a_b`: two data points become one series, its samples
    in time order whatever the order of the points."""
    gauge = pb.Metric(name="g", gauge=pb.Gauge())
    for t_ms, key, value in ((NOW_MS + 15_000, "a.b", 2.0), (NOW_MS, "a_b", 1.0)):
        gauge.gauge.data_points.add(
            time_unix_nano=t_ms * 1_000_000,
            as_double=value,
            attributes=[KeyValue(key=key, value=_value("x"))],
        )
    resource = Resource(attributes=_attributes(service__name="shop"))
    with _client(tsdb) as client:
        body = _request([gauge], resource).SerializeToString()
        assert client.post(PATH, content=body, headers=PROTOBUF).status_code == 200
    assert _stored(tsdb) == {
        _labels("g", job="shop", a_b="x"): [(NOW_MS, 1.0), (NOW_MS + 15_000, 2.0)]
    }
