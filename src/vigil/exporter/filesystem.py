"""Size, free space and inodes of each mounted filesystem (from the mount table of PID 1 and
statvfs), with node_exporter's mount-point and fs-type exclusions."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import read_text
from vigil.exporter._options import HostPaths
from vigil.model.regex import Anchor, Regex

log = logging.getLogger("vigil.exporter.filesystem")

StatFS = Callable[[str], os.statvfs_result]

_LABELS = ["device", "fstype", "mountpoint"]


def unescape_mount(field: str) -> str:
    """The mount table writes space and tab in paths as octal escapes."""
    return field.replace("\\040", " ").replace("\\011", "\t")


class FilesystemCollector:
    name = "filesystem"

    def __init__(
        self,
        paths: HostPaths,
        mount_points_exclude: str,
        fs_types_exclude: str,
        statfs: StatFS = os.statvfs,
    ) -> None:
        self._paths = paths
        self._mount_points_exclude = Regex(mount_points_exclude, Anchor.SEARCH)
        self._fs_types_exclude = Regex(fs_types_exclude, Anchor.SEARCH)
        self._statfs = statfs

    def _mounts(self) -> str:
        try:
            return read_text(self._paths.proc("1", "mounts"))
        except FileNotFoundError:  # hidepid or no PID 1 in this mount namespace
            return read_text(self._paths.proc("mounts"))

    def collect(self) -> list[Metric]:
        def family(suffix: str, help_text: str) -> GaugeMetricFamily:
            return GaugeMetricFamily("node_filesystem_" + suffix, help_text, labels=_LABELS)

        size = family("size_bytes", "Filesystem size in bytes.")
        free = family("free_bytes", "Filesystem free space in bytes.")
        avail = family("avail_bytes", "Filesystem space available to non-root users in bytes.")
        files = family("files", "Filesystem total file nodes.")
        files_free = family("files_free", "Filesystem total free file nodes.")
        readonly = family("readonly", "Filesystem read-only status.")
        device_error = family(
            "device_error",
            "Whether an error occurred while getting statistics for the given device.",
        )
        seen: set[tuple[str, str, str]] = set()
        for line in self._mounts().splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            device, fstype, options = parts[0], parts[2], parts[3]
            mountpoint = self._paths.strip_root(unescape_mount(parts[1]))
            if self._mount_points_exclude.matches(mountpoint) or self._fs_types_exclude.matches(
                fstype
            ):
                continue
            key = (device, mountpoint, fstype)
            if key in seen:
                continue
            seen.add(key)
            labels = [device, fstype, mountpoint]
            try:
                st = self._statfs(self._paths.root(mountpoint))
            except OSError as err:
                log.debug("statfs %s (%s) failed: %s", mountpoint, device, err)
                device_error.add_metric(labels, 1)
                continue
            device_error.add_metric(labels, 0)
            size.add_metric(labels, float(st.f_blocks * st.f_bsize))
            free.add_metric(labels, float(st.f_bfree * st.f_bsize))
            avail.add_metric(labels, float(st.f_bavail * st.f_bsize))
            files.add_metric(labels, float(st.f_files))
            files_free.add_metric(labels, float(st.f_ffree))
            readonly.add_metric(labels, 1.0 if "ro" in options.split(",") else 0.0)
        families = (size, free, avail, files, files_free, readonly, device_error)
        return [f for f in families if f.samples]
