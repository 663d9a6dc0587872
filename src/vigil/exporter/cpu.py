"""CPU time per CPU and mode from /proc/stat, and thermal throttle counts from sysfs."""

from __future__ import annotations

import contextlib
import os
from glob import glob

from prometheus_client.core import CounterMetricFamily, Metric

from vigil.exporter._collector import SourceError, read_text
from vigil.exporter._options import HostPaths

USER_HZ = 100.0  # the kernel's fixed unit for /proc/stat, whatever CONFIG_HZ is
_MODES = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
_IDLE = 3
_JUMP_BACK_SECONDS = 3.0


class CPUCollector:
    """Counters never go backwards: a CPU's value that drops is held at its previous high, and an
    idle drop of 3 s or more is taken as a hotplug and starts that CPU afresh (node_exporter 1.5)."""

    name = "cpu"

    def __init__(self, paths: HostPaths) -> None:
        self._paths = paths
        self._stat = paths.proc("stat")
        self._previous: dict[str, list[float]] = {}

    def collect(self) -> list[Metric]:
        seconds = CounterMetricFamily(
            "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.", labels=["cpu", "mode"]
        )
        guest = CounterMetricFamily(
            "node_cpu_guest_seconds_total",
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            labels=["cpu", "mode"],
        )
        current: dict[str, list[float]] = {}
        for line in read_text(self._stat).splitlines():
            if not line.startswith("cpu"):
                if current:
                    break
                continue
            fields = line.split()
            cpu = fields[0][3:]
            if not cpu:
                continue  # the all-CPU total
            try:
                values = [float(v) / USER_HZ for v in fields[1:11]]
            except ValueError:
                raise SourceError(self._stat, f"invalid line {line!r}") from None
            values.extend([0.0] * (10 - len(values)))
            before = self._previous.get(cpu)
            if before is not None and before[_IDLE] - values[_IDLE] < _JUMP_BACK_SECONDS:
                values = [max(old, new) for old, new in zip(before, values, strict=True)]
            current[cpu] = values
            for mode, value in zip(_MODES, values, strict=False):
                seconds.add_metric([cpu, mode], value)
            guest.add_metric([cpu, "user"], values[8])
            guest.add_metric([cpu, "nice"], values[9])
        if not current:
            raise SourceError(self._stat, "no per-CPU lines")
        self._previous = current
        families: list[Metric] = [seconds, guest]
        if os.path.exists(self._paths.sys("devices", "system", "cpu", "cpu0", "thermal_throttle")):
            families.extend(self._throttles())
        return families

    def _throttles(self) -> list[Metric]:
        packages: dict[str, float] = {}
        cores: dict[tuple[str, str], float] = {}
        for cpu_dir in sorted(glob(self._paths.sys("devices", "system", "cpu", "cpu[0-9]*"))):
            try:
                package = read_text(
                    os.path.join(cpu_dir, "topology", "physical_package_id")
                ).strip()
                core = read_text(os.path.join(cpu_dir, "topology", "core_id")).strip()
            except OSError:
                continue
            throttle = os.path.join(cpu_dir, "thermal_throttle")
            if (package, core) not in cores:
                with contextlib.suppress(OSError, ValueError):
                    cores[package, core] = float(
                        read_text(os.path.join(throttle, "core_throttle_count"))
                    )
            if package not in packages:
                with contextlib.suppress(OSError, ValueError):
                    packages[package] = float(
                        read_text(os.path.join(throttle, "package_throttle_count"))
                    )
        package_family = CounterMetricFamily(
            "node_cpu_package_throttles_total",
            "Number of times this CPU package has been throttled.",
            labels=["package"],
        )
        for package, count in packages.items():
            package_family.add_metric([package], count)
        core_family = CounterMetricFamily(
            "node_cpu_core_throttles_total",
            "Number of times this CPU core has been throttled.",
            labels=["package", "core"],
        )
        for (package, core), count in cores.items():
            core_family.add_metric([package, core], count)
        return [package_family, core_family]
