"""node_os_info / node_os_version from os-release(5) under `--path.rootfs` (collector `os`)."""

from __future__ import annotations

import os
import re

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import NoDataError, read_text
from vigil.exporter._options import HostPaths

_INFO_LABELS = (
    ("build_id", "BUILD_ID"),
    ("id", "ID"),
    ("id_like", "ID_LIKE"),
    ("image_id", "IMAGE_ID"),
    ("image_version", "IMAGE_VERSION"),
    ("name", "NAME"),
    ("pretty_name", "PRETTY_NAME"),
    ("variant", "VARIANT"),
    ("variant_id", "VARIANT_ID"),
    ("version", "VERSION"),
    ("version_codename", "VERSION_CODENAME"),
    ("version_id", "VERSION_ID"),
)
_MAJOR_MINOR = re.compile(r"^[0-9]+\.?[0-9]*")


def parse_os_release(text: str) -> dict[str, str]:
    """Shell-style KEY=VALUE lines; double quotes allow backslash escapes, single quotes none."""
    env: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quote, value = value[0], value[1:-1]
            if quote == '"':
                value = re.sub(r"\\(.)", r"\1", value)
        env[key.strip()] = value
    return env


class OSReleaseCollector:
    name = "os"

    def __init__(self, paths: HostPaths) -> None:
        self._candidates = (paths.root("etc/os-release"), paths.root("usr/lib/os-release"))
        self._cached: tuple[str, int, dict[str, str]] | None = None

    def _release(self) -> dict[str, str]:
        for path in self._candidates:
            try:
                mtime = os.stat(path).st_mtime_ns
            except FileNotFoundError:
                continue
            if self._cached is None or self._cached[:2] != (path, mtime):
                self._cached = (path, mtime, parse_os_release(read_text(path)))
            return self._cached[2]
        raise NoDataError(f"neither {self._candidates[0]} nor {self._candidates[1]} exists")

    def collect(self) -> list[Metric]:
        env = self._release()
        info = GaugeMetricFamily(
            "node_os_info",
            "A metric with a constant '1' value labeled by build_id, id, id_like, image_id, "
            "image_version, name, pretty_name, variant, variant_id, version, version_codename, "
            "version_id.",
            labels=[label for label, _ in _INFO_LABELS],
        )
        info.add_metric([env.get(key, "") for _, key in _INFO_LABELS], 1)
        families: list[Metric] = [info]
        match = _MAJOR_MINOR.match(env.get("VERSION_ID", ""))
        version = float(match.group()) if match else 0.0
        if version > 0:
            family = GaugeMetricFamily(
                "node_os_version",
                "Metric containing the major.minor part of the OS version.",
                labels=["id", "id_like", "name"],
            )
            family.add_metric(
                [env.get("ID", ""), env.get("ID_LIKE", ""), env.get("NAME", "")], version
            )
            families.append(family)
        return families
