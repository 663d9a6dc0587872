"""Block device I/O from /proc/diskstats, with udev's device properties (`--path.udev.data`)."""

from __future__ import annotations

import contextlib
import os

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths
from vigil.model.regex import Anchor, Regex

_SECTOR_BYTES = 512.0
_MS = 0.001

# (field index after major/minor/name, family, HELP, scale, counter?)
_STATS = (
    (0, "reads_completed_total", "The total number of reads completed successfully.", 1.0, True),
    (1, "reads_merged_total", "The total number of reads merged.", 1.0, True),
    (2, "read_bytes_total", "The total number of bytes read successfully.", _SECTOR_BYTES, True),
    (3, "read_time_seconds_total", "The total number of seconds spent by all reads.", _MS, True),
    (4, "writes_completed_total", "The total number of writes completed successfully.", 1.0, True),
    (5, "writes_merged_total", "The number of writes merged.", 1.0, True),
    (
        6,
        "written_bytes_total",
        "The total number of bytes written successfully.",
        _SECTOR_BYTES,
        True,
    ),
    (
        7,
        "write_time_seconds_total",
        "This is the total number of seconds spent by all writes.",
        _MS,
        True,
    ),
    (8, "io_now", "The number of I/Os currently in progress.", 1.0, False),
    (9, "io_time_seconds_total", "Total seconds spent doing I/Os.", _MS, True),
    (
        10,
        "io_time_weighted_seconds_total",
        "The weighted # of seconds spent doing I/Os.",
        _MS,
        True,
    ),
    (
        11,
        "discards_completed_total",
        "The total number of discards completed successfully.",
        1.0,
        True,
    ),
    (12, "discards_merged_total", "The total number of discards merged.", 1.0, True),
    (
        13,
        "discarded_sectors_total",
        "The total number of sectors discarded successfully.",
        1.0,
        True,
    ),
    (
        14,
        "discard_time_seconds_total",
        "This is the total number of seconds spent by all discards.",
        _MS,
        True,
    ),
    (
        15,
        "flush_requests_total",
        "The total number of flush requests completed successfully",
        1.0,
        True,
    ),
    (
        16,
        "flush_requests_time_seconds_total",
        "This is the total number of seconds spent by all flush requests.",
        _MS,
        True,
    ),
)

# udev property -> (family suffix, HELP) for ATA disks
_ATA = {
    "ID_ATA_WRITE_CACHE": ("ata_write_cache", "ATA disk has a write cache."),
    "ID_ATA_WRITE_CACHE_ENABLED": (
        "ata_write_cache_enabled",
        "ATA disk has its write cache enabled.",
    ),
    "ID_ATA_ROTATION_RATE_RPM": (
        "ata_rotation_rate_rpm",
        "ATA disk rotation rate in RPMs (0 for SSDs).",
    ),
}


def parse_udev(text: str) -> dict[str, str]:
    """The `E:KEY=VALUE` properties of a udev database entry."""
    props: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("E:"):
            key, _, value = line[2:].partition("=")
            props[key] = value
    return props


class DiskstatsCollector:
    name = "diskstats"

    def __init__(self, paths: HostPaths, device_exclude: str) -> None:
        self._path = paths.proc("diskstats")
        # Checked once, as node_exporter does: without a udev database the labels stay empty.
        self._udev = paths.udev_data if os.path.isdir(paths.udev_data) else None
        self._exclude = Regex(device_exclude, Anchor.SEARCH) if device_exclude else None
        self._included: dict[str, bool] = {}

    def _include(self, device: str) -> bool:
        keep = self._included.get(device)
        if keep is None:
            keep = self._included[device] = not (self._exclude and self._exclude.matches(device))
        return keep

    def collect(self) -> list[Metric]:
        stats = [
            (
                index,
                (CounterMetricFamily if counter else GaugeMetricFamily)(
                    "node_disk_" + name, help_text, labels=["device"]
                ),
                scale,
            )
            for index, name, help_text, scale, counter in _STATS
        ]
        info = GaugeMetricFamily(
            "node_disk_info",
            "Info of /sys/block/<block_device>.",
            labels=["device", "major", "minor", "path", "wwn", "model", "serial", "revision"],
        )
        fs_info = GaugeMetricFamily(
            "node_disk_filesystem_info",
            "Info about disk filesystem.",
            labels=["device", "type", "usage", "uuid", "version"],
        )
        dm_info = GaugeMetricFamily(
            "node_disk_device_mapper_info",
            "Info about disk device mapper.",
            labels=["device", "name", "uuid", "vg_name", "lv_name", "lv_layer"],
        )
        ata = {
            key: GaugeMetricFamily("node_disk_" + name, help_text, labels=["device"])
            for key, (name, help_text) in _ATA.items()
        }
        for line in read_text(self._path).splitlines():
            fields = line.split()
            if len(fields) < 14:
                if fields:
                    raise SourceError(self._path, f"expected at least 14 fields in {line!r}")
                continue
            major, minor, device = fields[0], fields[1], fields[2]
            if not self._include(device):
                continue
            try:
                values = [float(v) for v in fields[3:]]
            except ValueError:
                raise SourceError(self._path, f"invalid line {line!r}") from None
            for index, family, scale in stats:
                if index < len(values):
                    family.add_metric([device], values[index] * scale)
            props = self._udev_properties(major, minor)
            serial = props.get("SCSI_IDENT_SERIAL") or props.get("ID_SERIAL_SHORT", "")
            info.add_metric(
                [
                    device,
                    major,
                    minor,
                    props.get("ID_PATH", ""),
                    props.get("ID_WWN", ""),
                    props.get("ID_MODEL", ""),
                    serial,
                    props.get("ID_REVISION", ""),
                ],
                1,
            )
            if props.get("ID_FS_TYPE"):
                fs_info.add_metric(
                    [
                        device,
                        props["ID_FS_TYPE"],
                        props.get("ID_FS_USAGE", ""),
                        props.get("ID_FS_UUID", ""),
                        props.get("ID_FS_VERSION", ""),
                    ],
                    1,
                )
            if props.get("DM_NAME"):
                dm_info.add_metric(
                    [
                        device,
                        props["DM_NAME"],
                        props.get("DM_UUID", ""),
                        props.get("DM_VG_NAME", ""),
                        props.get("DM_LV_NAME", ""),
                        props.get("DM_LV_LAYER", ""),
                    ],
                    1,
                )
            if props.get("ID_ATA"):
                for key, family in ata.items():
                    with contextlib.suppress(KeyError, ValueError):
                        family.add_metric([device], float(props[key]))
        families: list[Metric] = [info, fs_info, dm_info]
        families.extend(family for _, family, _ in stats)
        families.extend(ata.values())
        return [family for family in families if family.samples]

    def _udev_properties(self, major: str, minor: str) -> dict[str, str]:
        if self._udev is None:
            return {}
        try:
            return parse_udev(read_text(os.path.join(self._udev, f"b{major}:{minor}")))
        except OSError:
            return {}
