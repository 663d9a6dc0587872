"""Time intervals with Alertmanager 0.25's `ContainsTime` (read in the interval's location, end
minute exclusive, negative days of month, its DST day count) and the mute/active stages."""

from __future__ import annotations

import asyncio
import textwrap
from datetime import datetime

import pytest

from vigil.alerting import TimeActiveStage, TimeMuteStage, contains
from vigil.alerting._api import Notification, NotifyError
from vigil.config.alertmanager import TimeInterval
from vigil.model.labels import Labels
from vigil.notify.kinds import parse_config


def interval(body: str) -> TimeInterval:
    text = textwrap.dedent(
        """
        route: {receiver: r}
        receivers: [{name: r}]
        time_intervals:
          - name: t
            time_intervals:
        """
    ) + textwrap.indent(textwrap.dedent(body), "      ")
    return parse_config(text).time_intervals[0]


def at(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


BUSINESS = """
- times: [{start_time: "09:00", end_time: "17:00"}]
  weekdays: [monday:friday]
"""

# (interval YAML, instant) -> inside?
CASES = [
    ("start minute is in", BUSINESS, "2024-01-15T09:00:00+00:00", True),
    ("last minute is in", BUSINESS, "2024-01-15T16:59:59+00:00", True),
    ("end minute is out", BUSINESS, "2024-01-15T17:00:00+00:00", False),
    ("before", BUSINESS, "2024-01-15T08:59:59+00:00", False),
    ("sunday", BUSINESS, "2024-01-14T10:00:00+00:00", False),
    ("friday", BUSINESS, "2024-01-19T10:00:00+00:00", True),
    ("weekday 0 is sunday", "- weekdays: [sunday]", "2024-01-14T23:59:00+00:00", True),
    (
        "whole day to 24:00",
        '- times: [{start_time: "18:00", end_time: "24:00"}]',
        "2024-01-14T23:59:00+00:00",
        True,
    ),
    (
        "ranges are or-ed",
        f"{BUSINESS}- weekdays: [saturday, sunday]",
        "2024-01-14T03:00:00+00:00",
        True,
    ),
    ("last day, leap year", "- days_of_month: ['-1']", "2024-02-29T12:00:00+00:00", True),
    ("last day is not the 28th", "- days_of_month: ['-1']", "2024-02-28T12:00:00+00:00", False),
    ("last day, common year", "- days_of_month: ['-1']", "2023-02-28T12:00:00+00:00", True),
    ("last three days", "- days_of_month: ['-3:-1']", "2023-04-28T00:00:00+00:00", True),
    ("31st skipped in April", "- days_of_month: ['31']", "2024-04-30T12:00:00+00:00", False),
    ("31st in January", "- days_of_month: ['31']", "2024-01-31T12:00:00+00:00", True),
    ("span clamped to month", "- days_of_month: ['25:31']", "2024-02-29T12:00:00+00:00", True),
    (
        "-31:-1 is the whole of February",
        "- days_of_month: ['-31:-1']",
        "2024-02-01T00:00:00+00:00",
        True,
    ),
    ("months", "- months: ['january:march', december]", "2024-12-01T00:00:00+00:00", True),
    ("other month", "- months: ['january:march', december]", "2024-04-01T00:00:00+00:00", False),
    ("years", "- years: ['2023:2024']", "2024-12-31T23:59:59+00:00", True),
    ("other year", "- years: ['2023:2024']", "2025-01-01T00:00:00+00:00", False),
    (
        "location: 11:00 in Sydney",
        f"{BUSINESS}  location: Australia/Sydney",
        "2024-01-15T00:00:00+00:00",
        True,
    ),
    (
        "location: 18:00 in Sydney",
        f"{BUSINESS}  location: Australia/Sydney",
        "2024-01-15T07:00:00+00:00",
        False,
    ),
    (
        "location: Sunday in UTC, Monday in Tokyo",
        f"{BUSINESS}  location: Asia/Tokyo",
        "2024-01-14T23:30:00+00:00",
        False,  # 08:30 Monday in Tokyo: right day, too early
    ),
    (
        "location: Monday 09:30 in Tokyo",
        f"{BUSINESS}  location: Asia/Tokyo",
        "2024-01-15T00:30:00+00:00",
        True,
    ),
    # Alertmanager counts whole 24 h days between month starts: a month losing an hour to
    # DST has 30 "days", so its "-1" is the 30th.
    (
        "DST month: -1 is the 30th",
        "- days_of_month: ['-1']\n  location: Europe/Berlin",
        "2024-03-30T12:00:00+01:00",
        True,
    ),
    (
        "DST month: -1 is not the 31st",
        "- days_of_month: ['-1']\n  location: Europe/Berlin",
        "2024-03-31T12:00:00+02:00",
        False,
    ),
]


@pytest.mark.parametrize(
    ("body", "instant", "want"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_contains(body: str, instant: str, want: bool) -> None:
    assert contains(interval(body), at(instant)) is want


def test_contains_accepts_ranges() -> None:
    ranges = interval(BUSINESS).ranges
    assert [contains(ranges, at("2024-01-15T10:00:00+00:00")), contains((), 0.0)] == [True, False]


def _notification(now: float, mute: tuple[str, ...], active: tuple[str, ...]) -> Notification:
    return Notification(
        receiver="r",
        group_key="g",
        group_labels=Labels(),
        alerts=(),
        now=now,
        deadline=now + 10,
        repeat_interval=3600,
        mute_time_intervals=mute,
        active_time_intervals=active,
    )


INTERVALS = {
    "business": interval(BUSINESS),
    "weekend": interval("- weekdays: [saturday, sunday]"),
}
MONDAY_10 = at("2024-01-15T10:00:00+00:00")
MONDAY_20 = at("2024-01-15T20:00:00+00:00")

# (now, mute names, active names) -> (passes the mute stage, passes the active stage)
STAGE_CASES = [
    (MONDAY_10, (), (), (True, True)),
    (MONDAY_10, ("business",), ("business",), (False, True)),
    (MONDAY_20, ("business",), ("business",), (True, False)),
    (MONDAY_20, ("weekend", "business"), ("weekend", "business"), (True, False)),
    (MONDAY_10, ("weekend", "business"), ("weekend", "business"), (False, True)),
]


@pytest.mark.parametrize(("now", "mute", "active", "want"), STAGE_CASES)
def test_stages(
    now: float, mute: tuple[str, ...], active: tuple[str, ...], want: tuple[bool, bool]
) -> None:
    notification = _notification(now, mute, active)

    async def run() -> tuple[bool, bool]:
        muted = await TimeMuteStage(INTERVALS).exec(notification)
        activated = await TimeActiveStage(INTERVALS).exec(notification)
        return muted is notification, activated is notification

    assert asyncio.run(run()) == want


@pytest.mark.parametrize("stage", [TimeMuteStage, TimeActiveStage])
def test_unknown_interval(stage: type[TimeMuteStage] | type[TimeActiveStage]) -> None:
    notification = _notification(MONDAY_10, ("nope",), ("nope",))
    with pytest.raises(NotifyError, match=r"^time interval nope doesn't exist in config$") as err:
        asyncio.run(stage(INTERVALS).exec(notification))
    assert err.value.retry is False
