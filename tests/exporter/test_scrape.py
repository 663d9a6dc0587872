"""A collector that cannot read its source: one clear log line naming the file, success 0 for it,
and the rest of the scrape intact."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import pytest

from tests.exporter.conftest import HOST, NOW, exposition
from vigil.exporter import (
    DEFAULT_ENABLED,
    ExporterOptions,
    HostPaths,
    ScrapeCollector,
    build_host_collectors,
)


def scrape_tree(tmp_path: Path) -> HostPaths:
    """A writable copy of the recorded tree, to break one file at a time."""
    for part in ("proc", "sys", "rootfs"):
        shutil.copytree(HOST / part, tmp_path / part, symlinks=True)
    return HostPaths(str(tmp_path / "proc"), str(tmp_path / "sys"), str(tmp_path / "rootfs"))


def scrape(paths: HostPaths) -> str:
    names = DEFAULT_ENABLED - {"filesystem", "uname", "textfile"}  # these read the live host
    collectors = build_host_collectors(names, ExporterOptions(paths=paths), lambda: NOW)
    ticks = iter(range(1000))
    return exposition(ScrapeCollector(collectors, lambda: float(next(ticks))))


# (collector, file to break, how, what the log line must say)
BROKEN = [
    ("meminfo", "meminfo", "missing", "No such file or directory"),
    ("loadavg", "loadavg", "garbage", "expected three load averages"),
    ("stat", "stat", "drop-intr", "no intr line"),
    ("netdev", "net/dev", "garbage", "invalid line"),
    ("filefd", "sys/fs/file-nr", "missing", "No such file or directory"),
    ("entropy", "sys/kernel/random/entropy_avail", "directory", "Is a directory"),
    ("vmstat", "vmstat", "directory", "Is a directory"),
]


@pytest.mark.parametrize(("name", "file", "how", "reason"), BROKEN)
def test_broken_source_fails_only_its_collector(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, file: str, how: str, reason: str
) -> None:
    paths = scrape_tree(tmp_path)
    target = os.path.join(paths.procfs, file)
    lines = Path(target).read_text().splitlines(keepends=True) if how == "drop-intr" else []
    os.remove(target)
    if how == "garbage":
        Path(target).write_text("two header\nlines\nthis is not what the kernel writes\n")
    elif how == "drop-intr":
        Path(target).write_text("".join(line for line in lines if not line.startswith("intr ")))
    elif how == "directory":
        os.mkdir(target)
    with caplog.at_level(logging.INFO, logger="vigil.exporter"):
        text = scrape(paths)
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert errors[0].startswith(f"collector {name} failed: ")
    assert target in errors[0] and reason in errors[0]
    assert f'node_scrape_collector_success{{collector="{name}"}} 0' in text
    others = sorted(DEFAULT_ENABLED - {"filesystem", "uname", "textfile", "hwmon", name})
    for other in others:
        assert f'node_scrape_collector_success{{collector="{other}"}} 1' in text
    assert "node_boot_time_seconds" in text or name == "stat"
    assert "node_load1 " in text or name == "loadavg"


def test_absent_source_is_no_data_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """No PSI, no conntrack, no hwmon: success 0 and one INFO line the first time, DEBUG after."""
    paths = scrape_tree(tmp_path)
    shutil.rmtree(os.path.join(paths.procfs, "pressure"))
    shutil.rmtree(os.path.join(paths.sysfs, "class", "hwmon"))
    collectors = build_host_collectors(
        {"pressure", "hwmon", "loadavg"}, ExporterOptions(paths=paths), lambda: NOW
    )
    scrape_collector = ScrapeCollector(collectors, lambda: 0.0)
    with caplog.at_level(logging.DEBUG, logger="vigil.exporter"):
        first = exposition(scrape_collector)
        exposition(scrape_collector)
    levels = [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records]
    assert levels == [
        ("INFO", "collector hwmon"),
        ("INFO", "collector pressure"),
        ("DEBUG", "collector hwmon"),
        ("DEBUG", "collector pressure"),
    ]
    assert 'node_scrape_collector_success{collector="pressure"} 0' in first
    assert 'node_scrape_collector_success{collector="hwmon"} 0' in first
    assert 'node_scrape_collector_success{collector="loadavg"} 1' in first


def test_scrape_reports_duration_from_the_timer(tmp_path: Path) -> None:
    text = scrape(scrape_tree(tmp_path))
    assert 'node_scrape_collector_duration_seconds{collector="conntrack"} 1' in text
