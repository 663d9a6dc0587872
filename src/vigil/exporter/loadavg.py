"""node_load1/5/15 from /proc/loadavg."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths


class LoadavgCollector:
    name = "loadavg"

    def __init__(self, paths: HostPaths) -> None:
        self._path = paths.proc("loadavg")

    def collect(self) -> list[Metric]:
        fields = read_text(self._path).split()
        try:
            loads = [float(v) for v in fields[:3]]
        except ValueError:
            raise SourceError(
                self._path, f"expected three load averages, got {fields[:3]}"
            ) from None
        if len(loads) != 3:
            raise SourceError(self._path, f"expected three load averages, got {fields}")
        return [
            GaugeMetricFamily(f"node_load{window}", f"{window}m load average.", value=load)
            for window, load in zip((1, 5, 15), loads, strict=True)
        ]
