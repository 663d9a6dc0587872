"""Selected protocol counters (`--collector.netstat.fields`) from /proc/net/netstat, /proc/net/snmp
and /proc/net/snmp6, as node_netstat_<Protocol>_<Field> (untyped, as node_exporter has them)."""

from __future__ import annotations

import contextlib

from prometheus_client.core import Metric, UntypedMetricFamily

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths
from vigil.model.regex import Anchor, Regex


def parse_paired(path: str, text: str, into: dict[str, str]) -> None:
    """`Proto: Name1 Name2` followed by `Proto: v1 v2`, for each protocol."""
    lines = text.splitlines()
    for i in range(0, len(lines) - 1, 2):
        names = lines[i].split()
        values = lines[i + 1].split()
        if len(names) != len(values) or not names or names[0] != values[0]:
            raise SourceError(path, f"mismatched header and values at line {i + 1}")
        protocol = names[0].rstrip(":")
        for name, value in zip(names[1:], values[1:], strict=True):
            into[protocol + "_" + name] = value


def parse_snmp6(text: str, into: dict[str, str]) -> None:
    """`Ip6InReceives 12` lines: the protocol ends at the first '6'."""
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        key = parts[0]
        six = key.find("6")
        if six != -1:
            into[key[: six + 1] + "_" + key[six + 1 :]] = parts[1]


class NetstatCollector:
    name = "netstat"

    def __init__(self, paths: HostPaths, fields: str) -> None:
        self._netstat = paths.proc("net", "netstat")
        self._snmp = paths.proc("net", "snmp")
        self._snmp6 = paths.proc("net", "snmp6")
        self._fields = Regex(fields, Anchor.SEARCH)
        self._wanted: dict[str, bool] = {}  # the regex runs once per key, not per scrape

    def collect(self) -> list[Metric]:
        stats: dict[str, str] = {}
        parse_paired(self._netstat, read_text(self._netstat), stats)
        parse_paired(self._snmp, read_text(self._snmp), stats)
        with contextlib.suppress(FileNotFoundError):  # IPv6 disabled
            parse_snmp6(read_text(self._snmp6), stats)
        families: list[Metric] = []
        wanted = self._wanted
        for key, value in stats.items():
            keep = wanted.get(key)
            if keep is None:
                keep = wanted[key] = self._fields.matches(key)
            if not keep:
                continue
            try:
                number = float(value)
            except ValueError:
                raise SourceError(self._netstat, f"invalid value {value!r} for {key}") from None
            families.append(
                UntypedMetricFamily(
                    "node_netstat_" + key,
                    "Statistic " + key.replace("_", "", 1) + ".",
                    value=number,
                )
            )
        return families
