"""Where the host collectors read from and what they filter: node_exporter's `--path.*` and
`--collector.<name>.*` flags as one value, so tests point every collector at a recorded tree."""

from __future__ import annotations

import os.path
from dataclasses import dataclass, field

DEFAULT_MOUNT_POINTS_EXCLUDE = (
    "^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
)
DEFAULT_FS_TYPES_EXCLUDE = (
    "^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|"
    "iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|"
    "sysfs|tracefs)$"
)
DEFAULT_DISKSTATS_DEVICE_EXCLUDE = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"
DEFAULT_NETDEV_DEVICE_EXCLUDE = "^lo$"
DEFAULT_NETCLASS_IGNORED_DEVICES = "^$"
DEFAULT_NETSTAT_FIELDS = (
    "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)|"
    "TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts)|"
    "Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)|"
    "Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
)
DEFAULT_VMSTAT_FIELDS = "^(oom_kill|pgpg|pswp|pg.*fault).*"


@dataclass(frozen=True, slots=True)
class HostPaths:
    """The procfs, sysfs and rootfs mount points (`--path.procfs`, `--path.sysfs`, `--path.rootfs`)."""

    procfs: str = "/proc"
    sysfs: str = "/sys"
    rootfs: str = "/"
    udev_data: str = "/run/udev/data"

    def proc(self, *parts: str) -> str:
        return os.path.join(self.procfs, *parts)

    def sys(self, *parts: str) -> str:
        return os.path.join(self.sysfs, *parts)

    def root(self, path: str) -> str:
        """A host path as seen from here, under `--path.rootfs`."""
        return os.path.join(self.rootfs, path.lstrip("/"))

    def strip_root(self, path: str) -> str:
        """A mount point as the host sees it: the `--path.rootfs` prefix removed."""
        if self.rootfs == "/":
            return path
        stripped = path.removeprefix(self.rootfs.rstrip("/"))
        return stripped or "/"


@dataclass(frozen=True, slots=True)
class ExporterOptions:
    """Every setting a host collector reads; the defaults are node_exporter 1.5's (Debian build)."""

    paths: HostPaths = field(default_factory=HostPaths)
    filesystem_mount_points_exclude: str = DEFAULT_MOUNT_POINTS_EXCLUDE
    filesystem_fs_types_exclude: str = DEFAULT_FS_TYPES_EXCLUDE
    diskstats_device_exclude: str = DEFAULT_DISKSTATS_DEVICE_EXCLUDE
    netdev_device_exclude: str = DEFAULT_NETDEV_DEVICE_EXCLUDE
    arp_device_include: str = ""
    arp_device_exclude: str = ""
    netclass_ignored_devices: str = DEFAULT_NETCLASS_IGNORED_DEVICES
    netclass_ignore_invalid_speed: bool = False
    netstat_fields: str = DEFAULT_NETSTAT_FIELDS
    vmstat_fields: str = DEFAULT_VMSTAT_FIELDS
    textfile_directory: str = ""
