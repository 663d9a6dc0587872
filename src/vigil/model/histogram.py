"""Native histograms as PromQL sees them: Prometheus's FloatHistogram, an immutable value.

A histogram has a `schema` (-4..8: each power of two split into 2^schema exponential buckets;
-53: custom buckets whose upper bounds are `custom_values`), a zero bucket
[-zero_threshold, zero_threshold] holding `zero_count`, the total `count` and `sum`, and
positive and negative buckets as spans (runs of consecutive bucket indices; the first span's
offset is absolute, each later one's relative to the end of the one before) with one absolute
count per bucket. Bucket index i of an exponential schema has upper bound 2^(i·2^-schema).

Operations return new histograms and keep empty buckets (as Prometheus's Add does); `compact`
drops them. Adding histograms of different schemas reduces both to the coarser one.
"""

from __future__ import annotations

import bisect
import enum
import functools
import math
import sys
from collections.abc import Iterable
from dataclasses import dataclass, replace

from vigil.model.gofloat import format_float

CUSTOM_BUCKETS_SCHEMA = -53
_MAX_FLOAT = sys.float_info.max


class HistogramError(ValueError):
    """Two histograms that cannot be combined (exponential with custom buckets, or custom
    buckets with different bounds)."""


class CounterResetHint(enum.IntEnum):
    UNKNOWN = 0
    COUNTER_RESET = 1
    NOT_COUNTER_RESET = 2
    GAUGE = 3


