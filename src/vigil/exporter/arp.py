"""ARP table entries per device from /proc/net/arp, as node_exporter 1.5 counts them (every row,
complete or not), with its `--collector.arp.device-include` / `-exclude` filter."""

from __future__ import annotations

from collections import Counter

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths
from vigil.model.regex import Anchor, Regex

_HEADER_WIDTH = 9  # "IP address  HW type  Flags  HW address  Mask  Device"
_ROW_WIDTH = 6


class ARPCollector:
    name = "arp"

    def __init__(self, paths: HostPaths, device_include: str, device_exclude: str) -> None:
        self._path = paths.proc("net", "arp")
        self._include = Regex(device_include, Anchor.SEARCH) if device_include else None
        self._exclude = Regex(device_exclude, Anchor.SEARCH) if device_exclude else None

    def _ignored(self, device: str) -> bool:
        return bool(
            (self._exclude and self._exclude.matches(device))
            or (self._include and not self._include.matches(device))
        )

    def collect(self) -> list[Metric]:
        entries: Counter[str] = Counter()
        for line in read_text(self._path).splitlines():
            columns = line.split()
            if len(columns) == _ROW_WIDTH:
                entries[columns[5]] += 1
            elif columns and len(columns) != _HEADER_WIDTH:
                raise SourceError(
                    self._path, f"{len(columns)} columns, {_ROW_WIDTH} expected in {line!r}"
                )
        family = GaugeMetricFamily("node_arp_entries", "ARP entries by device", labels=["device"])
        for device, count in sorted(entries.items()):
            if not self._ignored(device):
                family.add_metric([device], float(count))
        return [family]
