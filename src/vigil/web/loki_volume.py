"""Loki's `index/volume` and `index/volume_range`: bytes of log lines per group of streams,
a group being a stream's values of the target labels (by default the labels the selector
names). `volume` sums a whole range, newest-biggest first; `volume_range` sums each step's
window (t - step, t], as `sum by (targets) (bytes_over_time({...}[step]))` would."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.logs import LogQuerier
from vigil.model import Labels, Matcher
from vigil.web.loki_params import Bounds

DEFAULT_VOLUME_LIMIT = 100


@dataclass(frozen=True, slots=True)
class VolumeQuery:
    matchers: Sequence[Matcher]
    targets: tuple[str, ...]
    limit: int = DEFAULT_VOLUME_LIMIT


@dataclass(slots=True)
class _Group:
    bytes: npt.NDArray[np.int64]
    entries: npt.NDArray[np.int64]
    total: int = 0
    labels: Labels = field(default_factory=Labels)


def _group_of(labels: Labels, targets: tuple[str, ...]) -> Labels:
    return Labels.from_pairs((name, value) for name, value in labels if name in targets)


def seconds(t_ns: int) -> int | float:
    """A timestamp as Loki prints it in a sample: Unix seconds, with milliseconds if any."""
    ms = t_ns // 1_000_000
    return ms // 1000 if ms % 1000 == 0 else ms / 1000


def volume(querier: LogQuerier, query: VolumeQuery, end_ns: int) -> list[dict[str, object]]:
    totals: dict[Labels, int] = {}
    for batch in querier.select(query.matchers):
        group = _group_of(batch.labels, query.targets)
        totals[group] = totals.get(group, 0) + int(batch.lines.sizes().sum())
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))[: query.limit]
    at = seconds(end_ns)
    return [{"metric": dict(group), "value": [at, str(size)]} for group, size in ranked]


def volume_range(
    querier: LogQuerier, query: VolumeQuery, span: Bounds, step_ns: int
) -> list[dict[str, object]]:
    points = (span.end_ns - span.start_ns) // step_ns + 1
    groups: dict[Labels, _Group] = {}
    for batch in querier.select(query.matchers):
        key = _group_of(batch.labels, query.targets)
        group = groups.get(key)
        if group is None:
            zeros = np.zeros(points, dtype=np.int64)
            group = groups[key] = _Group(zeros, zeros.copy(), labels=key)
        # The point t_k = start + k*step counts the entries in (t_k - step, t_k].
        k = -((span.start_ns - batch.timestamps) // step_ns)
        keep = (k >= 0) & (k < points)
        sizes = batch.lines.sizes()[keep]
        group.bytes += np.bincount(k[keep], weights=sizes, minlength=points).astype(np.int64)
        group.entries += np.bincount(k[keep], minlength=points)
        group.total += int(sizes.sum())
    ranked = sorted(groups.values(), key=lambda g: (-g.total, g.labels))[: query.limit]
    result: list[dict[str, object]] = []
    for group in ranked:
        present = np.flatnonzero(group.entries)
        times = (span.start_ns + present * step_ns).tolist()
        values = group.bytes[present].tolist()
        result.append(
            {
                "metric": dict(group.labels),
                "values": [[seconds(t), str(v)] for t, v in zip(times, values, strict=True)],
            }
        )
    return result
