"""Native histogram samples as bytes: one encoding for the head's closed histogram chunks,
the WAL's histogram records and the histogram part of a block's series record.

Simpler than Prometheus's XOR-of-deltas, and measured in `bench/tsdb_histograms.py`:
varints throughout; timestamps as deltas of deltas; a sample whose bucket layout (schema,
zero threshold, spans, custom bounds) repeats the previous one's says so in one flag bit;
counts that are whole numbers (what scraped histograms hold) are stored as integer deltas
from the previous sample's same bucket (or, after a layout change, from the previous
bucket, as Prometheus's integer histograms are), other counts and every sum as the XOR of
their float bits with the previous sample's. Bit-exact both ways, stale sums included.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from vigil.model.histogram import CounterResetHint, FloatHistogram, Span

VERSION = 1

_F64 = struct.Struct("<d")
_U64 = struct.Struct("<Q")
_SAME_LAYOUT = 1
_INTEGER = 2
_HINT_SHIFT = 2
_MAX_EXACT = float(2**53)
_NEG_ZERO = 1 << 63


class HistogramFormatError(ValueError):
    """Bytes that do not decode as histogram samples (corrupt, truncated, or newer)."""


def _bits(value: float) -> int:
    bits: int = _U64.unpack(_F64.pack(value))[0]
    return bits


def _float(bits: int) -> float:
    value: float = _F64.unpack(_U64.pack(bits))[0]
    return value


class _Writer:
    def __init__(self) -> None:
        self.out = bytearray()

    def uvarint(self, value: int) -> None:
        out = self.out
        while value >= 0x80:
            out.append((value & 0x7F) | 0x80)
            value >>= 7
        out.append(value)

    def varint(self, value: int) -> None:
        self.uvarint(value << 1 if value >= 0 else ((-value) << 1) - 1)

    def f64(self, value: float) -> None:
        self.out += _F64.pack(value)


class _Reader:
    def __init__(self, data: bytes | memoryview) -> None:
        self.data = bytes(data)
        self.pos = 0

    def uvarint(self) -> int:
        data, pos = self.data, self.pos
        value = shift = 0
        while True:
            if pos >= len(data):
                raise HistogramFormatError("truncated varint")
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
            if shift > 63:
                raise HistogramFormatError("varint longer than 64 bits")
        self.pos = pos
        return value

    def varint(self) -> int:
        raw = self.uvarint()
        return (raw >> 1) ^ -(raw & 1)

    def f64(self) -> float:
        if self.pos + 8 > len(self.data):
            raise HistogramFormatError("truncated float")
        (value,) = _F64.unpack_from(self.data, self.pos)
        self.pos += 8
        return float(value)


def _layout(h: FloatHistogram) -> tuple[object, ...]:
    return (
        h.schema,
        _bits(h.zero_threshold),
        h.positive_spans,
        h.negative_spans,
        h.custom_values,
    )


def _counts(h: FloatHistogram) -> tuple[float, ...]:
    return tuple(
        float(c) for c in (h.count, h.zero_count, *h.positive_buckets, *h.negative_buckets)
    )


def _integral(counts: tuple[float, ...]) -> bool:
    """Whole numbers an integer delta keeps bit-exact (not -0.0, whose sign it would lose)."""
    return all(c.is_integer() and abs(c) <= _MAX_EXACT and _bits(c) != _NEG_ZERO for c in counts)


def encode(timestamps: Sequence[int], histograms: Sequence[FloatHistogram]) -> bytes:
    """The samples (timestamps ascending within a series; any order is kept as given)."""
    if len(timestamps) != len(histograms):
        raise ValueError(f"{len(timestamps)} timestamps for {len(histograms)} histograms")
    w = _Writer()
    w.out.append(VERSION)
    w.uvarint(len(timestamps))
    prev_t = prev_delta = 0
    for t in timestamps:
        delta = t - prev_t
        w.varint(delta - prev_delta)
        prev_t, prev_delta = t, delta
    prev_layout: tuple[object, ...] | None = None
    prev_counts: tuple[float, ...] = ()
    prev_integer = False
    prev_sum = 0
    for h in histograms:
        layout = _layout(h)
        counts = _counts(h)
        integer = _integral(counts)
        same = layout == prev_layout
        w.out.append(
            (_SAME_LAYOUT if same else 0)
            | (_INTEGER if integer else 0)
            | (int(h.counter_reset_hint) << _HINT_SHIFT)
        )
        if not same:
            _write_layout(w, h)
        sum_bits = _bits(float(h.sum))
        w.uvarint(sum_bits ^ prev_sum)
        prev_sum = sum_bits
        if integer:
            if same and prev_integer:
                for c, before in zip(counts, prev_counts, strict=True):
                    w.varint(int(c) - int(before))
            else:
                previous = 0
                for c in counts:
                    w.varint(int(c) - previous)
                    previous = int(c)
        else:
            befores = prev_counts if same and not prev_integer else (0.0,) * len(counts)
            for c, before in zip(counts, befores, strict=True):
                w.uvarint(_bits(c) ^ _bits(before))
        prev_layout, prev_counts, prev_integer = layout, counts, integer
    return bytes(w.out)


def _write_layout(w: _Writer, h: FloatHistogram) -> None:
    w.varint(h.schema)
    w.f64(float(h.zero_threshold))
    for spans in (h.positive_spans, h.negative_spans):
        w.uvarint(len(spans))
        for span in spans:
            w.varint(span.offset)
            w.uvarint(span.length)
    w.uvarint(len(h.custom_values))
    for bound in h.custom_values:
        w.f64(bound)


def _read_layout(
    r: _Reader,
) -> tuple[int, float, tuple[Span, ...], tuple[Span, ...], tuple[float, ...]]:
    schema = r.varint()
    zero_threshold = r.f64()
    sides = []
    for _ in range(2):
        sides.append(tuple(Span(r.varint(), r.uvarint()) for _ in range(r.uvarint())))
    custom = tuple(r.f64() for _ in range(r.uvarint()))
    return schema, zero_threshold, sides[0], sides[1], custom


def decode(data: bytes | memoryview) -> tuple[list[int], list[FloatHistogram]]:
    """The timestamps and histograms `encode` was given; HistogramFormatError if malformed."""
    r = _Reader(data)
    if not r.data:
        raise HistogramFormatError("empty histogram record")
    version = r.data[0]
    r.pos = 1
    if version != VERSION:
        raise HistogramFormatError(
            f"histogram encoding version {version}, this vigil reads {VERSION}"
        )
    n = r.uvarint()
    if n > len(r.data):
        raise HistogramFormatError(f"{n} samples in {len(r.data)} bytes")
    timestamps: list[int] = []
    prev_t = prev_delta = 0
    for _ in range(n):
        prev_delta += r.varint()
        prev_t += prev_delta
        timestamps.append(prev_t)
    histograms: list[FloatHistogram] = []
    layout = None
    prev_counts: list[float] = []
    prev_integer = False
    prev_sum = 0
    for _ in range(n):
        if r.pos >= len(r.data):
            raise HistogramFormatError("truncated histogram sample")
        flags = r.data[r.pos]
        r.pos += 1
        same = bool(flags & _SAME_LAYOUT)
        integer = bool(flags & _INTEGER)
        hint = flags >> _HINT_SHIFT
        if hint > CounterResetHint.GAUGE:
            raise HistogramFormatError(f"unknown counter reset hint {hint}")
        if not same:
            layout = _read_layout(r)
        elif layout is None:
            raise HistogramFormatError("first sample repeats a layout it has not got")
        schema, zero_threshold, pos_spans, neg_spans, custom = layout
        n_pos = sum(s.length for s in pos_spans)
        n_counts = 2 + n_pos + sum(s.length for s in neg_spans)
        prev_sum ^= r.uvarint()
        if integer:
            if same and prev_integer:
                counts = [before + r.varint() for before in prev_counts]
            else:
                counts, previous = [], 0.0
                for _ in range(n_counts):
                    previous += r.varint()
                    counts.append(previous)
        else:
            befores = prev_counts if same and not prev_integer else [0.0] * n_counts
            counts = [_float(r.uvarint() ^ _bits(before)) for before in befores]
        if len(counts) != n_counts:
            raise HistogramFormatError("bucket counts do not match the layout")
        histograms.append(
            FloatHistogram(
                schema=schema,
                zero_threshold=zero_threshold,
                zero_count=counts[1],
                count=counts[0],
                sum=_float(prev_sum),
                positive_spans=pos_spans,
                positive_buckets=tuple(counts[2 : 2 + n_pos]),
                negative_spans=neg_spans,
                negative_buckets=tuple(counts[2 + n_pos :]),
                counter_reset_hint=CounterResetHint(hint),
                custom_values=custom,
            )
        )
        prev_counts, prev_integer = counts, integer
    if r.pos != len(r.data):
        raise HistogramFormatError(f"{len(r.data) - r.pos} trailing bytes after {n} histograms")
    return timestamps, histograms
