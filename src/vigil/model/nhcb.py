"""Classic histograms as native histograms with custom buckets (NHCB, schema -53), the
conversion Prometheus 3 does at ingestion (`convert_classic_histograms_to_nhcb`, and
promqltest's `load_with_nhcb`): the `le` bounds become `custom_values`, cumulative bucket
counts become per-bucket counts, `_count` and `_sum` become count and sum."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace

from vigil.model.histogram import CUSTOM_BUCKETS_SCHEMA, FloatHistogram


class NHCBError(ValueError):
    """Classic buckets that make no histogram; the message says why."""


def classic_to_nhcb(
    cumulative: Mapping[float, float], count: float | None = None, sum_: float | None = None
) -> FloatHistogram:
    """One NHCB sample from the classic samples of one instant: `cumulative` maps each `le`
    bound to its bucket's cumulative count. The highest bucket's count is the count unless
    `count` (the `_count` sample) is given; without a `+Inf` bucket there is none in the
    result either."""
    if not cumulative:
        raise NHCBError("no buckets")
    if any(math.isnan(le) for le in cumulative):
        raise NHCBError("a bucket bound is NaN")
    bounds = sorted(cumulative)
    counts: dict[int, float] = {}
    previous = 0.0
    for i, le in enumerate(bounds):
        value = cumulative[le]
        if value < previous:
            raise NHCBError(f"bucket counts decrease at le={le}")
        counts[i] = value - previous
        previous = value
    return replace(
        FloatHistogram.of(counts),
        schema=CUSTOM_BUCKETS_SCHEMA,
        count=previous if count is None else count,
        sum=0.0 if sum_ is None else sum_,
        custom_values=tuple(le for le in bounds if le != math.inf),
    )
