"""Whether SELinux is on, and its configured and current enforcement modes, as node_exporter 1.5
reports them through go-selinux: enabled when selinuxfs is mounted on {sysfs}/fs/selinux and this
process runs under a label other than "kernel"; modes 1 enforcing, 0 permissive, -1 disabled."""

from __future__ import annotations

import re

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._options import HostPaths

_MODES = {"enforcing": 1.0, "permissive": 0.0}
_DISABLED = -1.0
_ATOI = re.compile(rb"[+-]?[0-9]+")


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def config_value(text: bytes, key: bytes) -> bytes | None:
    """go-selinux's reading of /etc/selinux/config: KEY=value lines, `#` and `;` comments,
    surrounding double quotes dropped; the first line with the key wins."""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[:1] in (b"#", b";"):
            continue
        name, sep, value = line.partition(b"=")
        if sep and name == key:
            return value.strip(b'"')
    return None


class SelinuxCollector:
    name = "selinux"

    def __init__(self, paths: HostPaths) -> None:
        self._enforce = paths.sys("fs", "selinux", "enforce")
        self._label = paths.proc("self", "attr", "current")
        self._config = paths.root("etc/selinux/config")

    def _config_mode(self) -> float:
        text = _read(self._config)
        value = config_value(text, b"SELINUX") if text is not None else None
        return _MODES.get(value.decode("utf-8", "replace"), _DISABLED) if value else _DISABLED

    def collect(self) -> list[Metric]:
        help_enabled = "SELinux is enabled, 1 is true, 0 is false"
        enforce = _read(self._enforce)  # None: selinuxfs is not mounted
        label = _read(self._label)
        if enforce is None or (label is not None and label.strip(b"\x00\n") == b"kernel"):
            return [GaugeMetricFamily("node_selinux_enabled", help_enabled, value=0.0)]
        return [
            GaugeMetricFamily("node_selinux_enabled", help_enabled, value=1.0),
            GaugeMetricFamily(
                "node_selinux_config_mode",
                "Configured SELinux enforcement mode",
                value=self._config_mode(),
            ),
            GaugeMetricFamily(
                "node_selinux_current_mode",
                "Current SELinux enforcement mode",
                value=float(enforce) if _ATOI.fullmatch(enforce) else _DISABLED,
            ),
        ]
