"""Bytes per native histogram sample in vigil's encodings: the head's closed chunks and the
WAL's records (`chunkenc.histogram`, uncompressed) and a block's series record (the same,
inside zstd).

The series are what a client library exposes for a request latency histogram: schema 3,
observations log-normal around 50 ms (a few hundred a scrape, so the populated buckets grow
and shift), a zero bucket of width 1e-128, scraped every 15 s; a block holds 2 h of each (480
samples), a head chunk 120. (Prometheus's XOR-of-deltas chunks are not measured here: its
TSDB takes no native histograms but by scraping protobuf.)

    .venv/bin/python bench/tsdb_histograms.py [--series 50] [--buckets-schema 3]
"""

from __future__ import annotations

import argparse
import math
from collections import Counter

import numpy as np

from vigil.model.histogram import FloatHistogram
from vigil.tsdb.chunkenc import histogram as histenc
from vigil.tsdb.chunkenc.block_record import encode as encode_record
from vigil.tsdb.wal import HistogramSamples, encode_histograms

SCRAPE_MS = 15_000
BLOCK_SAMPLES = 480
CHUNK_SAMPLES = 120


def _index(value: float, schema: int) -> int:
    """The exponential bucket (upper bound inclusive) holding `value` > 0."""
    return math.ceil(math.log2(value) * (1 << schema) - 1e-9)


def _series(rng: np.random.Generator, schema: int) -> list[FloatHistogram]:
    buckets: Counter[int] = Counter()
    count = 0
    total = 0.0
    out = []
    for _ in range(BLOCK_SAMPLES):
        observed = rng.lognormal(math.log(0.05), 0.8, int(rng.integers(100, 400)))
        for value in observed.tolist():
            buckets[_index(value, schema)] += 1
        count += len(observed)
        total += float(observed.sum())
        histogram = FloatHistogram.of({i: float(c) for i, c in buckets.items()})
        out.append(
            FloatHistogram(
                schema=schema,
                zero_threshold=1e-128,
                count=float(count),
                sum=total,
                positive_spans=histogram.positive_spans,
                positive_buckets=histogram.positive_buckets,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--buckets-schema", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(1)
    series = [_series(rng, args.buckets_schema) for _ in range(args.series)]
    timestamps = [k * SCRAPE_MS for k in range(BLOCK_SAMPLES)]
    n = args.series * BLOCK_SAMPLES
    chunk_bytes = sum(
        len(histenc.encode(timestamps[at : at + CHUNK_SAMPLES], hs[at : at + CHUNK_SAMPLES]))
        for hs in series
        for at in range(0, BLOCK_SAMPLES, CHUNK_SAMPLES)
    )
    wal_bytes = sum(
        len(
            encode_histograms(
                HistogramSamples(
                    list(range(args.series)),
                    [timestamps[k]] * args.series,
                    [hs[k] for hs in series],
                )
            )
        )
        for k in range(BLOCK_SAMPLES)
    )
    placeholder = np.full(BLOCK_SAMPLES, np.nan)
    block_bytes = sum(
        len(encode_record(np.array(timestamps), placeholder, np.array(hs, dtype=object)))
        for hs in series
    )
    buckets = sum(len(h.positive_buckets) for hs in series for h in hs) / n
    print(f"{args.series} series x {BLOCK_SAMPLES} samples, {buckets:.1f} buckets a sample")
    for name, size in (
        ("head chunk (120 samples)", chunk_bytes),
        ("WAL record (one scrape)", wal_bytes),
        ("block record (zstd)", block_bytes),
    ):
        print(f"{name:26} {size / n:8.1f} bytes/sample  {size / n / buckets:5.2f} bytes/bucket")


if __name__ == "__main__":
    main()
