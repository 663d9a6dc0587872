"""The arp collector's device filter and its refusal of a table it cannot read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exporter.conftest import PATHS, exposition
from vigil.exporter import HostPaths, SourceError
from vigil.exporter.arp import ARPCollector


def devices(include: str, exclude: str) -> list[str]:
    text = exposition(ARPCollector(PATHS, include, exclude))
    return [line.split('"')[1] for line in text.splitlines() if line.startswith("node_arp")]


@pytest.mark.parametrize(
    ("include", "exclude", "want"),
    [
        ("", "", ["enp3s0", "eth0", "wlp2s0"]),
        ("^e", "", ["enp3s0", "eth0"]),
        ("", "^e", ["wlp2s0"]),
        ("th", "", ["eth0"]),  # Go's MatchString: unanchored
    ],
)
def test_device_filter(include: str, exclude: str, want: list[str]) -> None:
    assert devices(include, exclude) == want


def test_a_row_of_another_width_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "net").mkdir()
    (tmp_path / "net" / "arp").write_text(
        "IP address       HW type     Flags       HW address            Mask     Device\n"
        "192.0.2.1        0x1         0x2         02:fc:00:00:00:05     *\n"
    )
    with pytest.raises(SourceError, match="5 columns"):
        ARPCollector(HostPaths(procfs=str(tmp_path)), "", "").collect()
