"""The scrape stage's own counters, under Prometheus's names: samples a target sent that the
storage refused for their time, by reason."""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter


class ScrapeMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry if registry is not None else CollectorRegistry()
        self.out_of_bounds = Counter(
            "prometheus_target_scrapes_sample_out_of_bounds",
            "Total number of samples rejected due to timestamp falling outside of the time bounds.",
            registry=registry,
        )
        self.out_of_order = Counter(
            "prometheus_target_scrapes_sample_out_of_order",
            "Total number of samples rejected due to not being out of the expected order.",
            registry=registry,
        )
        self.duplicate_timestamp = Counter(
            "prometheus_target_scrapes_sample_duplicate_timestamp",
            "Total number of samples rejected due to duplicate timestamps but different values.",
            registry=registry,
        )

    def count(self, refused: Mapping[str, int]) -> None:
        """Count one commit's refusals (reasons as the storage names them)."""
        self.out_of_bounds.inc(
            refused.get("out_of_bounds", 0) + refused.get("too_far_in_future", 0)
        )
        self.out_of_order.inc(refused.get("out_of_order", 0))
        self.duplicate_timestamp.inc(refused.get("duplicate", 0))
