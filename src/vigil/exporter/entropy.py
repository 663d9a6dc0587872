"""The kernel entropy pool from /proc/sys/kernel/random."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import read_number
from vigil.exporter._options import HostPaths


class EntropyCollector:
    name = "entropy"

    def __init__(self, paths: HostPaths) -> None:
        self._avail = paths.proc("sys", "kernel", "random", "entropy_avail")
        self._pool = paths.proc("sys", "kernel", "random", "poolsize")

    def collect(self) -> list[Metric]:
        return [
            GaugeMetricFamily(
                "node_entropy_available_bits",
                "Bits of available entropy.",
                value=read_number(self._avail),
            ),
            GaugeMetricFamily(
                "node_entropy_pool_size_bits",
                "Bits of entropy pool.",
                value=read_number(self._pool),
            ),
        ]
