"""Selected /proc/vmstat counters (`--collector.vmstat.fields`), untyped as node_exporter has them."""

from __future__ import annotations

from prometheus_client.core import Metric, UntypedMetricFamily

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths
from vigil.model.regex import Anchor, Regex


class VmstatCollector:
    name = "vmstat"

    def __init__(self, paths: HostPaths, fields: str) -> None:
        self._path = paths.proc("vmstat")
        self._fields = Regex(fields, Anchor.SEARCH)
        self._wanted: dict[str, bool] = {}  # the regex runs once per field name, not per scrape

    def collect(self) -> list[Metric]:
        families: list[Metric] = []
        wanted = self._wanted
        for line in read_text(self._path).splitlines():
            key, _, value = line.partition(" ")
            keep = wanted.get(key)
            if keep is None:
                keep = wanted[key] = self._fields.matches(key)
            if not keep:
                continue
            try:
                number = float(value)
            except ValueError:
                raise SourceError(self._path, f"invalid line {line!r}") from None
            families.append(
                UntypedMetricFamily(
                    "node_vmstat_" + key, f"/proc/vmstat information field {key}.", value=number
                )
            )
        return families