@dataclass(frozen=True, slots=True)
class Span:
    offset: int
    length: int


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bucket with its bounds; `index` is its bucket index (0 for the zero bucket)."""

    lower: float
    upper: float
    lower_inclusive: bool
    upper_inclusive: bool
    count: float
    index: int = 0

    def __str__(self) -> str:
        """As Prometheus prints a bucket: `(0.5,1]:3`, `[-0.001,0.001]:2`."""
        return (
            f"{'[' if self.lower_inclusive else '('}{format_float(self.lower)},"
            f"{format_float(self.upper)}{']' if self.upper_inclusive else ')'}:"
            f"{format_float(self.count)}"
        )


Indexed = dict[int, float]


@functools.cache
def _fractions(schema: int) -> tuple[float, ...]:
    return tuple(2.0 ** (j / (1 << schema)) / 2 for j in range(1 << schema))


def exponential_bound(index: int, schema: int) -> float:
    """Upper bound of bucket `index` of an exponential schema (the last finite bucket ends at
    the largest float, as in Prometheus, so observations of ±Inf get a bucket of their own)."""
    if schema < 0:
        exp = index << -schema
        if exp == 1024:
            return _MAX_FLOAT
        frac = 1.0
    else:
        frac = _fractions(schema)[index & ((1 << schema) - 1)]
        exp = (index >> schema) + 1
        if frac == 0.5 and exp == 1025:
            return _MAX_FLOAT
    try:
        return math.ldexp(frac, exp)
    except OverflowError:
        return math.inf


def _indexed(spans: tuple[Span, ...], counts: tuple[float, ...]) -> Indexed:
    out: Indexed = {}
    index, k = 0, 0
    for span in spans:
        index += span.offset
        for _ in range(span.length):
            out[index] = out.get(index, 0.0) + counts[k]
            index += 1
            k += 1
    return out


def _spans_of(items: Indexed) -> tuple[tuple[Span, ...], tuple[float, ...]]:
    spans: list[list[int]] = []  # [offset, length]
    counts: list[float] = []
    end: int | None = None  # one past the last index of the current span
    for index in sorted(items):
        if end is not None and index == end:
            spans[-1][1] += 1
        else:
            spans.append([index if end is None else index - end, 1])
        end = index + 1
        counts.append(items[index])
    return tuple(Span(o, n) for o, n in spans), tuple(counts)


def _reduced(items: Indexed, delta: int) -> Indexed:
    if delta == 0:
        return items
    out: Indexed = {}
    for index, count in items.items():
        target = ((index - 1) >> delta) + 1
        out[target] = out.get(target, 0.0) + count
    return out


def _kahan_inc(inc: float, total: float, comp: float) -> tuple[float, float]:
    t = total + inc
    if math.isinf(t):
        return t, 0.0
    if abs(total) >= abs(inc):
        return t, comp + ((total - t) + inc)
    return t, comp + ((inc - t) + total)


def _hint_of_sum(a: CounterResetHint, b: CounterResetHint) -> CounterResetHint:
    if a == b or a is CounterResetHint.GAUGE:
        return a
    if b is CounterResetHint.GAUGE:
        return b
    return CounterResetHint.UNKNOWN


@dataclass(frozen=True, slots=True)
class FloatHistogram:
    schema: int = 0
    zero_threshold: float = 0.0
    zero_count: float = 0.0
    count: float = 0.0
    sum: float = 0.0
    positive_spans: tuple[Span, ...] = ()
    positive_buckets: tuple[float, ...] = ()
    negative_spans: tuple[Span, ...] = ()
    negative_buckets: tuple[float, ...] = ()
    counter_reset_hint: CounterResetHint = CounterResetHint.UNKNOWN
    custom_values: tuple[float, ...] = ()

    @classmethod
    def of(cls, positive: Indexed, negative: Indexed | None = None) -> FloatHistogram:
        """A schema-0 histogram from bucket index → count maps; `replace` sets the rest."""
        return cls()._with(positive, negative or {})

    @property
    def uses_custom_buckets(self) -> bool:
        return self.schema == CUSTOM_BUCKETS_SCHEMA

    def positive(self) -> Indexed:
        return _indexed(self.positive_spans, self.positive_buckets)

    def negative(self) -> Indexed:
        return _indexed(self.negative_spans, self.negative_buckets)

    def _with(self, positive: Indexed, negative: Indexed) -> FloatHistogram:
        pos_spans, pos = _spans_of(positive)
        neg_spans, neg = _spans_of(negative)
        return replace(
            self,
            positive_spans=pos_spans,
            positive_buckets=pos,
            negative_spans=neg_spans,
            negative_buckets=neg,
        )

    # --- bounds and iteration ---------------------------------------------------------------

    def bound(self, index: int) -> float:
        """Upper bound of positive bucket `index`."""
        if self.uses_custom_buckets:
            if index < 0:
                return -math.inf
            return self.custom_values[index] if index < len(self.custom_values) else math.inf
        return exponential_bound(index, self.schema)

    def buckets(self) -> list[Bucket]:
        """Every bucket from the lowest up: negative ones, the zero bucket (when it holds
        observations), positive ones; a bucket overlapping the zero bucket ends at its edge."""
        out: list[Bucket] = []
        zt = self.zero_threshold
        for index, count in sorted(self.negative().items(), reverse=True):
            upper = -self.bound(index - 1)
            out.append(Bucket(-self.bound(index), min(upper, -zt), True, False, count, index))
        if self.zero_count > 0:
            out.append(Bucket(-zt, zt, True, True, self.zero_count))
        for index, count in sorted(self.positive().items()):
            lower = self.bound(index - 1)
            if not self.uses_custom_buckets:
                lower = max(lower, zt)
            out.append(Bucket(lower, self.bound(index), False, True, count, index))
        return out

    def __str__(self) -> str:
        """Prometheus's `FloatHistogram.String()`, which `count_values` uses as the label
        value: count, sum, then the non-empty buckets from the lowest up."""
        parts = [f"count:{format_float(self.count)}", f"sum:{format_float(self.sum)}"]
        parts += [str(b) for b in self.buckets() if b.count != 0]
        return "{" + ", ".join(parts) + "}"

    # --- arithmetic -------------------------------------------------------------------------

    def scale(self, factor: float) -> FloatHistogram:
        return replace(
            self._with(
                {i: c * factor for i, c in self.positive().items()},
                {i: c * factor for i, c in self.negative().items()},
            ),
            zero_count=self.zero_count * factor,
            count=self.count * factor,
            sum=self.sum * factor,
        )

    def divide(self, divisor: float) -> FloatHistogram:
        def div(c: float) -> float:
            if divisor == 0:
                return math.nan if c == 0 or math.isnan(c) else math.copysign(math.inf, c)
            return c / divisor

        buckets = (
            self._with({}, {})  # as Prometheus: dividing by zero drops every bucket
            if divisor == 0
            else self._with(
                {i: div(c) for i, c in self.positive().items()},
                {i: div(c) for i, c in self.negative().items()},
            )
        )
        return replace(
            buckets,
            zero_count=div(self.zero_count),
            count=div(self.count),
            sum=div(self.sum),
        )

    def to_schema(self, target: int) -> FloatHistogram:
        """The same observations in the coarser exponential `target` schema."""
        if target == self.schema:
            return self
        if target > self.schema or self.uses_custom_buckets:
            raise HistogramError(f"cannot merge from schema {self.schema} to {target}")
        delta = self.schema - target
        reduced = self._with(_reduced(self.positive(), delta), _reduced(self.negative(), delta))
        return replace(reduced, schema=target)

    def _zero_count_for(self, threshold: float) -> tuple[float, float]:
        """The zero count if the zero bucket reached `threshold` (≥ ours), and that threshold
        moved up to the end of a populated bucket it would cut."""
        if threshold == self.zero_threshold:
            return self.zero_count, threshold
        positive = sorted(self.positive().items())
        negative = sorted(self.negative().items())
        while True:
            count = self.zero_count
            for index, c in positive:
                if self.bound(index - 1) >= threshold:
                    break
                count += c
                if self.bound(index) > threshold:
                    if c != 0:
                        threshold = self.bound(index)
                    break
            moved = False
            for index, c in negative:
                if self.bound(index - 1) >= threshold:
                    break
                count += c
                if self.bound(index) > threshold:
                    if c != 0:
                        threshold = self.bound(index)
                        moved = True
                    break
            if not moved:
                return count, threshold

    def _with_zero_threshold(self, threshold: float) -> FloatHistogram:
        count, threshold = self._zero_count_for(threshold)
        keep_pos = {i: c for i, c in self.positive().items() if self.bound(i - 1) >= threshold}
        keep_neg = {i: c for i, c in self.negative().items() if self.bound(i - 1) >= threshold}
        return replace(self._with(keep_pos, keep_neg), zero_count=count, zero_threshold=threshold)

    def _aligned(self, other: FloatHistogram) -> tuple[FloatHistogram, FloatHistogram]:
        if self.uses_custom_buckets != other.uses_custom_buckets:
            raise HistogramError("cannot combine exponential and custom bucket histograms")
        a, b = _aligned([self, other])
        return a, b

    def to_custom_bounds(self, bounds: tuple[float, ...]) -> FloatHistogram:
        """A custom-bucket histogram on a subset of its bounds: each bucket joins the first
        remaining bucket ending at or above it."""
        if bounds == self.custom_values:
            return self
        merged: Indexed = {}
        for index, count in self.positive().items():
            target = bisect.bisect_left(bounds, self.bound(index))
            merged[target] = merged.get(target, 0.0) + count
        return replace(self._with(merged, {}), custom_values=bounds)

    def add(self, other: FloatHistogram) -> FloatHistogram:
        return self._combine(other, 1.0)

    def sub(self, other: FloatHistogram) -> FloatHistogram:
        return self._combine(other, -1.0)

    def _combine(self, other: FloatHistogram, sign: float) -> FloatHistogram:
        a, b = self._aligned(other)
        pos, neg = a.positive(), a.negative()
        for mine, theirs in ((pos, b.positive()), (neg, b.negative())):
            for index, count in theirs.items():
                mine[index] = mine.get(index, 0.0) + sign * count
        hint = (
            _hint_of_sum(a.counter_reset_hint, b.counter_reset_hint)
            if sign > 0
            else a.counter_reset_hint
        )
        return replace(
            a._with(pos, neg),
            zero_count=a.zero_count + sign * b.zero_count,
            count=a.count + sign * b.count,
            sum=a.sum + sign * b.sum,
            counter_reset_hint=hint,
        )

    def negated(self) -> FloatHistogram:
        return self.scale(-1.0)

    def compact(self) -> FloatHistogram:
        """Without empty buckets."""
        return self._with(
            {i: c for i, c in self.positive().items() if c != 0},
            {i: c for i, c in self.negative().items() if c != 0},
        )

    def with_hint(self, hint: CounterResetHint) -> FloatHistogram:
        return replace(self, counter_reset_hint=hint)

    # --- counters ---------------------------------------------------------------------------

    def detect_reset(self, previous: FloatHistogram) -> bool:
        """Whether this histogram, following `previous`, starts the counter again: by its hint,
        or because any count (not the sum) went down or the layout got finer."""
        if self.counter_reset_hint is CounterResetHint.COUNTER_RESET:
            return True
        if self.counter_reset_hint is CounterResetHint.NOT_COUNTER_RESET:
            return False
        if self.count < previous.count:
            return True
        if self.uses_custom_buckets != previous.uses_custom_buckets:
            return True
        if self.uses_custom_buckets:
            current, earlier = _aligned([self, previous])
            mine, prev_counts = current.positive(), earlier.positive()
            return any(mine.get(i, 0.0) < c for i, c in prev_counts.items())
        if self.schema > previous.schema or self.zero_threshold < previous.zero_threshold:
            return True
        prev_zero, threshold = previous._zero_count_for(self.zero_threshold)
        if threshold != self.zero_threshold or self.zero_count < prev_zero:
            return True
        prev = previous.to_schema(self.schema)
        for now, before in ((self.positive(), prev.positive()), (self.negative(), prev.negative())):
            for index, count in before.items():
                if prev.bound(index) <= self.zero_threshold:
                    continue
                if now.get(index, 0.0) < count:
                    return True
        return False

    def equals(self, other: FloatHistogram) -> bool:
        """Same layout and counts, ignoring the counter reset hint and empty buckets."""
        a, b = self.compact(), other.compact()
        return (
            a.schema == b.schema
            and a.zero_threshold == b.zero_threshold
            and a.zero_count == b.zero_count
            and a.count == b.count
            and (a.sum == b.sum or (math.isnan(a.sum) and math.isnan(b.sum)))
            and a.custom_values == b.custom_values
            and a.positive() == b.positive()
            and a.negative() == b.negative()
        )

    # --- statistics -------------------------------------------------------------------------

    def quantile(self, q: float) -> float:
        """`histogram_quantile`: exponential interpolation inside exponential buckets, linear
        in the zero bucket and in custom buckets."""
        if q < 0:
            return -math.inf
        if q > 1:
            return math.inf
        if self.count == 0 or math.isnan(q):
            return math.nan
        forward = math.isnan(self.sum) or q < 0.5
        buckets = self.buckets()
        if forward:
            rank = q * self.count
        else:
            buckets.reverse()
            rank = (1 - q) * self.count
        count = 0.0
        populated = [b for b in buckets if b.count != 0]
        if not populated:
            return math.nan  # only NaN observations
        bucket = populated[0]
        for bucket in populated:
            count += bucket.count
            if count >= rank:
                break
        lower, upper = bucket.lower, bucket.upper
        custom = self.uses_custom_buckets
        if not custom and lower < 0 < upper:
            if not self.negative_buckets and self.positive_buckets:
                lower = 0.0
            elif not self.positive_buckets and self.negative_buckets:
                upper = 0.0
        elif custom:
            if lower == -math.inf:
                if upper <= 0:
                    return upper
                lower = 0.0
            elif upper == math.inf:
                return lower
        count = min(count, self.count)
        if count < rank:
            return math.nan  # the rank falls among NaN observations
        rank = rank - (count - bucket.count) if forward else count - rank
        fraction = rank / bucket.count
        if custom or (lower <= 0 <= upper):
            return lower + (upper - lower) * fraction
        log_lower, log_upper = math.log2(abs(lower)), math.log2(abs(upper))
        if lower > 0:
            return math.exp2(log_lower + (log_upper - log_lower) * fraction)
        return -math.exp2(log_upper + (log_lower - log_upper) * (1 - fraction))

    def fraction(self, lower: float, upper: float) -> float:
        """`histogram_fraction`: the share of observations in (lower, upper], interpolated as
        `quantile` does."""
        if self.count == 0 or math.isnan(lower) or math.isnan(upper):
            return math.nan
        if lower >= upper:
            return 0.0
        rank = 0.0
        lower_rank = upper_rank = 0.0
        lower_set = upper_set = False
        for b in self.buckets():
            lo, hi = b.lower, b.upper
            zero_bucket = lo <= 0 <= hi
            if zero_bucket:
                if not self.negative_buckets and self.positive_buckets:
                    lo = 0.0
                elif not self.positive_buckets and self.negative_buckets:
                    hi = 0.0
            linear = self.uses_custom_buckets or zero_bucket
            if not lower_set and lo >= lower:
                lower_rank, lower_set = rank, True
            if not upper_set and lo >= upper:
                upper_rank, upper_set = rank, True
            if lower_set and upper_set:
                break
            if not lower_set and lo < lower < hi:
                lower_rank, lower_set = rank + _share(lower, lo, hi, b.count, linear), True
            if not upper_set and lo < upper < hi:
                upper_rank, upper_set = rank + _share(upper, lo, hi, b.count, linear), True
            if lower_set and upper_set:
                break
            rank += b.count
        if not lower_set or lower_rank > self.count:  # NaN observations are in no bucket
            lower_rank = min(rank, self.count)
        if not upper_set or upper_rank > self.count:
            upper_rank = min(rank, self.count)
        return (upper_rank - lower_rank) / self.count

    def variance(self) -> float:
        """`histogram_stdvar`: each bucket's observations taken at its geometric mean (the
        arithmetic one for custom buckets, zero in the zero bucket)."""
        mean = self.sum / self.count if self.count else math.nan
        total, comp = 0.0, 0.0
        for b in self.buckets():
            if b.count == 0:
                continue
            if self.uses_custom_buckets:
                value = (b.upper + b.lower) / 2.0
            elif b.lower <= 0 <= b.upper:
                value = 0.0
            else:
                value = math.sqrt(b.upper * b.lower)
                if b.upper < 0:
                    value = -value
            delta = value - mean
            total, comp = _kahan_inc(b.count * delta * delta, total, comp)
        with_comp = total + comp
        return with_comp / self.count if self.count else math.nan


def _share(v: float, lower: float, upper: float, count: float, linear: bool) -> float:
    """The observations of a bucket below `v`, interpolated as `quantile` does; a bucket of
    infinite width is not interpolated (its observations lie towards the infinite end)."""
    if math.isinf(lower) or math.isinf(upper):
        return count if math.isinf(lower) else 0.0
    if linear:
        return count * (v - lower) / (upper - lower)
    log_lo, log_hi, log_v = math.log2(abs(lower)), math.log2(abs(upper)), math.log2(abs(v))
    if v > 0:
        return count * ((log_v - log_lo) / (log_hi - log_lo))
    return count * (1 - (log_v - log_hi) / (log_lo - log_hi))


def _aligned(histograms: list[FloatHistogram]) -> list[FloatHistogram]:
    """The histograms on one layout: the coarsest schema and widest zero bucket, or for
    custom buckets the bounds they all share."""
    custom = histograms[0].uses_custom_buckets
    if any(h.uses_custom_buckets != custom for h in histograms):
        raise HistogramError("cannot combine exponential and custom bucket histograms")
    if custom:
        shared = set(histograms[0].custom_values)
        for h in histograms[1:]:
            shared &= set(h.custom_values)
        bounds = tuple(sorted(shared))
        return [h.to_custom_bounds(bounds) for h in histograms]
    schema = min(h.schema for h in histograms)
    out = [h.to_schema(schema) for h in histograms]
    threshold = max(h.zero_threshold for h in out)
    while True:
        moved = max(h._zero_count_for(threshold)[1] for h in out)
        if moved == threshold:
            break
        threshold = moved
    return [h if h.zero_threshold == threshold else h._with_zero_threshold(threshold) for h in out]


def sum_histograms(histograms: Iterable[FloatHistogram]) -> FloatHistogram:
    """The compacted sum of one or more histograms, each count and bucket added in
    Prometheus's compensated (Kahan-Neumaier) order."""
    aligned = _aligned(list(histograms))
    fields = [(0.0, 0.0)] * 3
    sums: tuple[dict[int, tuple[float, float]], dict[int, tuple[float, float]]] = ({}, {})
    hint = aligned[0].counter_reset_hint
    for n, h in enumerate(aligned):
        if n:
            hint = _hint_of_sum(hint, h.counter_reset_hint)
        fields = [
            _kahan_inc(v, t, c)
            for v, (t, c) in zip((h.count, h.sum, h.zero_count), fields, strict=True)
        ]
        for total, items in zip(sums, (h.positive(), h.negative()), strict=True):
            for index, count in items.items():
                total[index] = _kahan_inc(count, *total.get(index, (0.0, 0.0)))
    count, total_sum, zero_count = (t if math.isinf(t) else t + c for t, c in fields)
    pos, neg = ({i: t if math.isinf(t) else t + c for i, (t, c) in d.items()} for d in sums)
    return replace(
        aligned[0]._with(pos, neg),
        count=count,
        sum=total_sum,
        zero_count=zero_count,
        counter_reset_hint=hint,
    ).compact()


