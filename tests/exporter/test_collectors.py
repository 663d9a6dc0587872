"""Each host collector on the recorded /proc and /sys tree produces exactly the golden exposition
(tests/fixtures/exporter/<collector>.prom), and a few values are checked by hand against the source."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from tests.exporter.conftest import (
    NOW,
    OPTIONS,
    PATHS,
    exposition,
    golden,
    recorded_clock,
    recorded_uname,
)
from vigil.exporter import FACTORIES, HostCollector
from vigil.exporter.filesystem import FilesystemCollector
from vigil.exporter.timex import TimexCollector
from vigil.exporter.uname import UnameCollector


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """node_time_zone_offset_seconds names the local zone: pin it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def fake_statfs(path: str) -> os.statvfs_result:
    """statvfs as recorded for / (4 KiB blocks); any other mount point is half that size."""
    scale = 1 if path.rstrip("/").endswith("rootfs") else 2
    # bsize, frsize, blocks, bfree, bavail, files, ffree, favail, flag, namemax
    return os.statvfs_result(
        (4096, 4096, 66052044 // scale, 60228921 // scale, 20773367 // scale,
         16777216 // scale, 16362028 // scale, 16362028 // scale, 0, 255)
    )  # fmt: skip


def build(name: str) -> HostCollector:
    if name == "uname":
        return UnameCollector(recorded_uname)
    if name == "timex":
        return TimexCollector(recorded_clock)
    if name == "filesystem":
        return FilesystemCollector(
            PATHS,
            OPTIONS.filesystem_mount_points_exclude,
            OPTIONS.filesystem_fs_types_exclude,
            fake_statfs,
        )
    return FACTORIES[name](OPTIONS, lambda: NOW)


# Every collector with a recorded source; textfile has its own tests (its output names paths).
GOLDEN_COLLECTORS = sorted(set(FACTORIES) - {"textfile"})


@pytest.mark.parametrize("name", GOLDEN_COLLECTORS)
def test_collector_matches_golden(name: str) -> None:
    assert exposition(build(name)) == golden(name)


def sample(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in exposition")


def first_field(path: str, key: str) -> float:
    with open(os.path.join(PATHS.procfs, path)) as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] == key:
                return float(parts[1])
    raise AssertionError(f"{key} not in {path}")


# (collector, series, value computed from the recorded file by the kernel's documented units)
HAND_CHECKED: list[tuple[str, str, Callable[[], float]]] = [
    ("meminfo", "node_memory_MemTotal_bytes", lambda: first_field("meminfo", "MemTotal:") * 1024),
    ("meminfo", "node_memory_HugePages_Total", lambda: first_field("meminfo", "HugePages_Total:")),
    ("stat", "node_boot_time_seconds", lambda: first_field("stat", "btime")),
    ("stat", "node_context_switches_total", lambda: first_field("stat", "ctxt")),
    ("cpu", 'node_cpu_seconds_total{cpu="0",mode="user"}', lambda: first_field("stat", "cpu0") / 100),
    ("vmstat", "node_vmstat_pgfault", lambda: first_field("vmstat", "pgfault")),
    ("time", "node_time_seconds", lambda: NOW),
    ("filesystem", 'node_filesystem_size_bytes{device="/dev/vda",fstype="ext4",mountpoint="/"}',
     lambda: 66052044 * 4096),
    ("filesystem",
     'node_filesystem_readonly{device="/dev/vdb",fstype="xfs",mountpoint="/srv/my data"}',
     lambda: 1),
    ("sockstat", "node_sockstat_TCP_mem_bytes",
     lambda: sample(exposition(build("sockstat")), "node_sockstat_TCP_mem") * 4096),
    ("hwmon", 'node_hwmon_temp_celsius{chip="platform_coretemp_0",sensor="temp1"}', lambda: 45.0),
    ("hwmon", 'node_hwmon_in_volts{chip="platform_coretemp_0",sensor="in0"}', lambda: 3.3),
    ("netclass", 'node_network_speed_bytes{device="enp3s0"}', lambda: 10000 * 1e6 / 8),
    ("timex", "node_timex_offset_seconds", lambda: -123456e-9),
    ("timex", "node_timex_frequency_adjustment_ratio", lambda: 1 + 1234567 / 65536 / 1e6),
    ("timex", "node_timex_pps_frequency_hertz", lambda: -10 / 1e6),
    ("timex", "node_timex_tick_seconds", lambda: 0.01),
    ("timex", "node_timex_sync_status", lambda: 1),
]  # fmt: skip


@pytest.mark.parametrize(("name", "series", "want"), HAND_CHECKED)
def test_hand_checked_values(name: str, series: str, want: Callable[[], float]) -> None:
    assert sample(exposition(build(name)), series) == pytest.approx(want())


def test_cpu_counters_never_go_backwards(tmp_path: os.PathLike[str]) -> None:
    """A CPU counter that drops a little is held (node_exporter 1.5); an idle drop of >= 3 s is a
    hotplug and the CPU starts afresh."""
    from vigil.exporter import HostPaths
    from vigil.exporter.cpu import CPUCollector

    proc = os.path.join(tmp_path, "proc")
    os.makedirs(proc)
    stat = os.path.join(proc, "stat")
    collector = CPUCollector(HostPaths(procfs=proc, sysfs=str(tmp_path)))

    def user_and_idle(user: int, idle: int) -> tuple[float, float]:
        with open(stat, "w") as f:
            f.write(
                f"cpu  {user} 0 0 {idle} 0 0 0 0 0 0\ncpu0 {user} 0 0 {idle} 0 0 0 0 0 0\nintr 1\n"
            )
        text = exposition(collector)
        return (
            sample(text, 'node_cpu_seconds_total{cpu="0",mode="user"}'),
            sample(text, 'node_cpu_seconds_total{cpu="0",mode="idle"}'),
        )

    assert user_and_idle(500, 10000) == (5.0, 100.0)
    assert user_and_idle(400, 10050) == (5.0, 100.5)  # user dropped: held
    assert user_and_idle(100, 9000) == (1.0, 90.0)  # idle dropped 10.5 s: hotplug, reset
