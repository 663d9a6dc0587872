"""The Prometheus protobuf exposition format: varint-length-delimited `MetricFamily`
messages (`metrics.proto`), read into the scrape's columns as Prometheus's protobuf parser
reads them.

Counters, gauges and untyped metrics give one sample each; summaries their quantiles, `_sum`
and `_count`; a histogram message is a native histogram when it has spans, a zero threshold
or a zero count (a no-op span marks an empty one), else classic. A native one becomes one
histogram sample (empty buckets dropped; a gauge histogram hinted as such) when native
histograms are scraped, and its classic buckets are kept too only when asked for (and
present); otherwise it is read as a classic histogram: `_bucket` series with `le` in
OpenMetrics float form (an implicit `+Inf` bucket added), `_sum` and `_count`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from google.protobuf.message import DecodeError

from vigil.exposition._types import MetricType, ParseError
from vigil.exposition.metrics_pb2 import BucketSpan, Histogram, Metric, MetricFamily
from vigil.exposition.metrics_pb2 import MetricType as ProtoType
from vigil.exposition.protobuf_format import CONTENT_TYPE as CONTENT_TYPE
from vigil.exposition.protobuf_format import HistogramChoice
from vigil.exposition.scan import NO_TIMESTAMP, FamilyMetadata, ScrapeBatch
from vigil.model import Labels
from vigil.model.gofloat import format_float
from vigil.model.histogram import CounterResetHint, FloatHistogram, Indexed

_TYPES = {
    ProtoType.COUNTER: MetricType.COUNTER,
    ProtoType.GAUGE: MetricType.GAUGE,
    ProtoType.SUMMARY: MetricType.SUMMARY,
    ProtoType.UNTYPED: MetricType.UNKNOWN,
    ProtoType.HISTOGRAM: MetricType.HISTOGRAM,
    ProtoType.GAUGE_HISTOGRAM: MetricType.GAUGEHISTOGRAM,
}
_SEPARATOR = "\xff"  # in no UTF-8 text: series keys never collide with the text formats'


class ProtobufError(ParseError):
    """A protobuf body that cannot be read; says at which byte and why."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(0, 0, message)
        self.args = (f"protobuf body at byte {offset}: {message}",)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(slots=True)
class _Rows:
    series: list[bytes] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)
    labels: list[tuple[str, Labels]] = field(default_factory=list)
    histograms: dict[int, FloatHistogram] = field(default_factory=dict)

    def add(self, name: str, labels: Labels, value: float, t_ms: int) -> None:
        key = _SEPARATOR.join((name, *(part for pair in labels for part in pair)))
        self.series.append(key.encode("utf-8", "surrogatepass"))
        self.values.append(value)
        self.timestamps.append(t_ms)
        self.labels.append((name, labels))

    def add_histogram(self, name: str, labels: Labels, h: FloatHistogram, t_ms: int) -> None:
        self.histograms[len(self.values)] = h
        self.add(name, labels, math.nan, t_ms)

    def batch(self, metadata: dict[str, FamilyMetadata]) -> ScrapeBatch:
        column = None
        if self.histograms:
            column = np.full(len(self.values), None, dtype=object)
            for at, h in self.histograms.items():
                column[at] = h
        return ScrapeBatch(
            self.series,
            np.array(self.values, dtype=np.float64),
            np.array(self.timestamps, dtype=np.int64),
            metadata,
            self.labels,
            column,
        )


def scan_protobuf(body: bytes, choice: HistogramChoice) -> ScrapeBatch:
    """Read a delimited protobuf body; raises ProtobufError."""
    rows = _Rows()
    metadata: dict[str, FamilyMetadata] = {}
    for offset, family in _families(body):
        name = family.name
        if not name:
            raise ProtobufError(offset, "metric family without a name")
        kind = _TYPES.get(family.type)
        if kind is None:
            raise ProtobufError(offset, f"unknown metric type {family.type} for metric {name!r}")
        metadata[name] = FamilyMetadata(kind, family.help or None, family.unit or None)
        for metric in family.metric:
            try:
                _read_metric(rows, name, family.type, metric, choice)
            except _BadBuckets as err:
                raise ProtobufError(offset, f"histogram {name!r}: {err}") from None
    return rows.batch(metadata)


def _families(body: bytes) -> list[tuple[int, MetricFamily]]:
    out = []
    offset = 0
    while offset < len(body):
        size, start = _varint(body, offset)
        end = start + size
        if end > len(body):
            raise ProtobufError(offset, f"message of {size} bytes past the body's end")
        family = MetricFamily()
        try:
            family.ParseFromString(body[start:end])
        except DecodeError as err:
            raise ProtobufError(offset, f"not a MetricFamily message: {err}") from None
        out.append((offset, family))
        offset = end
    return out


