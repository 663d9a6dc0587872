"""node_memory_* from /proc/meminfo: one gauge per field, kB fields in bytes with a `_bytes` suffix."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths


def meminfo_key(field: str) -> str:
    """`Active(anon):` -> `Active_anon`, as node_exporter names it."""
    key = field[:-1] if field.endswith(":") else field
    if "(" in key:
        head, _, rest = key.partition("(")
        key = head + "_" + rest.rstrip(")")
    return key


class MeminfoCollector:
    name = "meminfo"

    def __init__(self, paths: HostPaths) -> None:
        self._path = paths.proc("meminfo")

    def collect(self) -> list[Metric]:
        families: list[Metric] = []
        for line in read_text(self._path).splitlines():
            parts = line.split()
            if not parts:
                continue
            try:
                value = float(parts[1])
            except (IndexError, ValueError):
                raise SourceError(self._path, f"invalid line {line!r}") from None
            key = meminfo_key(parts[0])
            if len(parts) == 3:
                value *= 1024
                key += "_bytes"
            elif len(parts) != 2:
                raise SourceError(self._path, f"invalid line {line!r}")
            families.append(
                GaugeMetricFamily(
                    "node_memory_" + key, f"Memory information field {key}.", value=value
                )
            )
        return families
