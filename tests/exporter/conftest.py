"""The recorded host tree (tests/fixtures/{proc,sys,rootfs,udev,textfile}) and how to read a
collector's output as text, for exact comparison with a golden file."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO
from vigil.exporter import ExporterOptions, HostCollector, HostPaths, ScrapeCollector
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


def exposition(collector: HostCollector | ScrapeCollector) -> str:
    return render_text(families_from_registry(collector))


def golden(name: str) -> str:
    return Path(GOLDEN / f"{name}.prom").read_text()
