"""The netclass collector's parsing rules, beside its golden file and the fixture differential."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exporter.conftest import PATHS, exposition
from vigil.exporter import HostPaths, NoDataError
from vigil.exporter.netclass import NetclassCollector, go_int, speed_bytes


@pytest.mark.parametrize(
    ("text", "want"),
    [
        (b"1500", 1500),
        (b"-1", -1),
        (b"0x1003", 4099),
        (b"0x0", 0),
        (b"010", 8),  # Go's base 0: a leading zero is octal
        (b"0", 0),
        (b"09", 0),  # refused by Go: procfs reports 0
        (b"not a number", 0),
        (b"9223372036854775808", 0),  # out of int64's range
        (b"", 0),
    ],
)
def test_go_int(text: bytes, want: int) -> None:
    assert go_int(text) == want


@pytest.mark.parametrize(
    ("megabits", "want"), [(10000, 1_250_000_000), (54, 6_750_000), (-1, -125_000), (0, 0)]
)
def test_speed_bytes(megabits: int, want: int) -> None:
    assert speed_bytes(megabits) == want


def speeds(collector: NetclassCollector) -> list[str]:
    return [line for line in exposition(collector).splitlines() if "speed_bytes{" in line]


def test_ignore_invalid_speed_drops_unknown_speeds() -> None:
    assert speeds(NetclassCollector(PATHS, "^$", ignore_invalid_speed=True)) == [
        'node_network_speed_bytes{device="enp3s0"} 1250000000',
        'node_network_speed_bytes{device="wlp2s0"} 6750000',
    ]


def test_ignored_devices_are_left_out() -> None:
    text = exposition(NetclassCollector(PATHS, "^(ifb|lo)"))
    devices = {line.split('device="')[1].split('"')[0] for line in text.splitlines() if "{" in line}
    assert devices == {"enp3s0", "eth0", "wlp2s0"}


def test_no_class_net_is_no_data(tmp_path: Path) -> None:
    with pytest.raises(NoDataError):
        NetclassCollector(HostPaths(sysfs=str(tmp_path)), "^$").collect()
