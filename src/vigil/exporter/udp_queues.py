"""Bytes queued in UDP sockets' send and receive buffers, summed over /proc/net/udp and udp6
(node_exporter 1.5's udp_queues collector)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import NoDataError, SourceError, read_text
from vigil.exporter._options import HostPaths

_MIN_FIELDS = 10  # sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode


def queue_totals(path: str, text: str) -> tuple[int, int]:
    """(tx, rx) bytes over every socket line; the `tx_queue:rx_queue` column is hex."""
    tx = rx = 0
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < _MIN_FIELDS:
            raise SourceError(path, f"{len(fields)} fields, at least {_MIN_FIELDS} expected")
        try:
            tx_queue, rx_queue = fields[4].split(":")
            tx, rx = tx + int(tx_queue, 16), rx + int(rx_queue, 16)
        except ValueError:
            raise SourceError(path, f"invalid tx_queue:rx_queue {fields[4]!r}") from None
    return tx, rx


class UDPQueuesCollector:
    name = "udp_queues"

    def __init__(self, paths: HostPaths) -> None:
        self._files = (("v4", paths.proc("net", "udp")), ("v6", paths.proc("net", "udp6")))

    def collect(self) -> list[Metric]:
        family = GaugeMetricFamily(
            "node_udp_queues",
            "Number of allocated memory in the kernel for UDP datagrams in bytes.",
            labels=["queue", "ip"],
        )
        for ip, path in self._files:
            try:
                text = read_text(path)
            except FileNotFoundError:  # no IPv4 or no IPv6 on this host
                continue
            tx, rx = queue_totals(path, text)
            family.add_metric(["tx", ip], float(tx))
            family.add_metric(["rx", ip], float(rx))
        if not family.samples:
            raise NoDataError("neither /proc/net/udp nor /proc/net/udp6 exists")
        return [family]
