"""OTLP metrics receiver: decode + translate + store time per push, beside the remote-write
receiver storing the same samples, in this process. A push is what an OpenTelemetry SDK sends
every interval: `--series` counters and gauges (3 attributes each) and `--series // 10`
histograms of 10 buckets, one data point each; pushes after the first reuse the label sets.
Not a test.

    .venv/bin/python bench/otlp.py [--series 5000] [--pushes 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cramjam
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from vigil.config.prometheus import OTLPConfig
from vigil.remote.otlp.decode import PROTOBUF, parse_request
from vigil.remote.otlp.translate import Translator
from vigil.remote.prompb import Label, Sample, TimeSeries, WriteRequest
from vigil.remote.receiver import decode_write_request, store
from vigil.tsdb.db import TSDB

START_NS = 1_700_000_000_000 * 1_000_000
STEP_NS = 15 * 1_000_000_000
BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5]


def _attributes(i: int) -> list[KeyValue]:
    return [
        KeyValue(key="http.route", value=AnyValue(string_value=f"/route/{i}")),
        KeyValue(key="http.method", value=AnyValue(string_value=("GET", "POST")[i % 2])),
        KeyValue(key="http.status_code", value=AnyValue(int_value=200 + i // 100)),
    ]


def push(series: int, k: int) -> bytes:
    t = START_NS + k * STEP_NS
    counter = pb.Metric(
        name="http.server.requests",
        sum=pb.Sum(
            aggregation_temporality=pb.AGGREGATION_TEMPORALITY_CUMULATIVE, is_monotonic=True
        ),
    )
    gauge = pb.Metric(name="http.server.active", gauge=pb.Gauge())
    histogram = pb.Metric(
        name="http.server.duration",
        unit="s",
        histogram=pb.Histogram(aggregation_temporality=pb.AGGREGATION_TEMPORALITY_CUMULATIVE),
    )
    for i in range(series // 2):
        counter.sum.data_points.add(time_unix_nano=t, as_int=k * 10 + i, attributes=_attributes(i))
        gauge.gauge.data_points.add(time_unix_nano=t, as_double=i / 7, attributes=_attributes(i))
    for i in range(series // 10):
        histogram.histogram.data_points.add(
            time_unix_nano=t,
            count=10 * k,
            sum=1.5 * k,
            bucket_counts=[k] * (len(BOUNDS) + 1),
            explicit_bounds=BOUNDS,
            attributes=_attributes(i),
        )
    resource = Resource(
        attributes=[
            KeyValue(key="service.name", value=AnyValue(string_value="shop")),
            KeyValue(key="service.instance.id", value=AnyValue(string_value="pod-1")),
            KeyValue(key="host.name", value=AnyValue(string_value="vm1")),
        ]
    )
    scope = pb.ScopeMetrics(metrics=[counter, gauge, histogram])
    request = ExportMetricsServiceRequest(
        resource_metrics=[pb.ResourceMetrics(resource=resource, scope_metrics=[scope])]
    )
    return request.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--series", type=int, default=5000)
    parser.add_argument("--pushes", type=int, default=20)
    args = parser.parse_args()
    bodies = [push(args.series, k) for k in range(args.pushes)]
    translator = Translator()
    config = OTLPConfig()
    points = samples = 0
    otlp_s = 0.0
    remote_bodies = []
    with tempfile.TemporaryDirectory() as tmp, TSDB.open(Path(tmp) / "otlp") as db:
        for body in bodies:
            began = time.perf_counter()
            request = parse_request(body, PROTOBUF)
            translation = translator.translate(request, config, 300_000)
            store(db.appender(), translation.write)
            otlp_s += time.perf_counter() - began
            points += sum(
                len(getattr(m, m.WhichOneof("data")).data_points)
                for m in request.resource_metrics[0].scope_metrics[0].metrics
            )
            samples += translation.write.n_samples
            write = translation.write
            offsets = write.counts.cumsum() - write.counts
            remote_bodies.append(
                bytes(
                    cramjam.snappy.compress_raw(
                        WriteRequest(
                            timeseries=[
                                TimeSeries(
                                    labels=[Label(name=k, value=v) for k, v in labels],
                                    samples=[
                                        Sample(
                                            value=float(write.values[o]),
                                            timestamp=int(write.timestamps[o]),
                                        )
                                    ],
                                )
                                for labels, o in zip(write.labels, offsets.tolist(), strict=True)
                            ]
                        ).SerializeToString()
                    )
                )
            )
    remote_s = 0.0
    with tempfile.TemporaryDirectory() as tmp, TSDB.open(Path(tmp) / "rw") as db:
        for body in remote_bodies:
            began = time.perf_counter()
            store(db.appender(), decode_write_request(body, 1 << 30))
            remote_s += time.perf_counter() - began
    print(
        f"{args.pushes} pushes of {points // args.pushes} data points, {samples // args.pushes} samples"
    )
    print(
        f"OTLP receiver:         {otlp_s / args.pushes * 1000:7.1f} ms/push, "
        f"{points / otlp_s / 1000:6.1f} k data points/s, {samples / otlp_s / 1000:6.1f} k samples/s"
    )
    print(
        f"remote-write receiver: {remote_s / args.pushes * 1000:7.1f} ms/push, "
        f"{'':>22} {samples / remote_s / 1000:6.1f} k samples/s (same samples)"
    )


if __name__ == "__main__":
    main()
