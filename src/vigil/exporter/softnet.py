"""Per-CPU packet processing counters from /proc/net/softnet_stat (one line per CPU, hex
columns), as node_exporter 1.5's softnet collector reports them."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths

_MIN_COLUMNS = 9  # Linux 2.6.23's layout; later kernels append columns


class SoftnetCollector:
    name = "softnet"

    def __init__(self, paths: HostPaths) -> None:
        self._path = paths.proc("net", "softnet_stat")

    def collect(self) -> list[Metric]:
        processed = CounterMetricFamily(
            "node_softnet_processed_total", "Number of processed packets", labels=["cpu"]
        )
        dropped = CounterMetricFamily(
            "node_softnet_dropped_total", "Number of dropped packets", labels=["cpu"]
        )
        squeezed = CounterMetricFamily(
            "node_softnet_times_squeezed_total",
            "Number of times processing packets ran out of quota",
            labels=["cpu"],
        )
        # node_exporter 1.5 numbers the lines: the label is the line's index, not a CPU id.
        for cpu, line in enumerate(read_text(self._path).splitlines()):
            columns = line.split()
            if len(columns) < _MIN_COLUMNS:
                raise SourceError(
                    self._path, f"{len(columns)} columns, at least {_MIN_COLUMNS} expected"
                )
            try:
                values = [int(column, 16) for column in columns[:3]]
            except ValueError:
                raise SourceError(self._path, f"invalid line {line!r}") from None
            if any(value >> 32 for value in values):
                raise SourceError(self._path, f"value out of uint32 range in {line!r}")
            label = [str(cpu)]
            processed.add_metric(label, float(values[0]))
            dropped.add_metric(label, float(values[1]))
            squeezed.add_metric(label, float(values[2]))
        return [processed, dropped, squeezed]