def mean_histograms(histograms: list[FloatHistogram]) -> FloatHistogram:
    """The mean, field by field (count, sum, each bucket): the compensated sum divided by
    the number of histograms, or where that sum overflows, Prometheus's incremental mean."""
    aligned = _aligned(histograms)
    n = len(aligned)
    pos: dict[int, list[float]] = {}
    neg: dict[int, list[float]] = {}
    for k, h in enumerate(aligned):
        for merged, items in ((pos, h.positive()), (neg, h.negative())):
            for index, count in items.items():
                merged.setdefault(index, [0.0] * n)[k] = count
    mean = replace(
        aligned[0]._with(
            {i: _mean(v) for i, v in pos.items()}, {i: _mean(v) for i, v in neg.items()}
        ),
        count=_mean([h.count for h in aligned]),
        sum=_mean([h.sum for h in aligned]),
        zero_count=_mean([h.zero_count for h in aligned]),
    )
    return mean.compact()


def _mean(values: list[float]) -> float:
    total, comp = 0.0, 0.0
    for v in values:
        total, comp = _kahan_inc(v, total, comp)
    if not math.isinf(total) or any(math.isinf(v) for v in values):
        return (total if math.isinf(total) else total + comp) / len(values)
    mean = 0.0
    for k, v in enumerate(values, start=1):
        mean += v / k - mean / k
    return mean
