"""Allocated and maximum file handles from /proc/sys/fs/file-nr."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths


class FilefdCollector:
    name = "filefd"

    def __init__(self, paths: HostPaths) -> None:
        self._path = paths.proc("sys", "fs", "file-nr")

    def collect(self) -> list[Metric]:
        fields = read_text(self._path).split()
        try:
            allocated, _, maximum = (float(v) for v in fields)
        except ValueError:
            raise SourceError(self._path, f"expected 3 numbers, got {fields}") from None
        return [
            GaugeMetricFamily(
                "node_filefd_allocated", "File descriptor statistics: allocated.", value=allocated
            ),
            GaugeMetricFamily(
                "node_filefd_maximum", "File descriptor statistics: maximum.", value=maximum
            ),
        ]
