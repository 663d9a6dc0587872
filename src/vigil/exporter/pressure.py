"""Pressure stall information (PSI) from /proc/pressure/{cpu,io,memory}, in seconds."""

from __future__ import annotations

import errno

from prometheus_client.core import CounterMetricFamily, Metric

from vigil.exporter._collector import NoDataError, SourceError, read_text
from vigil.exporter._options import HostPaths

# (resource, line kind) -> (family, HELP); the cpu "full" line is not exported (node_exporter 1.5).
_FAMILIES = {
    ("cpu", "some"): (
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    ("io", "some"): (
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    ("io", "full"): (
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    ("memory", "some"): (
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    ("memory", "full"): (
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
}


class PressureCollector:
    name = "pressure"

    def __init__(self, paths: HostPaths) -> None:
        self._paths = paths

    def collect(self) -> list[Metric]:
        families: list[Metric] = []
        for resource in ("cpu", "io", "memory"):
            path = self._paths.proc("pressure", resource)
            try:
                text = read_text(path)
            except FileNotFoundError:
                raise NoDataError(
                    f"{path} is missing: pressure information needs Linux >= 4.20 with CONFIG_PSI"
                ) from None
            except OSError as err:
                # PSI compiled in but disabled at boot (psi=0) reads as EOPNOTSUPP.
                if err.errno == errno.EOPNOTSUPP:
                    raise NoDataError(f"{path}: {err.strerror}") from None
                raise
            for line in text.splitlines():
                kind, _, rest = line.partition(" ")
                spec = _FAMILIES.get((resource, kind))
                if spec is None:
                    continue
                total = rest.rpartition("total=")[2]
                try:
                    seconds = float(total) / 1e6
                except ValueError:
                    raise SourceError(path, f"invalid line {line!r}") from None
                families.append(CounterMetricFamily(spec[0], spec[1], value=seconds))
        return families
