"""Native histograms over remote write: the prompb form (integer when every count is whole,
float otherwise) round trips, and histogram samples go from the WAL through the queue to
vigil's own receiver into a head, beside float samples of the same WAL."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from tests.remote.test_write import START, Harness, _config

from vigil.model import Labels
from vigil.model.histogram import CounterResetHint, FloatHistogram, Span
from vigil.promql.testing import parse_histogram
from vigil.remote.histograms import from_prompb, to_prompb
from vigil.remote.receiver import decode_write_request, store
from vigil.tsdb.head import Head
from vigil.tsdb.head_state import HeadOptions
from vigil.tsdb.wal import HistogramSamples, encode_histograms, encode_samples, encode_series
from vigil.tsdb.wlog import WAL

CASES = [
    (
        "integer",
        parse_histogram(
            "{{schema:1 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] n_buckets:[0 1]}}"
        ),
        "count_int",
    ),
    ("float", parse_histogram("{{schema:0 sum:0.5 count:2.5 buckets:[1.5 1]}}"), "count_float"),
    (
        "gauge with a gap between spans",
        FloatHistogram(
            count=3.0,
            sum=-2.0,
            positive_spans=(Span(-2, 1), Span(3, 1)),
            positive_buckets=(1.0, 2.0),
            counter_reset_hint=CounterResetHint.GAUGE,
        ),
        "count_int",
    ),
    (
        "custom buckets",
        parse_histogram("{{schema:-53 sum:10 count:3 custom_values:[1 5] buckets:[1 1 1]}}"),
        "count_int",
    ),
]


@pytest.mark.parametrize(("name", "histogram", "kind"), CASES, ids=[c[0] for c in CASES])
def test_prompb_round_trip(name: str, histogram: FloatHistogram, kind: str) -> None:
    msg = to_prompb(histogram, 1234)
    assert (msg.WhichOneof("count"), msg.timestamp) == (kind, 1234)
    assert from_prompb(type(msg).FromString(msg.SerializeToString())) == histogram


def test_buckets_that_do_not_fit_their_spans_are_refused() -> None:
    msg = to_prompb(CASES[0][1], 0)
    msg.positive_deltas.append(1)
    with pytest.raises(ValueError, match="bucket counts"):
        from_prompb(msg)


SERIES = [
    (1, Labels.from_dict({"__name__": "latency", "job": "a"})),
    (2, Labels.from_dict({"__name__": "up", "job": "a"})),
]


def _histogram(i: int) -> FloatHistogram:
    return parse_histogram(f"{{{{schema:0 sum:{i * 1.5} count:{2 * i} buckets:[{i} {i}]}}}}")


def test_wal_histograms_reach_a_vigil_receiver(tmp_path: Path) -> None:
    head = Head(HeadOptions(max_future_ms=0), clock=lambda: START)
    h = Harness(tmp_path)

    def receive(request: httpx.Request) -> httpx.Response:
        write = decode_write_request(request.content, 1 << 24)
        store(head.appender(), write)
        return httpx.Response(204)

    transport = httpx.MockTransport(receive)
    h.registry = CollectorRegistry()
    h.storage = type(h.storage)(
        h.wal_dir,
        h.state_dir,
        h.registry,
        clock=h.clock,
        client_factory=lambda _: httpx.AsyncClient(transport=transport),
    )
    times = [int(START * 1000) + i * 15_000 for i in range(1, 6)]

    async def run() -> None:
        wal = WAL(h.wal_dir)
        await h.storage.apply(_config())
        wal.log([encode_series(SERIES)])
        for i, t in enumerate(times, start=1):
            wal.log(
                [
                    encode_histograms(HistogramSamples([1], [t], [_histogram(i)])),
                    encode_samples(np.array([2]), np.array([t]), np.array([1.0])),
                ]
            )
        await h.until(lambda: head.num_series == 2 and _count(head) == 2 * len(times))
        await h.storage.stop()
        wal.close()

    asyncio.run(run())
    found = {s.labels.get("__name__"): s for s in head.querier(0, 2**62).select([])}
    assert found["latency"].timestamps.tolist() == times
    assert found["latency"].histograms is not None
    assert list(found["latency"].histograms) == [_histogram(i) for i in range(1, 6)]
    assert found["up"].values.tolist() == [1.0] * len(times)
    assert not any(math.isnan(v) for v in found["up"].values)
    assert h.value("prometheus_remote_storage_samples_total") == len(times)
    assert h.value("prometheus_remote_storage_histograms_total") == len(times)


def _count(head: Head) -> int:
    return sum(len(s.timestamps) for s in head.querier(0, 2**62).select([]))
