"""The native histogram value: layout, arithmetic across schemas and zero buckets, counter
resets, and the statistics PromQL reads (values worked out by hand from the bucket bounds)."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from vigil.model.histogram import (
    CUSTOM_BUCKETS_SCHEMA,
    CounterResetHint,
    FloatHistogram,
    HistogramError,
    Span,
    exponential_bound,
)

# {{schema:0 sum:5 count:4 buckets:[1 2 1]}}: 1 in (0.5, 1], 2 in (1, 2], 1 in (2, 4]
SIMPLE = FloatHistogram(sum=5, count=4, positive_spans=(Span(0, 3),), positive_buckets=(1, 2, 1))


def hist(positive: dict[int, float], **fields: object) -> FloatHistogram:
    return replace(FloatHistogram.of(positive), **fields)  # type: ignore[arg-type]


def test_spans_are_absolute_then_relative_offsets() -> None:
    h = FloatHistogram.of({-2: 1, 0: 3, 1: 2, 5: 1})
    assert h.positive_spans == (Span(-2, 1), Span(1, 2), Span(3, 1))
    assert h.positive_buckets == (1, 3, 2, 1)
    assert h.positive() == {-2: 1, 0: 3, 1: 2, 5: 1}


@pytest.mark.parametrize(
    ("index", "schema", "bound"),
    [(0, 0, 1.0), (1, 0, 2.0), (-1, 0, 0.5), (1, 1, math.sqrt(2)), (1, -1, 4.0), (3, 2, 2**0.75)],
)
def test_exponential_bounds(index: int, schema: int, bound: float) -> None:
    assert exponential_bound(index, schema) == pytest.approx(bound, rel=1e-15)


def test_add_reduces_to_the_coarser_schema() -> None:
    fine = hist({1: 1, 2: 2, 3: 4}, schema=1, count=7, sum=10)  # (1,√2], (√2,2], (2,2√2]
    coarse = hist({1: 1}, schema=0, count=1, sum=1.5)
    total = fine.add(coarse)
    assert (total.schema, total.count, total.sum) == (0, 8, 11.5)
    assert total.positive() == {1: 4, 2: 4}


def test_add_widens_the_zero_bucket_to_the_larger_threshold() -> None:
    small = hist({-1: 2, 1: 3}, zero_threshold=0.001, zero_count=1, count=6)
    wide = hist({1: 1}, zero_threshold=0.5, zero_count=4, count=5)
    total = small.add(wide)
    assert (total.zero_threshold, total.zero_count, total.positive()) == (0.5, 7.0, {1: 4.0})


def test_sub_and_scale() -> None:
    diff = SIMPLE.sub(hist({1: 1}, count=1, sum=1))
    assert (diff.count, diff.sum, diff.positive()) == (3, 4, {0: 1, 1: 1, 2: 1})
    doubled = SIMPLE.scale(2)
    assert (doubled.count, doubled.sum, doubled.positive()) == (8, 10, {0: 2, 1: 4, 2: 2})
    assert SIMPLE.divide(0).count == math.inf


def test_custom_buckets_do_not_mix_with_exponential_ones() -> None:
    custom = hist({0: 1}, schema=CUSTOM_BUCKETS_SCHEMA, custom_values=(1.0,), count=1)
    with pytest.raises(HistogramError):
        SIMPLE.add(custom)


def test_compact_drops_empty_buckets() -> None:
    assert hist({0: 1, 1: 0, 2: 3}).compact().positive() == {0: 1, 2: 3}


@pytest.mark.parametrize(
    ("current", "previous", "reset"),
    [
        (hist({0: 2, 1: 3}, count=5), hist({0: 1, 1: 3}, count=4), False),
        (hist({0: 2, 1: 2}, count=5), hist({0: 1, 1: 3}, count=4), True),  # a bucket went down
        (hist({0: 5}, count=5), hist({0: 1, 1: 3}, count=4), True),  # a bucket vanished
        (hist({0: 1}, count=3), hist({0: 1}, count=4), True),  # the count went down
        (hist({0: 1}, schema=1, count=5), hist({0: 1}, count=4), True),  # finer schema
        (
            hist({0: 9}, count=9, counter_reset_hint=CounterResetHint.COUNTER_RESET),
            hist({0: 1}, count=1),
            True,
        ),
        (
            hist({0: 1}, count=1, counter_reset_hint=CounterResetHint.NOT_COUNTER_RESET),
            hist({0: 9}, count=9),
            False,
        ),
    ],
)
def test_detect_reset(current: FloatHistogram, previous: FloatHistogram, reset: bool) -> None:
    assert current.detect_reset(previous) is reset


@pytest.mark.parametrize(
    ("q", "want"),
    [(0.5, math.sqrt(2)), (0.0, 0.5), (1.0, 4.0), (0.25, 1.0), (-1, -math.inf), (2, math.inf)],
)
def test_quantile_interpolates_exponentially(q: float, want: float) -> None:
    assert SIMPLE.quantile(q) == pytest.approx(want, rel=1e-12)


def test_quantile_of_custom_buckets_is_linear() -> None:
    custom = hist({0: 2, 1: 2}, schema=CUSTOM_BUCKETS_SCHEMA, custom_values=(10.0,), count=4)
    assert custom.quantile(0.25) == 5.0  # first bucket taken as (0, 10]
    assert custom.quantile(0.9) == 10.0  # the +Inf bucket answers its lower bound


def test_fraction_and_variance() -> None:
    assert SIMPLE.fraction(1, 2) == 0.5
    assert SIMPLE.fraction(0, 8) == 1.0
    assert SIMPLE.fraction(math.sqrt(2), 2) == pytest.approx(0.25)
    # bucket midpoints (geometric) √0.5, √2, √8 around the mean 1.25
    mids = [(math.sqrt(0.5), 1), (math.sqrt(2), 2), (math.sqrt(8), 1)]
    assert SIMPLE.variance() == pytest.approx(sum(c * (m - 1.25) ** 2 for m, c in mids) / 4)
    assert math.isnan(FloatHistogram().quantile(0.5))


def test_fraction_does_not_interpolate_in_infinite_buckets() -> None:
    # custom buckets (-Inf, -3], (-3, -2], (-2, +Inf] holding 10, 2, 88
    custom = hist(
        {0: 10, 1: 2, 2: 88}, schema=CUSTOM_BUCKETS_SCHEMA, custom_values=(-3.0, -2.0), count=100
    )
    assert custom.fraction(-4, -2) == pytest.approx(0.02)  # all of (-Inf, -3] lies below -4
    assert custom.fraction(-2, 5) == 0.0  # all of (-2, +Inf] lies above 5
