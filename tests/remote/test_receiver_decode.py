"""The receiver's own WriteRequest reader decodes exactly what the protobuf runtime decodes
(random requests: zero values and timestamps left out, negative and extreme timestamps,
NaN payloads, exemplars, metadata, fields out of the usual order), and refuses each kind of
corrupt input with a message saying what is wrong."""

from __future__ import annotations

import random
import struct

import cramjam
import numpy as np
import pytest

from vigil.model import Labels
from vigil.remote.encode import varint
from vigil.remote.prompb import Exemplar, Label, MetricMetadata, Sample, TimeSeries, WriteRequest
from vigil.remote.receiver import WriteRejected, decode_write_request
from vigil.tsdb._api import STALE_NAN

_VALUES = [0.0, -0.0, 1.0, -2.5, 1e-300, 1e300, float("inf"), float("-inf"), STALE_NAN]
_TIMES = [0, 1, -1, 127, 128, 1_700_000_000_123, 2**62, -(2**62), 2**63 - 1, -(2**63)]


def _random_request(rng: random.Random) -> WriteRequest:
    series = []
    for i in range(rng.randint(0, 30)):
        names = rng.sample(["__name__", "job", "instance", "a", "é"], rng.randint(0, 4))
        labels = [Label(name=n, value=rng.choice(["", "x", f"v{i}", "ü" * 3])) for n in names]
        samples = [
            Sample(value=rng.choice([*_VALUES, rng.random()]), timestamp=rng.choice(_TIMES))
            for _ in range(rng.randint(0, 4))
        ]
        exemplars = [Exemplar(labels=labels[:1], value=1.0, timestamp=5)] * rng.randint(0, 1)
        series.append(TimeSeries(labels=labels, samples=samples, exemplars=exemplars))
    metadata = [MetricMetadata(type=MetricMetadata.COUNTER, metric_family_name="x_total")]
    return WriteRequest(timeseries=series, metadata=metadata * rng.randint(0, 2))


def _oracle(request: WriteRequest) -> tuple[list[Labels], list[int], list[int], list[int]]:
    labels, counts, ts, bits = [], [], [], []
    for series in request.timeseries:
        labels.append(Labels.from_pairs((p.name, p.value) for p in series.labels if p.value))
        counts.append(len(series.samples))
        ts += [s.timestamp for s in series.samples]
        bits += [struct.unpack("<Q", struct.pack("<d", s.value))[0] for s in series.samples]
    return labels, counts, ts, bits


def _compress(raw: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(raw))


@pytest.mark.parametrize("seed", range(40))
def test_decoding_matches_the_protobuf_runtime(seed: int) -> None:
    request = _random_request(random.Random(seed))
    try:
        want = _oracle(request)
    except ValueError:  # a duplicate label name: the receiver refuses it (tested below)
        return
    raw = request.SerializeToString()
    got = decode_write_request(_compress(raw), 1 << 30)
    assert (
        got.labels,
        got.counts.tolist(),
        got.timestamps.tolist(),
        got.values.view(np.uint64).tolist(),
    ) == want


def _sample_fields(*fields: bytes) -> bytes:
    """A WriteRequest of one series `up` holding one Sample made of the given raw fields."""
    sample = b"".join(fields)
    label = b"\x0a\x08__name__\x12\x02up"
    series = b"\x0a" + varint(len(label)) + label + b"\x12" + varint(len(sample)) + sample
    return b"\x0a" + varint(len(series)) + series


def test_samples_in_unusual_layouts_decode_like_the_runtime() -> None:
    layouts = [
        b"\x10\x05" + b"\x09" + struct.pack("<d", 2.5),  # timestamp before value
        b"\x09" + struct.pack("<d", 1.0) + b"\x10\x03" + b"\x10\x07",  # last timestamp wins
        b"\x18\x01" + b"\x10\x05",  # an unknown field first
        b"\x10\x85\x80\x00",  # an over-long varint
        b"",  # all defaults
    ]
    for layout in layouts:
        raw = _sample_fields(layout)
        want = _oracle(WriteRequest.FromString(raw))
        got = decode_write_request(_compress(raw), 1 << 30)
        assert (got.timestamps.tolist(), got.values.view(np.uint64).tolist()) == want[2:], layout


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (_sample_fields(b"\x09\x00\x00"), "a sample value runs past its end"),
        (_sample_fields(b"\x10\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01"), "varint longer than"),
        (_sample_fields(b"\x0f"), "wire type 7"),
        (b"\x0a\x09\x0a\x03\x12\x01x", "timeseries 0 is truncated"),
        (b"\x0a\x07\x0a\x05\x0a\x01a\x12\x80", "message ends inside a varint"),
        (b"\x0a\x06\x0a\x04\x0a\x02\xc3\x28", "label text is not UTF-8"),
        (b"\x0a\x05\x12\x09\x09\x00\x00", "timeseries 0 runs past its end"),
    ],
    ids=[
        "short-value",
        "long-varint",
        "bad-wire-type",
        "truncated",
        "cut-varint",
        "utf8",
        "overrun",
    ],
)
def test_corrupt_requests_say_what_is_wrong(raw: bytes, message: str) -> None:
    with pytest.raises(WriteRejected) as caught:
        decode_write_request(_compress(raw), 1 << 30)
    prefix = "body is not a valid WriteRequest protobuf (truncated or corrupt): "
    assert (caught.value.status, caught.value.message[: len(prefix) + len(message)]) == (
        400,
        prefix + message,
    )
