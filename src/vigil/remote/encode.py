"""WriteRequest bytes built with numpy: one TimeSeries per sample, no Python object per sample.

A remote-write batch is the protobuf `WriteRequest{repeated TimeSeries timeseries = 1}`; each
entry is `TimeSeries{labels = 1 (pre-encoded once per series), samples = 2 (one Sample)}`, as
Prometheus's queue manager sends them. The layout is byte-for-byte what the protobuf runtime
produces for the same message (proto3: a 0.0 value or a 0 timestamp is omitted), which
tests/remote/test_prompb.py checks against prompb.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.remote.histograms import to_prompb

U8 = npt.NDArray[np.uint8]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

_TIMESERIES_TAG = 0x0A  # WriteRequest.timeseries, field 1, length-delimited
_LABEL_TAG = 0x0A  # TimeSeries.labels, field 1
_SAMPLE_TAG = 0x12  # TimeSeries.samples, field 2
_VALUE_TAG = 0x09  # Sample.value, field 1, fixed64
_TIMESTAMP_TAG = 0x10  # Sample.timestamp, field 2, varint
_METADATA_TAG = 0x1A  # WriteRequest.metadata, field 3
_HISTOGRAM_TAG = 0x22  # TimeSeries.histograms, field 4
_SHIFTS = np.arange(0, 70, 7, dtype=np.uint64)  # the ten 7-bit groups of a 64-bit varint
_THRESHOLDS = (np.uint64(1) << _SHIFTS[1:]).astype(np.uint64)
_BYTE = [bytes((i,)) for i in range(256)]
_COLUMNS = np.arange(32_000, dtype=np.int16)[None, :]


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of a non-negative int (negative int64s as their 2's complement)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


def encode_labels(labels: Iterable[tuple[str, str]]) -> bytes:
    """The `labels` fields of a TimeSeries (once per series, then reused for every sample)."""
    out = []
    for name, value in labels:
        n, v = name.encode(), value.encode()
        size = len(n) + len(v) + 4
        if size < 128 and n and v:  # the usual case: every length is one varint byte
            out.append(
                b"".join((b"\n", _BYTE[size], b"\n", _BYTE[len(n)], n, b"\x12", _BYTE[len(v)], v))
            )
            continue
        body = b""
        if n:
            body += _field(0x0A, n)
        if v:
            body += _field(0x12, v)
        out.append(_field(_LABEL_TAG, body))
    return b"".join(out)


def encode_metadata(entries: Iterable[tuple[int, str, str, str]]) -> bytes:
    """`WriteRequest.metadata` fields of (MetricType, family name, help, unit) entries."""
    out = []
    for kind, name, help_text, unit in entries:
        body = b""
        if kind:
            body += bytes((0x08,)) + varint(kind)
        for tag, text in ((0x12, name), (0x22, help_text), (0x2A, unit)):
            if text:
                body += _field(tag, text.encode())
        out.append(_field(_METADATA_TAG, body))
    return b"".join(out)


def _varints(values: npt.NDArray[np.uint64]) -> tuple[U8, npt.NDArray[np.int64]]:
    """Each value's varint as a row of 10 bytes (continuation bits set) and its length;
    columns past the longest varint are left zero."""
    lengths = (1 + np.searchsorted(_THRESHOLDS, values, side="right")).astype(np.int64)
    longest = int(lengths.max()) if len(lengths) else 0
    groups = np.zeros((len(values), 10), dtype=np.uint8)
    for k in range(longest):
        column = ((values >> _SHIFTS[k]) & np.uint64(0x7F)).astype(np.uint8)
        if k < longest - 1:
            column |= (lengths > k + 1).astype(np.uint8) << np.uint8(7)
        groups[:, k] = column
    return groups, lengths


def encode_samples(blob: U8, offsets: I64, sizes: I64, ts: I64, vs: F64) -> bytes:
    """The TimeSeries fields of a WriteRequest holding sample i (`ts[i]`, `vs[i]`) with the
    pre-encoded labels `blob[offsets[i] : offsets[i] + sizes[i]]`; `blob` must extend at
    least max(sizes) bytes past every offset (LabelTable keeps that padding).

    Each sample is one row of a byte matrix — 4 head columns, the labels (one row copy from a
    sliding-window view of the blob), 22 tail columns — and a mask of each row's valid bytes
    selects the message in row-major order with one boolean index."""
    n = len(ts)
    if n == 0:
        return b""
    width = int(sizes.max())
    matrix = np.empty((n, 4 + width + 22), dtype=np.uint8)
    valid = np.empty((n, 4 + width + 22), dtype=bool)
    # Tail: 0x12 len(sample) [0x09 value]? [0x10 varint(ts)]? — proto3 omits a zero value or
    # timestamp; len(sample) < 128 always.
    has_value = vs.view(np.uint64) != 0
    has_ts = ts != 0
    ts_groups, ts_lengths = _varints(ts.view(np.uint64))
    sample_len = has_value * 9 + has_ts * (1 + ts_lengths)
    tail = matrix[:, 4 + width :]
    tail[:, 0] = _SAMPLE_TAG
    tail[:, 1] = sample_len
    tail[:, 2] = _VALUE_TAG
    tail[:, 3:11] = vs.astype("<f8", copy=False).view(np.uint8).reshape(n, 8)
    tail[:, 11] = _TIMESTAMP_TAG
    tail[:, 12:22] = ts_groups
    tail_valid = valid[:, 4 + width :]
    tail_valid[:, :2] = True
    tail_valid[:, 2:11] = has_value[:, None]
    tail_valid[:, 11] = has_ts
    tail_valid[:, 12:22] = (_COLUMNS[:, :10] < ts_lengths[:, None].astype(np.int16)) & has_ts[
        :, None
    ]
    # Head: 0x0a varint(len(TimeSeries)), right-aligned in the 4 columns before the labels.
    series_len = sizes + 2 + sample_len
    len_groups, len_lengths = _varints(series_len.astype(np.uint64))
    if int(len_lengths.max()) > 3:
        raise ValueError("a time series of 2 MiB or more cannot be sent")
    head_len = (1 + len_lengths).astype(np.int16)
    for k in range(4):
        matrix[:, k] = np.where(
            head_len == 4 - k,
            _TIMESERIES_TAG,
            len_groups[np.arange(n), np.maximum(k - (4 - head_len), 1) - 1],
        )
    valid[:, :4] = _COLUMNS[:, :4] >= (4 - head_len)[:, None]
    matrix[:, 4 : 4 + width] = sliding_window_view(blob, width)[offsets]
    if width <= 32_000:
        valid[:, 4 : 4 + width] = _COLUMNS[:, :width] < sizes.astype(np.int16)[:, None]
    else:
        valid[:, 4 : 4 + width] = np.arange(width)[None, :] < sizes[:, None]
    return matrix[valid].tobytes()


class LabelTable:
    """Encoded labels per WAL series ref, in one growable byte array (the gather source)."""

    def __init__(self) -> None:
        self.blob: U8 = np.zeros(1 << 16, dtype=np.uint8)
        self._used = 0
        self._widest = 0
        self.offsets: I64 = np.zeros(1024, dtype=np.int64)
        self.sizes: I64 = np.full(1024, -1, dtype=np.int64)  # -1: no series record seen

    def set(self, ref: int, labels: Labels | None) -> None:
        """Record a series' labels as sent (after relabeling); None marks it dropped."""
        self.set_many([(ref, labels)])

    def set_many(self, series: Sequence[tuple[int, Labels | None]]) -> None:
        """`set` for a whole WAL series record: one copy into the blob for all of them."""
        if not series:
            return
        kept = [(ref, encode_labels(labels)) for ref, labels in series if labels is not None]
        dropped = [ref for ref, labels in series if labels is None]
        highest = max(ref for ref, _ in series)
        if highest >= len(self.sizes):
            grow = max(highest + 1, 2 * len(self.sizes))
            self.offsets = np.concatenate(
                [self.offsets, np.zeros(grow - len(self.offsets), np.int64)]
            )
            self.sizes = np.concatenate([self.sizes, np.full(grow - len(self.sizes), -1, np.int64)])
        if dropped:
            self.sizes[np.array(dropped, dtype=np.int64)] = -2
        if not kept:
            return
        refs = np.fromiter((ref for ref, _ in kept), dtype=np.int64, count=len(kept))
        sizes = np.fromiter((len(data) for _, data in kept), dtype=np.int64, count=len(kept))
        data = b"".join(data for _, data in kept)
        self._widest = max(self._widest, int(sizes.max()))
        # Slack of the widest entry after the last one: encode_samples reads fixed-width rows.
        needed = self._used + len(data) + self._widest
        if needed > len(self.blob):
            bigger = np.zeros(max(2 * len(self.blob), needed), dtype=np.uint8)
            bigger[: self._used] = self.blob[: self._used]
            self.blob = bigger
        self.blob[self._used : self._used + len(data)] = np.frombuffer(data, dtype=np.uint8)
        self.offsets[refs] = self._used + np.cumsum(sizes) - sizes
        self.sizes[refs] = sizes
        self._used += len(data)

    def status(self, refs: I64) -> I64:
        """Per ref: its encoded size (>= 0), -1 if unknown, -2 if dropped by relabeling."""
        out = np.full(len(refs), -1, dtype=np.int64)
        known = (refs >= 0) & (refs < len(self.sizes))
        out[known] = self.sizes[refs[known]]
        return out

    def encode(self, refs: I64, ts: I64, vs: F64) -> bytes:
        """WriteRequest bytes for samples whose refs all have labels (status >= 0)."""
        return encode_samples(self.blob, self.offsets[refs], self.sizes[refs], ts, vs)

    def encode_histograms(
        self, refs: Sequence[int], ts: Sequence[int], histograms: Sequence[FloatHistogram]
    ) -> bytes:
        """WriteRequest bytes of native histogram samples (one TimeSeries each), refs as in
        `encode`; histograms are few and large, so built one at a time."""
        out = []
        for ref, t, h in zip(refs, ts, histograms, strict=True):
            start = int(self.offsets[ref])
            labels = self.blob[start : start + int(self.sizes[ref])].tobytes()
            series = labels + _field(_HISTOGRAM_TAG, to_prompb(h, t).SerializeToString())
            out.append(_field(_TIMESERIES_TAG, series))
        return b"".join(out)
