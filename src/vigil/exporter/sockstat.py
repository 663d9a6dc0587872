"""Socket counts per protocol from /proc/net/sockstat and /proc/net/sockstat6."""

from __future__ import annotations

import resource

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import NoDataError, SourceError, read_text
from vigil.exporter._options import HostPaths

_FIELDS = ("inuse", "orphan", "tw", "alloc", "mem", "memory")


class SockstatCollector:
    name = "sockstat"

    def __init__(self, paths: HostPaths, page_size: int | None = None) -> None:
        self._v4 = paths.proc("net", "sockstat")
        self._v6 = paths.proc("net", "sockstat6")
        self._page_size = page_size or resource.getpagesize()

    def collect(self) -> list[Metric]:
        try:
            v4 = read_text(self._v4)
        except FileNotFoundError:
            raise NoDataError(f"{self._v4} is missing") from None
        families = self._parse(self._v4, v4)
        try:
            v6 = read_text(self._v6)
        except FileNotFoundError:  # IPv6 disabled
            return families
        families.extend(self._parse(self._v6, v6))
        return families

    def _parse(self, path: str, text: str) -> list[Metric]:
        families: list[Metric] = []
        for line in text.splitlines():
            head, _, rest = line.partition(":")
            parts = rest.split()
            if not parts:
                continue
            if len(parts) % 2:
                raise SourceError(path, f"odd number of fields in {line!r}")
            try:
                values = {parts[i]: float(parts[i + 1]) for i in range(0, len(parts), 2)}
            except ValueError:
                raise SourceError(path, f"invalid line {line!r}") from None
            if head == "sockets":
                if "used" in values:
                    families.append(
                        GaugeMetricFamily(
                            "node_sockstat_sockets_used",
                            "Number of IPv4 sockets in use.",
                            value=values["used"],
                        )
                    )
                continue
            for field in _FIELDS:
                if field in values:
                    families.append(_gauge(head, field, values[field]))
            if "mem" in values:
                families.append(_gauge(head, "mem_bytes", values["mem"] * self._page_size))
        return families


def _gauge(protocol: str, field: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(
        f"node_sockstat_{protocol}_{field}",
        f"Number of {protocol} sockets in state {field}.",
        value=value,
    )
