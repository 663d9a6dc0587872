"""A block's format for samples: one series as one zstd-compressed record, in numpy.

Chosen by measuring on node_exporter data (`bench/tsdb.py` prints the figures): scrape
timestamps sit on a regular grid, so they are stored as the grid (start, step) plus the
deltas of each sample's offset from it (mostly zeros); values are usually decimals with
few digits, so they are stored as exact integers `v * 10**k` as deltas (or deltas of
deltas, whichever is smaller), and only where no scale round-trips bit-exactly (or for
NaN, ±Inf, -0.0, stale markers) are the raw float bits kept: as a short exception list,
or, when most values are such, as XOR of consecutive float bits. Each integer column is
stored in the narrowest width that holds it, byte-planes shuffled so zstd sees runs.

A series holding native histogram samples is written as version 2: the same columns (a
histogram's value cell is a NaN placeholder), then the positions of its histogram samples
and those samples in `chunkenc.histogram`'s encoding. Float-only series stay version 1.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import zstandard

from vigil.tsdb.chunkenc import histogram as histenc
from vigil.tsdb.chunkenc.primitives import (
    NEG_ZERO_BITS,
    POW10,
    WIDTH_TYPES,
    decimal_scale,
    width_code,
    width_dtype,
)

FORMAT_VERSION = 1
HISTOGRAM_FORMAT_VERSION = 2

_MAX_SCALE = 15  # past 15 digits nothing fits
_MAX_EXACT = float(2**51)  # so every partial sum in decoding stays an exact double
_ZSTD_LEVEL = 9

# header: version, value mode, n, t0, step, timestamp width code
_HEADER = struct.Struct("<BBIqqB")
# decimal values: scale, order (1 = deltas, 2 = deltas of deltas), first, second, width, exceptions
_DECIMAL = struct.Struct("<BBqqBI")

_VALUES_DECIMAL = 0
_VALUES_XOR = 1


class _Codecs(threading.local):
    """zstd (de)compressor objects are not thread-safe, and queries read blocks from a
    thread pool: one pair per thread."""

    def __init__(self) -> None:
        self.compressor = zstandard.ZstdCompressor(
            level=_ZSTD_LEVEL, write_checksum=True, write_content_size=True, write_dict_id=False
        )
        self.decompressor = zstandard.ZstdDecompressor()


_codecs = _Codecs()


class ChunkFormatError(ValueError):
    """A record that does not decode: corrupt, truncated, or written by a newer vigil."""


@dataclass(frozen=True, slots=True)
class Samples:
    """Decoded samples of one series: timestamps ascending (ms), values bit-exact."""

    timestamps: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    histograms: npt.NDArray[np.object_] | None = None  # as in SeriesData


_POSITIONS = struct.Struct("<I")


def encode(
    timestamps: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    histograms: npt.NDArray[np.object_] | None = None,
) -> bytes:
    """Compress one series' samples (timestamps ascending; `histograms` as in SeriesData)
    into a self-describing record."""
    ts = np.ascontiguousarray(timestamps, dtype=np.int64)
    vs = np.ascontiguousarray(values, dtype=np.float64)
    if ts.shape != vs.shape or ts.ndim != 1:
        raise ValueError(f"timestamps {ts.shape} and values {vs.shape} must be equal 1-d arrays")
    n = len(ts)
    t0 = int(ts[0]) if n else 0
    step = int(np.median(np.diff(ts))) if n > 1 else 0
    offsets = ts - (t0 + np.arange(n, dtype=np.int64) * step)
    ts_width, ts_column = _pack_ints(np.diff(offsets))
    parts = [b"", ts_column]
    mode, value_parts = _encode_values(vs)
    parts.extend(value_parts)
    version = FORMAT_VERSION
    where = np.empty(0, dtype=np.int64)
    if histograms is not None:
        where = np.flatnonzero(histograms.astype(np.bool_))
    if len(where):
        version = HISTOGRAM_FORMAT_VERSION
        parts.append(_POSITIONS.pack(len(where)))
        parts.append(where.astype("<u4").tobytes())
        assert histograms is not None
        parts.append(histenc.encode(ts[where].tolist(), histograms[where].tolist()))
    parts[0] = _HEADER.pack(version, mode, n, t0, step, ts_width)
    return _codecs.compressor.compress(b"".join(parts))


def decode(record: bytes | memoryview) -> Samples:
    """The samples `encode` was given, bit-exact; raises ChunkFormatError on a bad record."""
    try:
        raw = _codecs.decompressor.decompress(record)
    except zstandard.ZstdError as err:
        raise ChunkFormatError(f"not a zstd record: {err}") from None
    try:
        return _decode_raw(memoryview(raw))
    except (struct.error, ValueError, IndexError) as err:
        raise ChunkFormatError(f"malformed record: {err}") from None


def _decode_raw(raw: memoryview) -> Samples:
    version, mode, n, t0, step, ts_width = _HEADER.unpack_from(raw, 0)
    if version not in (FORMAT_VERSION, HISTOGRAM_FORMAT_VERSION):
        raise ChunkFormatError(
            f"record version {version}, this vigil reads {FORMAT_VERSION} and "
            f"{HISTOGRAM_FORMAT_VERSION}"
        )
    timestamps = np.arange(t0, t0 + n * step, step) if step else np.full(n, t0, dtype=np.int64)
    offset_deltas, pos = _unpack_ints(raw, _HEADER.size, ts_width, max(n - 1, 0))
    if offset_deltas is not None:
        timestamps[1:] += np.cumsum(offset_deltas, dtype=np.int64)
    if mode == _VALUES_DECIMAL:
        values, pos = _decode_decimal(raw, pos, n)
    elif mode == _VALUES_XOR:
        values, pos = _decode_xor(raw, pos, n)
    else:
        raise ChunkFormatError(f"unknown value mode {mode}")
    histograms = None
    if version == HISTOGRAM_FORMAT_VERSION:
        histograms, pos = _decode_histograms(raw, pos, timestamps)
    if pos != len(raw) or len(timestamps) != n:
        raise ChunkFormatError(f"record of {n} samples has {len(raw) - pos} trailing bytes")
    return Samples(timestamps, values, histograms)


def _decode_histograms(
    raw: memoryview, pos: int, timestamps: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.object_], int]:
    (count,) = _POSITIONS.unpack_from(raw, pos)
    pos += _POSITIONS.size
    where = np.frombuffer(raw, dtype="<u4", count=count, offset=pos).astype(np.int64)
    pos += 4 * count
    if count and int(where.max()) >= len(timestamps):
        raise ChunkFormatError(f"histogram position {int(where.max())} past the series' end")
    try:
        ts, found = histenc.decode(raw[pos:])
    except histenc.HistogramFormatError as err:
        raise ChunkFormatError(f"histogram samples: {err}") from None
    if ts != timestamps[where].tolist():
        raise ChunkFormatError("histogram samples' timestamps do not match their positions")
    column = np.full(len(timestamps), None, dtype=object)
    for at, h in zip(where.tolist(), found, strict=True):
        column[at] = h
    return column, len(raw)


def _encode_values(vs: npt.NDArray[np.float64]) -> tuple[int, list[bytes]]:
    n = len(vs)
    bits = vs.view(np.uint64)
    scale, exceptional = _decimal_scale(vs)
    if scale is None or int(exceptional.sum()) * 8 > n:
        return _VALUES_XOR, [_shuffle(_xor_bits(bits))]
    if exceptional.any():
        ints = _fill_forward(np.rint(np.where(exceptional, 0.0, vs) * POW10[scale]), exceptional)
    else:
        ints = np.rint(vs * POW10[scale])
    ints_i = ints.astype(np.int64)
    first = int(ints_i[0]) if n else 0
    second = int(ints_i[1]) if n > 1 else 0
    deltas = np.diff(ints_i)
    dod = np.diff(deltas)
    # deltas of deltas pay off for counters growing at a steady rate
    use_dod = n > 2 and np.abs(dod).sum() < np.abs(deltas[1:]).sum()
    width, column = _pack_ints(dod if use_dod else deltas)
    where = np.flatnonzero(exceptional).astype(np.uint32)
    header = _DECIMAL.pack(scale, 2 if use_dod else 1, first, second, width, len(where))
    return _VALUES_DECIMAL, [header, column, where.tobytes(), bits[where].tobytes()]


def _decode_decimal(raw: memoryview, pos: int, n: int) -> tuple[npt.NDArray[np.float64], int]:
    scale, order, first, second, width, n_exc = _DECIMAL.unpack_from(raw, pos)
    if scale > _MAX_SCALE or order not in (1, 2):
        raise ChunkFormatError(f"bad decimal header (scale {scale}, order {order})")
    column, pos = _unpack_ints(raw, pos + _DECIMAL.size, width, max(n - order, 0))
    # every partial sum is an integer below 2**53 in magnitude, so float sums are exact
    values = np.empty(n, dtype=np.float64)
    if order == 1:
        if n:
            values[0] = first
        if column is None:
            values[1:] = first
        elif n > 1:
            np.cumsum(column, dtype=np.float64, out=values[1:])
            values[1:] += first
    elif n:
        values[0] = first
        deltas = np.full(n - 1, float(second - first))
        if column is not None:
            deltas[1:] += np.cumsum(column, dtype=np.float64)
        np.cumsum(deltas, out=values[1:])
        values[1:] += first
    if scale:
        values /= POW10[scale]
    if n_exc:
        where = np.frombuffer(raw, dtype=np.uint32, count=n_exc, offset=pos)
        exc_bits = np.frombuffer(raw, dtype=np.uint64, count=n_exc, offset=pos + 4 * n_exc)
        values.view(np.uint64)[where] = exc_bits
    return values, pos + 12 * n_exc


def _decode_xor(raw: memoryview, pos: int, n: int) -> tuple[npt.NDArray[np.float64], int]:
    xored = _unshuffle(raw, pos, n, 8).view(np.uint64)
    bits = np.bitwise_xor.accumulate(xored) if n else xored
    return bits.view(np.float64), pos + 8 * n


def _decimal_scale(vs: npt.NDArray[np.float64]) -> tuple[int | None, npt.NDArray[np.bool_]]:
    """The least k such that every ordinary value is exactly `round(v*10**k) / 10**k`, and
    which values are exceptional (kept as raw bits: non-finite, -0.0, or too many digits)."""
    exceptional = ~np.isfinite(vs) | (vs.view(np.uint64) == NEG_ZERO_BITS)
    k = decimal_scale(vs[~exceptional], _MAX_SCALE, _MAX_EXACT)
    return (None if k < 0 else k), exceptional


def _fill_forward(
    ints: npt.NDArray[np.float64], exceptional: npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64]:
    """Replace exceptional slots with the previous ordinary integer (so their deltas are 0)."""
    ordinary = ~exceptional
    if not ordinary.any():
        return np.zeros_like(ints)
    index = np.where(ordinary, np.arange(len(ints)), 0)
    np.maximum.accumulate(index, out=index)
    filled = ints[index]
    first_ordinary = int(np.argmax(ordinary))
    filled[:first_ordinary] = ints[first_ordinary]
    return filled


def _xor_bits(bits: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    out = bits.copy()
    out[1:] ^= bits[:-1]
    return out


def _pack_ints(column: npt.NDArray[np.int64]) -> tuple[int, bytes]:
    """Width code and byte-shuffled bytes; width code 0 means an all-zero column."""
    code = width_code(column)
    if code == 0:
        return 0, b""
    return code, _shuffle(column.astype(width_dtype(code)))


def _unpack_ints(
    raw: memoryview, pos: int, code: int, count: int
) -> tuple[npt.NDArray[np.signedinteger[Any]] | None, int]:
    """The column `_pack_ints` wrote (None for an all-zero one) and the position after it."""
    if code == 0:
        return None, pos
    if not 1 <= code <= len(WIDTH_TYPES):
        raise ChunkFormatError(f"bad integer width code {code}")
    dtype = width_dtype(code)
    column = _unshuffle(raw, pos, count, dtype.itemsize).view(dtype)
    return column, pos + count * dtype.itemsize


def _shuffle(column: npt.NDArray[np.generic]) -> bytes:
    """Byte planes one after another (all low bytes, then the next...): zstd finds runs."""
    width = column.dtype.itemsize
    if width == 1:
        return column.tobytes()
    return column.view(np.uint8).reshape(-1, width).T.tobytes()


def _unshuffle(raw: memoryview, pos: int, count: int, width: int) -> npt.NDArray[np.uint8]:
    planes = np.frombuffer(raw, dtype=np.uint8, count=count * width, offset=pos)
    if width == 1:
        return planes
    return np.ascontiguousarray(planes.reshape(width, count).T).reshape(-1)
