"""Host collectors: node_exporter 1.5's metrics for a Linux host, read straight from /proc and /sys.

`build_host_collectors` turns the enabled collector names into collectors; `ScrapeCollector`
runs them per scrape with node_exporter's `node_scrape_collector_*` bookkeeping.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from vigil.exporter._collector import (
    HostCollector,
    NoDataError,
    ScrapeCollector,
    SourceError,
)
from vigil.exporter._options import ExporterOptions, HostPaths
from vigil.exporter.arp import ARPCollector
from vigil.exporter.conntrack import ConntrackCollector
from vigil.exporter.cpu import CPUCollector
from vigil.exporter.diskstats import DiskstatsCollector
from vigil.exporter.entropy import EntropyCollector
from vigil.exporter.filefd import FilefdCollector
from vigil.exporter.filesystem import FilesystemCollector
from vigil.exporter.hwmon import HwmonCollector
from vigil.exporter.loadavg import LoadavgCollector
from vigil.exporter.meminfo import MeminfoCollector
from vigil.exporter.netclass import NetclassCollector
from vigil.exporter.netdev import NetdevCollector
from vigil.exporter.netstat import NetstatCollector
from vigil.exporter.os_release import OSReleaseCollector
from vigil.exporter.pressure import PressureCollector
from vigil.exporter.selinux import SelinuxCollector
from vigil.exporter.sockstat import SockstatCollector
from vigil.exporter.softnet import SoftnetCollector
from vigil.exporter.stat import StatCollector
from vigil.exporter.systemtime import TimeCollector
from vigil.exporter.textfile import TextfileCollector
from vigil.exporter.timex import TimexCollector, system_adjtimex
from vigil.exporter.udp_queues import UDPQueuesCollector
from vigil.exporter.uname import UnameCollector, system_uname
from vigil.exporter.vmstat import VmstatCollector

Clock = Callable[[], float]
Factory = Callable[[ExporterOptions, Clock], HostCollector]

# node_exporter's collector names -> how to build one; all of these are enabled by default in 1.5.
FACTORIES: dict[str, Factory] = {
    "arp": lambda o, _: ARPCollector(o.paths, o.arp_device_include, o.arp_device_exclude),
    "conntrack": lambda o, _: ConntrackCollector(o.paths),
    "cpu": lambda o, _: CPUCollector(o.paths),
    "diskstats": lambda o, _: DiskstatsCollector(o.paths, o.diskstats_device_exclude),
    "entropy": lambda o, _: EntropyCollector(o.paths),
    "filefd": lambda o, _: FilefdCollector(o.paths),
    "filesystem": lambda o, _: FilesystemCollector(
        o.paths, o.filesystem_mount_points_exclude, o.filesystem_fs_types_exclude, os.statvfs
    ),
    "hwmon": lambda o, _: HwmonCollector(o.paths),
    "loadavg": lambda o, _: LoadavgCollector(o.paths),
    "meminfo": lambda o, _: MeminfoCollector(o.paths),
    "netclass": lambda o, _: NetclassCollector(
        o.paths, o.netclass_ignored_devices, o.netclass_ignore_invalid_speed
    ),
    "netdev": lambda o, _: NetdevCollector(o.paths, o.netdev_device_exclude),
    "netstat": lambda o, _: NetstatCollector(o.paths, o.netstat_fields),
    "os": lambda o, _: OSReleaseCollector(o.paths),
    "pressure": lambda o, _: PressureCollector(o.paths),
    "selinux": lambda o, _: SelinuxCollector(o.paths),
    "sockstat": lambda o, _: SockstatCollector(o.paths),
    "softnet": lambda o, _: SoftnetCollector(o.paths),
    "stat": lambda o, _: StatCollector(o.paths),
    "textfile": lambda o, _: TextfileCollector(o.textfile_directory),
    "time": lambda o, clock: TimeCollector(o.paths, clock),
    "timex": lambda o, _: TimexCollector(system_adjtimex()),
    "udp_queues": lambda o, _: UDPQueuesCollector(o.paths),
    "uname": lambda o, _: UnameCollector(system_uname(o.paths)),
    "vmstat": lambda o, _: VmstatCollector(o.paths, o.vmstat_fields),
}
DEFAULT_ENABLED = frozenset(FACTORIES)


def build_host_collectors(
    names: Iterable[str], options: ExporterOptions, clock: Clock
) -> list[HostCollector]:
    """The named collectors, in name order (node_exporter's order in `node_scrape_collector_*`)."""
    unknown = sorted(set(names) - FACTORIES.keys())
    if unknown:
        raise ValueError(f"unknown collectors {unknown}; known: {sorted(FACTORIES)}")
    return [FACTORIES[name](options, clock) for name in sorted(set(names))]


__all__ = [
    "DEFAULT_ENABLED",
    "FACTORIES",
    "Clock",
    "ExporterOptions",
    "HostCollector",
    "HostPaths",
    "NoDataError",
    "ScrapeCollector",
    "SourceError",
    "build_host_collectors",
]
