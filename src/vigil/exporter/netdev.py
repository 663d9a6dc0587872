"""Per-interface traffic counters from /proc/net/dev (plus rx_nohandler from sysfs, which
node_exporter 1.5 gets over netlink), as node_network_{receive,transmit}_<stat>_total."""

from __future__ import annotations

import contextlib

from prometheus_client.core import CounterMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths
from vigil.model.regex import Anchor, Regex

_RECEIVE = ("bytes", "packets", "errs", "drop", "fifo", "frame", "compressed", "multicast")
_TRANSMIT = ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
_STATS = (
    *(f"receive_{name}" for name in _RECEIVE),
    *(f"transmit_{name}" for name in _TRANSMIT),
)


class NetdevCollector:
    name = "netdev"

    def __init__(self, paths: HostPaths, device_exclude: str) -> None:
        self._paths = paths
        self._path = paths.proc("net", "dev")
        self._exclude = Regex(device_exclude, Anchor.SEARCH) if device_exclude else None
        self._included: dict[str, bool] = {}

    def _include(self, device: str) -> bool:
        keep = self._included.get(device)
        if keep is None:
            keep = self._included[device] = not (self._exclude and self._exclude.matches(device))
        return keep

    def collect(self) -> list[Metric]:
        families = {
            stat: CounterMetricFamily(
                f"node_network_{stat}_total", f"Network device statistic {stat}.", labels=["device"]
            )
            for stat in (*_STATS, "receive_nohandler")
        }
        for line in read_text(self._path).splitlines()[2:]:
            device, sep, rest = line.partition(":")
            device = device.strip()
            values = rest.split()
            if not sep or len(values) != 16:
                raise SourceError(self._path, f"invalid line {line!r}")
            if not self._include(device):
                continue
            for stat, value in zip(_STATS, values, strict=True):
                families[stat].add_metric([device], float(value))
            nohandler = self._paths.sys("class", "net", device, "statistics", "rx_nohandler")
            # Old kernels and some virtual devices have no such counter.
            with contextlib.suppress(OSError, ValueError):
                families["receive_nohandler"].add_metric([device], float(read_text(nohandler)))
        return [family for family in families.values() if family.samples]
