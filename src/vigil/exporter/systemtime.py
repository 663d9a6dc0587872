"""System time, time zone and clocksources (node_exporter's `time` collector)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from prometheus_client.core import GaugeMetricFamily, Metric

from vigil.exporter._collector import read_text
from vigil.exporter._options import HostPaths


class TimeCollector:
    name = "time"

    def __init__(self, paths: HostPaths, clock: Callable[[], float]) -> None:
        self._clocksource_dir = paths.sys("devices", "system", "clocksource")
        self._clock = clock

    def collect(self) -> list[Metric]:
        now = self._clock()
        local = time.localtime(now)
        zone = GaugeMetricFamily(
            "node_time_zone_offset_seconds",
            "System time zone offset in seconds.",
            labels=["time_zone"],
        )
        zone.add_metric([local.tm_zone], float(local.tm_gmtoff))
        families: list[Metric] = [
            GaugeMetricFamily(
                "node_time_seconds", "System time in seconds since epoch (1970).", value=now
            ),
            zone,
        ]
        available = GaugeMetricFamily(
            "node_time_clocksource_available_info",
            "Available clocksources read from '/sys/devices/system/clocksource'.",
            labels=["device", "clocksource"],
        )
        current = GaugeMetricFamily(
            "node_time_clocksource_current_info",
            "Current clocksource read from '/sys/devices/system/clocksource'.",
            labels=["device", "clocksource"],
        )
        try:
            entries = sorted(os.listdir(self._clocksource_dir))
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if not entry.startswith("clocksource"):
                continue
            device = entry.removeprefix("clocksource")
            base = os.path.join(self._clocksource_dir, entry)
            for source in read_text(os.path.join(base, "available_clocksource")).split():
                available.add_metric([device, source], 1)
            current.add_metric(
                [device, read_text(os.path.join(base, "current_clocksource")).strip()], 1
            )
        if available.samples:
            families.append(available)
        if current.samples:
            families.append(current)
        return families
