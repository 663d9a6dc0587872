"""Native histograms in Remote-Write 1.0: `TimeSeries.histograms` (prompb `Histogram`).

Sent as Prometheus sends them: an integer histogram (counts as varints, bucket counts as
deltas from the previous bucket) when every count is a whole number, as scraped histograms'
are; a float histogram (absolute counts) otherwise. Read back, either form becomes the
FloatHistogram it describes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vigil.model.histogram import CounterResetHint, FloatHistogram, Span
from vigil.remote import prompb

_MAX_EXACT = float(2**53)


def _whole(counts: Iterable[float]) -> bool:
    return all(c >= 0 and float(c).is_integer() and c <= _MAX_EXACT for c in counts)


def _deltas(counts: Sequence[float]) -> list[int]:
    out, previous = [], 0
    for count in counts:
        out.append(int(count) - previous)
        previous = int(count)
    return out


def to_prompb(h: FloatHistogram, t_ms: int) -> prompb.Histogram:
    msg = prompb.Histogram(
        sum=h.sum,
        schema=h.schema,
        zero_threshold=h.zero_threshold,
        reset_hint=prompb.Histogram.ResetHint.Name(int(h.counter_reset_hint)),
        timestamp=t_ms,
        custom_values=h.custom_values,
    )
    for spans, field in (
        (h.positive_spans, msg.positive_spans),
        (h.negative_spans, msg.negative_spans),
    ):
        for span in spans:
            field.add(offset=span.offset, length=span.length)
    counts = (h.count, h.zero_count, *h.positive_buckets, *h.negative_buckets)
    if _whole(counts):
        msg.count_int = int(h.count)
        msg.zero_count_int = int(h.zero_count)
        msg.positive_deltas.extend(_deltas(h.positive_buckets))
        msg.negative_deltas.extend(_deltas(h.negative_buckets))
    else:
        msg.count_float = h.count
        msg.zero_count_float = h.zero_count
        msg.positive_counts.extend(h.positive_buckets)
        msg.negative_counts.extend(h.negative_buckets)
    return msg


def _absolute(deltas: Iterable[int]) -> tuple[float, ...]:
    out, running = [], 0
    for delta in deltas:
        running += delta
        out.append(float(running))
    return tuple(out)


def from_prompb(msg: prompb.Histogram) -> FloatHistogram:
    """The histogram a message describes; ValueError when its buckets do not fit its spans."""
    integer = msg.WhichOneof("count") != "count_float"
    positive = _absolute(msg.positive_deltas) if integer else tuple(msg.positive_counts)
    negative = _absolute(msg.negative_deltas) if integer else tuple(msg.negative_counts)
    positive_spans = tuple(Span(s.offset, s.length) for s in msg.positive_spans)
    negative_spans = tuple(Span(s.offset, s.length) for s in msg.negative_spans)
    for spans, buckets in ((positive_spans, positive), (negative_spans, negative)):
        if sum(s.length for s in spans) != len(buckets):
            raise ValueError(
                f"{len(buckets)} bucket counts for spans of {sum(s.length for s in spans)}"
            )
    if not 0 <= msg.reset_hint <= CounterResetHint.GAUGE:
        raise ValueError(f"unknown reset hint {msg.reset_hint}")
    return FloatHistogram(
        schema=msg.schema,
        zero_threshold=msg.zero_threshold,
        zero_count=float(msg.zero_count_int)
        if msg.WhichOneof("zero_count") != "zero_count_float"
        else msg.zero_count_float,
        count=float(msg.count_int) if integer else msg.count_float,
        sum=msg.sum,
        positive_spans=positive_spans,
        positive_buckets=positive,
        negative_spans=negative_spans,
        negative_buckets=negative,
        counter_reset_hint=CounterResetHint(msg.reset_hint),
        custom_values=tuple(msg.custom_values),
    )
