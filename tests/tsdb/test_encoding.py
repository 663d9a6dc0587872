"""Sample records round-trip bit-exactly: every float64 bit pattern, any ascending timestamps."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vigil.tsdb import STALE_NAN, STALE_NAN_BITS
from vigil.tsdb.chunkenc import ChunkFormatError, decode, encode

SPECIAL_BITS = [
    STALE_NAN_BITS,
    0x7FF8000000000000,  # the NaN arithmetic makes
    0x7FF8000000000001,  # Prometheus's "normal" NaN
    0xFFF8000000000000,  # negative NaN
    0x7FF0000000000001,  # signalling NaN payload
    0x7FF0000000000000,  # +Inf
    0xFFF0000000000000,  # -Inf
    0x8000000000000000,  # -0.0
    0x0000000000000001,  # smallest subnormal
    0x000FFFFFFFFFFFFF,  # largest subnormal
    0x7FEFFFFFFFFFFFFF,  # largest finite
]


def roundtrip(ts: np.ndarray, vs: np.ndarray) -> None:
    got = decode(encode(ts, vs))
    assert got.timestamps.dtype == np.int64 and got.values.dtype == np.float64
    np.testing.assert_array_equal(got.timestamps, ts)
    np.testing.assert_array_equal(got.values.view(np.uint64), vs.view(np.uint64))


def ascending(draw: st.DrawFn, n: int, regular: bool) -> np.ndarray:
    start = draw(st.integers(-(2**50), 2**50))
    if regular:
        step = draw(st.integers(1, 10**6))
        ts = start + step * np.arange(n, dtype=np.int64)
        jitter = draw(hnp.arrays(np.int64, n, elements=st.integers(0, 3)))
        return ts * 4 + jitter  # strictly ascending: steps of 4*step >= 4 beat a jitter of 3
    gaps = draw(hnp.arrays(np.int64, n, elements=st.integers(1, 2**40)))
    return start + np.cumsum(gaps)


@st.composite
def series(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(0, 300))
    ts = ascending(draw, n, draw(st.booleans()))
    kind = draw(st.sampled_from(["bits", "decimal", "counter", "mixed"]))
    if kind == "bits":
        bits = draw(
            hnp.arrays(
                np.uint64,
                n,
                elements=st.one_of(st.sampled_from(SPECIAL_BITS), st.integers(0, 2**64 - 1)),
            )
        )
        return ts, bits.view(np.float64)
    places = draw(st.integers(0, 6))
    ints = draw(hnp.arrays(np.int64, n, elements=st.integers(-(10**9), 10**9)))
    if kind == "counter":
        ints = np.cumsum(np.abs(ints) % 1000)
    vs = ints / 10.0**places
    if kind == "mixed" and n:
        where = draw(hnp.arrays(np.int64, draw(st.integers(1, 4)), elements=st.integers(0, n - 1)))
        specials = draw(hnp.arrays(np.uint64, len(where), elements=st.sampled_from(SPECIAL_BITS)))
        vs.view(np.uint64)[where] = specials
    return ts, vs


@settings(max_examples=300, deadline=None)
@given(series())
def test_roundtrip_is_bit_exact(data: tuple[np.ndarray, np.ndarray]) -> None:
    roundtrip(*data)


@pytest.mark.parametrize(
    "values",
    [
        [],
        [STALE_NAN],
        [1.5],
        [-0.0, 0.0, -0.0],
        [0.1 + 0.2, 0.3],  # needs 17 digits: kept as exception bits
        [1.0, 2.0, 3.0, STALE_NAN],  # a series going stale at its end
        [float("inf"), float("-inf"), float("nan")],
        [1e300, 1e-300, 5e-324],
        [2.0**52, 2.0**52 + 1, -(2.0**53)],  # integers beyond the exact scaled range
    ],
)
def test_roundtrip_edge_values(values: list[float]) -> None:
    vs = np.array(values, dtype=np.float64)
    roundtrip(np.arange(len(vs), dtype=np.int64) * 15_000 + 1_700_000_000_000, vs)


def test_stale_marker_keeps_its_payload() -> None:
    vs = np.array([1.0, STALE_NAN], dtype=np.float64)
    got = decode(encode(np.array([0, 15_000]), vs)).values
    assert got.view(np.uint64)[1] == STALE_NAN_BITS


def test_scrape_like_series_is_small() -> None:
    """A counter on a 15 s grid costs well under a byte per sample."""
    ts = 1_700_000_000_000 + 15_000 * np.arange(1440, dtype=np.int64)
    vs = np.cumsum(np.full(1440, 1234.0))
    assert len(encode(ts, vs)) < 100


def test_garbage_is_a_format_error() -> None:
    record = encode(np.arange(10, dtype=np.int64), np.arange(10, dtype=np.float64))
    with pytest.raises(ChunkFormatError):
        decode(record[:-3])
    with pytest.raises(ChunkFormatError):
        decode(b"not a record")


def test_mismatched_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="equal 1-d arrays"):
        encode(np.arange(3, dtype=np.int64), np.arange(4, dtype=np.float64))


def test_decode_from_many_threads_at_once() -> None:
    """Queries read blocks from a thread pool; a shared zstd decompressor broke under that
    ("Destination buffer is too small")."""
    from concurrent.futures import ThreadPoolExecutor

    records = [
        (n, encode(np.arange(n, dtype=np.int64) * 15_000, np.arange(n, dtype=np.float64) * 1.5))
        for n in (1, 480, 5_000, 20_000) * 50
    ]

    def roundtrip(item: tuple[int, bytes]) -> bool:
        n, record = item
        samples = decode(record)
        return len(samples.values) == n and float(samples.values[-1]) == (n - 1) * 1.5

    with ThreadPoolExecutor(max_workers=16) as pool:
        assert all(pool.map(roundtrip, records * 20))