def _varint(body: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    at = offset
    while at < len(body) and shift < 64:
        byte = body[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, at
        shift += 7
    raise ProtobufError(offset, "truncated or overlong length prefix")


def _read_metric(
    rows: _Rows, name: str, kind: int, metric: Metric, choice: HistogramChoice
) -> None:
    labels = Labels.from_dict({pair.name: pair.value for pair in metric.label})
    t_ms = metric.timestamp_ms if metric.timestamp_ms else NO_TIMESTAMP
    if kind == ProtoType.COUNTER:
        rows.add(name, labels, metric.counter.value, t_ms)
    elif kind == ProtoType.GAUGE:
        rows.add(name, labels, metric.gauge.value, t_ms)
    elif kind == ProtoType.UNTYPED:
        rows.add(name, labels, metric.untyped.value, t_ms)
    elif kind == ProtoType.SUMMARY:
        summary = metric.summary
        rows.add(f"{name}_count", labels, float(summary.sample_count), t_ms)
        rows.add(f"{name}_sum", labels, summary.sample_sum, t_ms)
        for q in summary.quantile:
            rows.add(name, labels.with_label("quantile", _om_float(q.quantile)), q.value, t_ms)
    else:
        h = metric.histogram
        native = choice.native and is_native(h)
        if native:
            rows.add_histogram(name, labels, native_histogram(h, kind), t_ms)
        if not native or (choice.classic_too and len(h.bucket)):
            _classic(rows, name, labels, h, t_ms)


def is_native(h: Histogram) -> bool:
    """Prometheus's rule: spans, a zero threshold or a zero count make it native."""
    return bool(h.positive_span or h.negative_span or h.zero_threshold > 0 or h.zero_count > 0)


def native_histogram(h: Histogram, kind: int) -> FloatHistogram:
    """The native histogram of a message, compacted (empty buckets dropped)."""
    floats = h.sample_count_float > 0 or h.zero_count_float > 0
    positive = _side(h.positive_span, h.positive_count if floats else h.positive_delta, floats)
    negative = _side(h.negative_span, h.negative_count if floats else h.negative_delta, floats)
    hint = CounterResetHint.GAUGE if kind == ProtoType.GAUGE_HISTOGRAM else CounterResetHint.UNKNOWN
    return replace(
        FloatHistogram.of(positive, negative).compact(),
        schema=h.schema,
        zero_threshold=h.zero_threshold,
        zero_count=h.zero_count_float if floats else float(h.zero_count),
        count=h.sample_count_float if floats else float(h.sample_count),
        sum=h.sample_sum,
        counter_reset_hint=hint,
    )


class _BadBuckets(ValueError):
    pass


def _side(
    spans: Iterable[BucketSpan], counts: Sequence[float] | Sequence[int], floats: bool
) -> Indexed:
    """Bucket index → absolute count of one side (deltas summed for integer histograms)."""
    found: Indexed = {}
    values = list(counts)
    index = 0
    running = 0
    at = 0
    for span in spans:
        index += span.offset
        for _ in range(span.length):
            if at >= len(values):
                raise _BadBuckets("fewer bucket counts than the spans hold")
            if floats:
                found[index] = float(values[at])
            else:
                running += int(values[at])
                found[index] = float(running)
            index += 1
            at += 1
    if at != len(values):
        raise _BadBuckets(f"{len(values)} bucket counts for spans of {at} buckets")
    return found


def _classic(rows: _Rows, name: str, labels: Labels, h: Histogram, t_ms: int) -> None:
    count = h.sample_count_float if h.sample_count_float > 0 else float(h.sample_count)
    rows.add(f"{name}_count", labels, count, t_ms)
    rows.add(f"{name}_sum", labels, h.sample_sum, t_ms)
    bucket_name = f"{name}_bucket"
    ended = False
    for b in h.bucket:
        value = b.cumulative_count_float if b.cumulative_count_float > 0 else b.cumulative_count
        rows.add(bucket_name, labels.with_label("le", _om_float(b.upper_bound)), value, t_ms)
        if math.isinf(b.upper_bound) and b.upper_bound > 0:
            ended = True
            break
    if not ended:
        rows.add(bucket_name, labels.with_label("le", "+Inf"), count, t_ms)


def _om_float(value: float) -> str:
    """Go's shortest float text with ".0" added when it has neither "." nor "e" (what
    Prometheus's protobuf parser writes in `le` and `quantile`)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    text = format_float(value)
    return text if "." in text or "e" in text else text + ".0"
