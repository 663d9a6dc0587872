"""`native_histogram_min_bucket_factor` and `native_histogram_bucket_limit`, as Prometheus
applies them to each scraped native histogram: first down to the schema the factor allows,
then coarser one schema at a time until the buckets fit the limit; a histogram still over
the limit at the coarsest schema fails the scrape."""

from __future__ import annotations

import math

from vigil.model.histogram import FloatHistogram

MIN_SCHEMA = -4
MAX_SCHEMA = 8
BUCKET_LIMIT_EXCEEDED = "histogram bucket limit exceeded"


class BucketLimitExceeded(Exception):
    def __init__(self) -> None:
        super().__init__(BUCKET_LIMIT_EXCEEDED)


def max_schema(min_bucket_factor: float) -> int:
    """Prometheus's pickSchema: the finest schema whose buckets grow by at least the factor
    (a factor <= 1 allows every schema)."""
    factor = min_bucket_factor if min_bucket_factor > 1 else 1.00271
    floor = math.floor(-math.log2(math.log2(factor)))
    return max(MIN_SCHEMA, min(MAX_SCHEMA, floor))


def limited(h: FloatHistogram, bucket_limit: int, schema_limit: int) -> FloatHistogram:
    """`h` at most at `schema_limit` and with at most `bucket_limit` buckets (0: no limit);
    raises BucketLimitExceeded. Custom-bucket histograms are left alone by the schema limit
    and fail the bucket limit outright, as in Prometheus."""
    if h.uses_custom_buckets:
        if bucket_limit and len(h.positive_buckets) > bucket_limit:
            raise BucketLimitExceeded
        return h
    if h.schema > schema_limit:
        h = h.to_schema(schema_limit)
    while bucket_limit and len(h.positive_buckets) + len(h.negative_buckets) > bucket_limit:
        if h.schema <= MIN_SCHEMA:
            raise BucketLimitExceeded
        h = h.to_schema(h.schema - 1)
    return h
