"""Chunk and WAL record encodings: what goes in comes out, whole columns at a time."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vigil.logs import Lines
from vigil.logs.chunk import (
    Chunk,
    ChunkFormatError,
    decode_varints,
    encode_varints,
    unzigzag,
)
from vigil.logs.lines import gather_lines
from vigil.logs.wal import (
    Piece,
    decode_chunk,
    decode_entries,
    decode_streams,
    encode_chunk,
    encode_entries,
    encode_streams,
)
from vigil.model import Labels


def zigzag(values: npt.NDArray[np.int64]) -> npt.NDArray[np.uint64]:
    """The first chunk format's signed-to-unsigned mapping (its writer is gone)."""
    return ((values << 1) ^ (values >> 63)).view(np.uint64)


TRACE = Labels.from_dict({"trace_id": "4bf92f3577b34da6", "user": "ünï"})


@pytest.mark.parametrize(
    "values",
    [
        [],
        [0],
        [1, -1, 127, 128, -129, 2**62, -(2**63), 2**63 - 1],
        list(range(-1000, 1000, 7)),
    ],
)
def test_zigzag_varints_round_trip(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    encoded = encode_varints(zigzag(array))
    assert unzigzag(decode_varints(encoded, len(values))).tolist() == values


@settings(deadline=None)
@given(st.lists(st.integers(0, 2**64 - 1) | st.integers(0, 300), max_size=200))
def test_varints_of_mixed_widths_round_trip(values: list[int]) -> None:
    array = np.array(values, dtype=np.uint64)
    assert decode_varints(encode_varints(array), len(values)).tolist() == values


@pytest.mark.parametrize(
    ("data", "count"),
    [(b"\x80", 1), (b"\x01\x01", 1), (b"\x01", 2), (b"\xff" * 10 + b"\x01", 1)],
)
def test_varints_that_do_not_hold_count_values_are_refused(data: bytes, count: int) -> None:
    with pytest.raises(ChunkFormatError):
        decode_varints(data, count)


@pytest.mark.parametrize(
    ("lines", "metadata"),
    [
        (["one line"], None),
        (["", "empty before", "ünïcode ✓", "x" * 70_000], None),
        (["a", "b", "c"], (Labels(), TRACE, Labels())),
    ],
)
def test_chunk_round_trips_entries(lines: list[str], metadata: tuple[Labels, ...] | None) -> None:
    ts = np.cumsum(np.arange(len(lines), dtype=np.int64) * 1_000_003) + 1_700_000_000 * 10**9
    column = Lines.of(lines)
    chunk = Chunk.encode(ts, column, metadata)
    got = chunk.entries(TRACE)
    assert (
        got.timestamps.tolist(),
        list(got.lines),
        got.metadata,
        chunk.timestamps().tolist(),
        chunk.sizes().tolist(),
        (chunk.mint, chunk.maxt, chunk.lines, chunk.raw_bytes),
    ) == (
        ts.tolist(),
        [s.encode() for s in lines],
        metadata,
        ts.tolist(),
        column.sizes().tolist(),
        (int(ts[0]), int(ts[-1]), len(lines), len(column.data)),
    )


def test_lines_are_gathered_in_any_order() -> None:
    lines = Lines.of(["zero", "", "two", "three"])
    got = gather_lines(lines, np.array([3, 1, 0, 3], dtype=np.int64))
    assert list(got) == [b"three", b"", b"zero", b"three"]


def test_wal_records_round_trip() -> None:
    streams = [(0, Labels.from_dict({"job": "app"})), (7, Labels.from_dict({"a": "1", "b": ""}))]
    assert decode_streams(encode_streams(streams)) == streams
    pieces = [
        (0, Piece(np.array([5, 3], dtype=np.int64), Lines.of(["b", "a"]), None)),
        (7, Piece(np.array([9], dtype=np.int64), Lines.of(["ü"]), (TRACE,))),
    ]
    got = decode_entries(encode_entries(pieces))
    assert [(r, p.timestamps.tolist(), list(p.lines), p.metadata) for r, p in got] == [
        (r, p.timestamps.tolist(), list(p.lines), p.metadata) for r, p in pieces
    ]
    chunk = Chunk.encode(np.array([1, 2], dtype=np.int64), Lines.of(["x", "y"]), None)
    assert decode_chunk(encode_chunk(7, chunk)) == (7, chunk)


def test_entries_record_that_does_not_add_up_is_corrupt() -> None:
    record = encode_entries([(0, Piece(np.array([1], dtype=np.int64), Lines.of(["x"]), None))])
    with pytest.raises(ValueError, match="line bytes"):
        decode_entries(record + b"extra")


def test_a_chunk_counted_without_its_lines_gives_times_sizes_and_metadata() -> None:
    ts = np.array([10, 20, 20, 35], dtype=np.int64)
    metadata = (Labels(), TRACE, Labels(), TRACE)
    chunk = Chunk.encode(ts, Lines.of(["a", "bb", "", "dddd"]), metadata)
    got_ts, sizes, got_meta = chunk.counted()
    assert got_meta is not None
    codes, sets = got_meta.sets()
    assert (got_ts.tolist(), sizes.tolist(), [sets[c] for c in codes], chunk.has_metadata) == (
        ts.tolist(),
        [1, 2, 0, 4],
        list(metadata),
        True,
    )


def test_a_chunk_compressed_again_harder_holds_the_same_entries_in_no_more_bytes() -> None:
    lines = [f"GET /api/orders/{i % 40} user=u{i * 7 % 500} took={i % 90}ms" for i in range(3000)]
    ts = np.arange(3000, dtype=np.int64) * 1_000_000
    metadata = tuple(TRACE if i % 3 else Labels() for i in range(3000))
    chunk = Chunk.encode(ts, Lines.of(lines), metadata)
    harder = chunk.recompressed(9)
    got, want = harder.entries(TRACE), chunk.entries(TRACE)
    assert got is not None and want is not None
    assert (got.timestamps.tolist(), list(got.lines), got.metadata) == (
        want.timestamps.tolist(),
        list(want.lines),
        want.metadata,
    )
    assert len(harder.data) < len(chunk.data)
