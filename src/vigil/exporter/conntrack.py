"""Connection tracking table size and statistics (/proc/sys/net/netfilter, /proc/net/stat)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import NoDataError, SourceError, read_number, read_text
from vigil.exporter._options import HostPaths

# (column in /proc/net/stat/nf_conntrack, family suffix, HELP); the kernel writes one line per CPU.
_STATS = (
    (2, "found", "Number of searched entries which were successful."),
    (4, "invalid", "Number of packets seen which can not be tracked."),
    (5, "ignore", "Number of packets seen which are already connected to a conntrack entry."),
    (8, "insert", "Number of entries inserted into the list."),
    (9, "insert_failed", "Number of entries for which list insertion was attempted but failed."),
    (10, "drop", "Number of packets dropped due to conntrack failure."),
    (
        11,
        "early_drop",
        "Number of dropped conntrack entries to make room for new ones, if maximum table size was reached.",
    ),
    (
        16,
        "search_restart",
        "Number of conntrack table lookups which had to be restarted due to hashtable resizes.",
    ),
)


class ConntrackCollector:
    name = "conntrack"

    def __init__(self, paths: HostPaths) -> None:
        self._count = paths.proc("sys", "net", "netfilter", "nf_conntrack_count")
        self._max = paths.proc("sys", "net", "netfilter", "nf_conntrack_max")
        self._stat = paths.proc("net", "stat", "nf_conntrack")

    def collect(self) -> list[Metric]:
        try:
            entries = read_number(self._count)
            limit = read_number(self._max)
            stat = read_text(self._stat)
        except FileNotFoundError as err:
            raise NoDataError(f"conntrack probably not loaded: {err}") from None
        families: list[Metric] = [
            GaugeMetricFamily(
                "node_nf_conntrack_entries",
                "Number of currently allocated flow entries for connection tracking.",
                value=entries,
            ),
            GaugeMetricFamily(
                "node_nf_conntrack_entries_limit",
                "Maximum size of connection tracking table.",
                value=limit,
            ),
        ]
        totals = [0] * 17
        for line in stat.splitlines()[1:]:
            fields = line.split()
            if not fields:
                continue
            if not 16 <= len(fields) <= 17:
                raise SourceError(self._stat, f"expected 16 or 17 fields, got {len(fields)}")
            try:
                for i, field in enumerate(fields):
                    totals[i] += int(field, 16)
            except ValueError:
                raise SourceError(self._stat, f"invalid line {line!r}") from None
        for column, suffix, help_text in _STATS:
            families.append(
                GaugeMetricFamily(
                    "node_nf_conntrack_stat_" + suffix, help_text, value=float(totals[column])
                )
            )
        return families
