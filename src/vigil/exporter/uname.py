"""node_uname_info: the uname(2) fields as labels."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import read_text
from vigil.exporter._options import HostPaths


@dataclass(frozen=True, slots=True)
class Uname:
    sysname: str
    nodename: str
    release: str
    version: str
    machine: str
    domainname: str


def system_uname(paths: HostPaths) -> Callable[[], Uname]:
    """uname(2) of this host; Python's os.uname() has no domainname, so that comes from procfs."""
    domain_path = paths.proc("sys", "kernel", "domainname")

    def read() -> Uname:
        u = os.uname()
        domain = read_text(domain_path).strip()
        return Uname(u.sysname, u.nodename, u.release, u.version, u.machine, domain)

    return read


class UnameCollector:
    name = "uname"

    def __init__(self, uname: Callable[[], Uname]) -> None:
        self._uname = uname

    def collect(self) -> list[Metric]:
        u = self._uname()
        family = GaugeMetricFamily(
            "node_uname_info",
            "Labeled system information as provided by the uname system call.",
            labels=["sysname", "release", "version", "machine", "nodename", "domainname"],
        )
        family.add_metric([u.sysname, u.release, u.version, u.machine, u.nodename, u.domainname], 1)
        return [family]
