"""`convert_classic_histograms_to_nhcb`: a scrape's classic histograms (`_bucket` series by
`le`, `_count`, `_sum`) become native histograms with custom buckets, as Prometheus 3 does at
scrape time; the classic series are kept too only with `always_scrape_classic_histograms`.

A family counts as a classic histogram when the body typed it `histogram`. Buckets that make
no histogram (counts decreasing with `le`, a NaN bound) leave that histogram classic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from vigil.exposition import MetricType
from vigil.exposition.render import series_text
from vigil.exposition.scan import ScrapeBatch
from vigil.model import Labels
from vigil.model.histogram import FloatHistogram
from vigil.model.nhcb import NHCBError, classic_to_nhcb
from vigil.tsdb.series import histogram_column


@dataclass(slots=True)
class _Classic:
    rows: list[int] = field(default_factory=list)
    buckets: dict[float, float] = field(default_factory=dict)
    count: float | None = None
    sum: float | None = None
    timestamp: int | None = None


def convert_to_nhcb(batch: ScrapeBatch, keep_classic: bool) -> ScrapeBatch:
    families = {n for n, meta in batch.metadata.items() if meta.type is MetricType.HISTOGRAM}
    if not families:
        return batch
    groups: dict[tuple[str, Labels], _Classic] = {}
    native = batch.histograms
    for row, (name, labels) in enumerate(batch.labels):
        base, _, suffix = name.rpartition("_")
        if base not in families or (native is not None and native[row] is not None):
            continue
        if suffix == "bucket":
            try:
                le = float(labels.get("le"))
            except ValueError:
                continue
            parts = groups.setdefault((base, labels.without("le")), _Classic())
            parts.buckets[le] = float(batch.values[row])
            parts.timestamp = int(batch.timestamps[row])
        elif suffix in ("count", "sum"):
            parts = groups.setdefault((base, labels), _Classic())
            setattr(parts, suffix, float(batch.values[row]))
        else:
            continue
        parts.rows.append(row)
    converted: list[tuple[str, Labels, int, FloatHistogram]] = []
    drop: list[int] = []
    for (base, labels), parts in groups.items():
        if not parts.buckets or any(math.isnan(v) for v in parts.buckets.values()):
            continue
        try:
            histogram = classic_to_nhcb(parts.buckets, parts.count, parts.sum)
        except NHCBError:
            continue
        assert parts.timestamp is not None
        converted.append((base, labels, parts.timestamp, histogram))
        drop.extend(parts.rows)
    if not converted:
        return batch
    keep = np.ones(len(batch), dtype=np.bool_)
    if not keep_classic:
        keep[drop] = False
    kept = np.flatnonzero(keep)
    n = len(converted)
    column = histogram_column(n + kept.size)
    for i, (_, _, _, histogram) in enumerate(converted):
        column[i] = histogram
    if native is not None:
        column[n:] = native[kept]
    return ScrapeBatch(
        [series_text(base, labels).encode() for base, labels, _, _ in converted]
        + [batch.series[i] for i in kept.tolist()],
        np.concatenate([np.full(n, np.nan), batch.values[kept]]),
        np.concatenate(
            [np.array([c[2] for c in converted], dtype=np.int64), batch.timestamps[kept]]
        ),
        batch.metadata,
        [(base, labels) for base, labels, _, _ in converted]
        + [batch.labels[i] for i in kept.tolist()],
        column,
    )
