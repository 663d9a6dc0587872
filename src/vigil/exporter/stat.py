"""Kernel activity from /proc/stat: boot time, context switches, forks, interrupts, runnable and
blocked processes."""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths

# /proc/stat key -> (family, HELP, counter?)
_FIELDS = {
    "intr": ("node_intr_total", "Total number of interrupts serviced.", True),
    "ctxt": ("node_context_switches_total", "Total number of context switches.", True),
    "processes": ("node_forks_total", "Total number of forks.", True),
    "btime": ("node_boot_time_seconds", "Node boot time, in unixtime.", False),
    "procs_running": ("node_procs_running", "Number of processes in runnable state.", False),
    "procs_blocked": (
        "node_procs_blocked",
        "Number of processes blocked waiting for I/O to complete.",
        False,
    ),
}
_ORDER = ("intr", "ctxt", "processes", "btime", "procs_running", "procs_blocked")


class StatCollector:
    name = "stat"

    def __init__(self, paths: HostPaths) -> None:
        self._path = paths.proc("stat")

    def collect(self) -> list[Metric]:
        found: dict[str, float] = {}
        for line in read_text(self._path).splitlines():
            key, _, rest = line.partition(" ")
            if key in _FIELDS:
                first = rest.split(None, 1)[0] if rest.strip() else ""
                try:
                    found[key] = float(first)
                except ValueError:
                    raise SourceError(self._path, f"invalid {key} line {line[:60]!r}") from None
        families: list[Metric] = []
        for key in _ORDER:
            if key not in found:
                raise SourceError(self._path, f"no {key} line")
            name, help_text, counter = _FIELDS[key]
            cls = CounterMetricFamily if counter else GaugeMetricFamily
            families.append(cls(name, help_text, value=found[key]))
        return families
