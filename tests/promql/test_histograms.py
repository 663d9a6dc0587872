"""PromQL over native histogram samples: selectors, the rate family, aggregations, arithmetic
and the histogram_* functions, on data whose answers are worked out by hand beside each case.

`h` counts one more observation in (1, 2] (sum +2) every minute from {{count:4 sum:5
buckets:[1 2 1]}} (buckets (0.5,1], (1,2], (2,4]); `reset` drops from 5 to 2 observations;
`fine` and `coarse` share labels but for their schema; `mixed` is a float beside a histogram."""

from __future__ import annotations

import math

import pytest

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram, Span
from vigil.promql import Engine, EngineOptions, Matrix, Vector
from vigil.tsdb import MemoryStorage

BASE = FloatHistogram(sum=5, count=4, positive_spans=(Span(0, 3),), positive_buckets=(1, 2, 1))
STEP = FloatHistogram(sum=2, count=1, positive_spans=(Span(1, 1),), positive_buckets=(1,))


def _labels(**pairs: str) -> Labels:
    return Labels.from_dict(pairs)


@pytest.fixture(scope="module")
def engine() -> Engine:
    storage = MemoryStorage()
    h = BASE
    for i in range(11):
        storage.add(_labels(__name__="h", job="a"), i * 60_000, h)
        h = h.add(STEP)
    for i, count in enumerate([5.0, 2.0, 4.0]):
        storage.add(
            _labels(__name__="reset"),
            i * 60_000,
            FloatHistogram(
                count=count, sum=count, positive_spans=(Span(0, 1),), positive_buckets=(count,)
            ),
        )
    # schema 1 buckets 1..3 are (1,√2], (√2,2], (2,2√2]: schema 0 buckets (1,2] and (2,4]
    fine = FloatHistogram(
        schema=1, count=7, sum=10, positive_spans=(Span(1, 3),), positive_buckets=(1, 2, 4)
    )
    storage.add(_labels(__name__="layout", kind="fine"), 0, fine)
    storage.add(_labels(__name__="layout", kind="coarse"), 0, BASE)
    storage.add(_labels(__name__="mixed", kind="float"), 0, 3.0)
    storage.add(_labels(__name__="mixed", kind="histogram"), 0, BASE)
    return Engine(storage.queryable, EngineOptions())


def _instant(engine: Engine, query: str, t_ms: int) -> dict[Labels, float | FloatHistogram]:
    value = engine.instant_query(query, t_ms).value
    assert isinstance(value, Vector)
    return {s.labels: s.histogram if s.histogram is not None else s.value for s in value.samples}


def _summary(h: float | FloatHistogram) -> object:
    if isinstance(h, FloatHistogram):
        c = h.compact()
        return (c.schema, pytest.approx(c.count), pytest.approx(c.sum), c.positive())
    return pytest.approx(h, nan_ok=True)


A = _labels(job="a")
EMPTY = Labels()


@pytest.mark.parametrize(
    ("query", "t_ms", "want"),
    [
        ("h", 600_000, {_labels(__name__="h", job="a"): (0, 14, 25, {0: 1, 1: 12, 2: 1})}),
        ("histogram_count(h)", 600_000, {A: 14}),
        ("histogram_sum(h)", 600_000, {A: 25}),
        ("histogram_avg(h)", 600_000, {A: 25 / 14}),
        ("histogram_quantile(0.5, h)", 0, {A: math.sqrt(2)}),
        ("histogram_fraction(1, 2, h)", 0, {A: 0.5}),
        # midpoints √0.5, √2, √8 weighted 1, 2, 1 around the mean 1.25
        (
            "histogram_stdvar(h)",
            0,
            {A: ((0.5**0.5 - 1.25) ** 2 + 2 * (2**0.5 - 1.25) ** 2 + (8**0.5 - 1.25) ** 2) / 4},
        ),
        # (300s, 600s]: 5 samples 4 minutes apart in all, 60 s to extrapolate at the start
        ("rate(h[5m])", 600_000, {A: (0, 4 * 1.25 / 300, 8 * 1.25 / 300, {1: 4 * 1.25 / 300})}),
        ("increase(h[10m])", 600_000, {A: (0, 10, 20, {1: 10})}),
        ("delta(h[10m])", 600_000, {A: (0, 10, 20, {1: 10})}),
        ("irate(h[5m])", 600_000, {A: (0, 1 / 60, 2 / 60, {1: 1 / 60})}),
        ("idelta(h[5m])", 600_000, {A: (0, 1, 2, {1: 1})}),
        ("resets(reset[5m])", 120_000, {EMPTY: 1}),
        ("changes(h[10m])", 600_000, {A: 9}),
        ("count_over_time(h[10m])", 600_000, {A: 10}),
        ("sum(layout)", 0, {EMPTY: (0, 11, 15, {0: 1, 1: 5, 2: 5})}),
        ("avg(layout)", 0, {EMPTY: (0, 5.5, 7.5, {0: 0.5, 1: 2.5, 2: 2.5})}),
        ("count(layout)", 0, {EMPTY: 2}),
        ("sum(mixed)", 0, {}),  # floats and histograms in one group: dropped
        ("count(mixed)", 0, {EMPTY: 2}),
        ("max(mixed)", 0, {EMPTY: 3}),  # histograms are ignored
        ("h * 2", 0, {A: (0, 8, 10, {0: 2, 1: 4, 2: 2})}),
        ("2 * h", 0, {A: (0, 8, 10, {0: 2, 1: 4, 2: 2})}),
        ("h / 2", 0, {A: (0, 2, 2.5, {0: 0.5, 1: 1, 2: 0.5})}),
        ("h + 1", 0, {}),
        ("h - h", 0, {A: (0, 0, 0, {})}),
        ("-h", 0, {A: (0, -4, -5, {0: -1, 1: -2, 2: -1})}),
        ("abs(h)", 0, {}),
        ("h > 0", 0, {}),
        ("h and h", 0, {_labels(__name__="h", job="a"): (0, 4, 5, {0: 1, 1: 2, 2: 1})}),
        (
            'label_replace(h, "x", "y", "", "")',
            0,
            {_labels(__name__="h", job="a", x="y"): (0, 4, 5, {0: 1, 1: 2, 2: 1})},
        ),
        ("timestamp(h)", 60_000, {A: 60}),
    ],
)
def test_histogram_queries(
    engine: Engine, query: str, t_ms: int, want: dict[Labels, object]
) -> None:
    got = _instant(engine, query, t_ms)
    expected = {
        lbls: (
            (v[0], pytest.approx(v[1]), pytest.approx(v[2]), pytest.approx(v[3]))
            if isinstance(v, tuple)
            else pytest.approx(v)
        )
        for lbls, v in want.items()
    }
    assert {lbls: _summary(v) for lbls, v in got.items()} == expected


def test_range_query_returns_histogram_points(engine: Engine) -> None:
    value = engine.range_query("rate(h[2m])", 120_000, 240_000, 60_000).value
    assert isinstance(value, Matrix)
    [series] = value.series
    assert (series.labels, len(series.values)) == (A, 0)
    assert [t for t, _ in series.histograms] == [120_000, 180_000, 240_000]
    assert {round(h.count * 60, 9) for _, h in series.histograms} == {1.0}
