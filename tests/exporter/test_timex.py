"""The timex collector's scaling rules (the recorded clock has its golden file; the live clock is
compared with the real node_exporter in test_node_exporter_differential)."""

from __future__ import annotations

import dataclasses
import errno

import pytest

from tests.exporter.conftest import exposition, recorded_clock
from vigil.exporter import NoDataError
from vigil.exporter.timex import STA_NANO, TIME_ERROR, ClockState, TimexCollector


def values(state: ClockState) -> dict[str, float]:
    return {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in exposition(TimexCollector(lambda: state)).splitlines()
        if not line.startswith("#")
    }


# (change to the recorded clock, series, value)
CASES = [
    ({}, "node_timex_offset_seconds", -123456e-9),
    ({}, "node_timex_pps_jitter_seconds", 2500e-9),
    ({"status": 0x2107 & ~STA_NANO}, "node_timex_offset_seconds", -123456e-6),  # microseconds
    ({"status": 0x2107 & ~STA_NANO}, "node_timex_pps_jitter_seconds", 2500e-6),
    ({"status": 0x2107 & ~STA_NANO}, "node_timex_maxerror_seconds", 4500e-6),  # always µs
    ({"state": TIME_ERROR}, "node_timex_sync_status", 0),
    ({"state": 1}, "node_timex_sync_status", 1),  # TIME_INS: a leap second is due, still synced
    ({"freq": -65536 * 500}, "node_timex_frequency_adjustment_ratio", 1 - 500e-6),
]


@pytest.mark.parametrize(("change", "series", "want"), CASES)
def test_scaling(change: dict[str, int], series: str, want: float) -> None:
    assert values(dataclasses.replace(recorded_clock(), **change))[series] == want


def test_refused_adjtimex_is_no_data() -> None:
    def refused() -> ClockState:
        raise OSError(errno.EPERM, "Operation not permitted")

    with pytest.raises(NoDataError):
        TimexCollector(refused).collect()
