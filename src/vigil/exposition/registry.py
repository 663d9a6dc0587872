"""Read a prometheus_client registry (vigil's self-metrics, the agent's collectors) as families."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

from vigil.exposition._types import Exemplar, MetricFamily, MetricType, Sample
from vigil.model import Labels


def families_from_registry(registry: Any) -> Iterator[MetricFamily]:
    """Yield every family a `prometheus_client` registry (or collector) collects."""
    for metric in registry.collect():
        samples = [
            Sample(
                s.name,
                _labels(tuple(s.labels.items())),
                float(s.value),
                None if s.timestamp is None else round(float(s.timestamp) * 1000),
                None
                if s.exemplar is None
                else Exemplar(
                    Labels.from_dict(s.exemplar.labels),
                    float(s.exemplar.value),
                    None if s.exemplar.timestamp is None else float(s.exemplar.timestamp),
                ),
            )
            for s in metric.samples
        ]
        yield MetricFamily(
            metric.name,
            MetricType(metric.type),
            metric.documentation,
            metric.unit or None,
            samples,
        )


@functools.lru_cache(maxsize=1 << 14)
def _labels(items: tuple[tuple[str, str], ...]) -> Labels:
    """Self-metrics repeat the same label sets on every scrape."""
    return Labels(sorted(items))
