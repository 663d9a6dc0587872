"""Classic histograms converted to custom-bucket native ones, as Prometheus 3 converts them."""

from __future__ import annotations

import math

import pytest

from vigil.model.histogram import CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Span
from vigil.model.nhcb import NHCBError, classic_to_nhcb

INF = math.inf


def _nhcb(
    bounds: tuple[float, ...], buckets: tuple[float, ...], count: float, sum_: float
) -> FloatHistogram:
    return FloatHistogram(
        schema=CUSTOM_BUCKETS_SCHEMA,
        count=count,
        sum=sum_,
        custom_values=bounds,
        positive_spans=(Span(0, len(buckets)),),
        positive_buckets=buckets,
    )


@pytest.mark.parametrize(
    ("cumulative", "count", "sum_", "want"),
    [
        ({0.1: 1, 0.2: 3, INF: 4}, 4.0, 6.5, _nhcb((0.1, 0.2), (1, 2, 1), 4, 6.5)),
        # No _count: the highest bucket is the count; no _sum: zero.
        ({0.1: 1, 0.2: 3, INF: 4}, None, None, _nhcb((0.1, 0.2), (1, 2, 1), 4, 0)),
        # No +Inf bucket: none in the result either (promqltest's histogram_over_time).
        ({0: 9, 1: 9, 2: 10, 4: 18}, None, None, _nhcb((0, 1, 2, 4), (9, 0, 1, 8), 18, 0)),
        # Bounds arrive in any order; negative bounds are kept.
        (
            {INF: 3, 0.3: 2, -0.2: 1, -0.1: 2},
            None,
            None,
            _nhcb((-0.2, -0.1, 0.3), (1, 1, 0, 1), 3, 0),
        ),
    ],
)
def test_classic_buckets_become_custom_buckets(
    cumulative: dict[float, float], count: float | None, sum_: float | None, want: FloatHistogram
) -> None:
    assert classic_to_nhcb(cumulative, count, sum_).compact() == want.compact()


@pytest.mark.parametrize(
    ("cumulative", "message"),
    [
        ({}, "no buckets"),
        ({0.1: 3, 0.2: 1, INF: 4}, "bucket counts decrease at le=0.2"),
        ({math.nan: 1, INF: 1}, "a bucket bound is NaN"),
    ],
)
def test_buckets_that_make_no_histogram_say_why(
    cumulative: dict[float, float], message: str
) -> None:
    with pytest.raises(NHCBError, match=message):
        classic_to_nhcb(cumulative)


def test_histogram_prints_as_prometheus_prints_it() -> None:
    """`count_values` labels a histogram sample with this text (upstream aggregators.test)."""
    h = FloatHistogram(
        schema=0,
        count=20,
        sum=10,
        zero_threshold=0.001,
        zero_count=2,
        positive_spans=(Span(0, 2),),
        positive_buckets=(1, 2),
        negative_spans=(Span(0, 2),),
        negative_buckets=(1, 2),
    )
    assert (
        str(h) == "{count:20, sum:10, [-2,-1):2, [-1,-0.5):1, [-0.001,0.001]:2, (0.5,1]:1, (1,2]:2}"
    )
