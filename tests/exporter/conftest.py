"""The recorded host tree (tests/fixtures/{proc,sys,rootfs,udev,textfile}) and how to read a
collector's output as text, for exact comparison with a golden file."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO
from vigil.exporter import ExporterOptions, HostCollector, HostPaths, ScrapeCollector
from vigil.exporter.timex import ClockState
from vigil.exporter.uname import Uname
from vigil.exposition import families_from_registry, render_text

HOST = REPO / "tests" / "fixtures"
GOLDEN = HOST / "exporter"
PATHS = HostPaths(
    procfs=str(HOST / "proc"),
    sysfs=str(HOST / "sys"),
    rootfs=str(HOST / "rootfs"),
    udev_data=str(HOST / "udev"),
)
OPTIONS = ExporterOptions(paths=PATHS, textfile_directory=str(HOST / "textfile"))
NOW = 1_795_611_961.5  # the fixed wall clock the time collector sees


def recorded_uname() -> Uname:
    """uname(2) as recorded on the machine the tree comes from."""
    return Uname("Linux", "vm", "6.18.44-fc-v782", "#1 SMP PREEMPT_DYNAMIC @0", "x86_64", "(none)")


def recorded_clock() -> ClockState:
    """adjtimex(2) on an NTP-synchronised host with a PPS source: nanosecond mode (STA_NANO),
    PLL and PPS bits set, TAI offset 37 s."""
    return ClockState(
        state=0, offset=-123456, freq=1234567, maxerror=4500, esterror=120, status=0x2107,
        constant=7, tick=10000, ppsfreq=-655360, jitter=2500, shift=8, stabil=131072,
        jitcnt=3, calcnt=41, errcnt=2, stbcnt=1, tai=37,
    )  # fmt: skip


def exposition(collector: HostCollector | ScrapeCollector) -> str:
    return render_text(families_from_registry(collector))


def golden(name: str) -> str:
    return Path(GOLDEN / f"{name}.prom").read_text()
