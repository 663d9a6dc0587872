"""Time intervals (`time_intervals:` / `mute_time_intervals:` in alertmanager.yml) with
Alertmanager 0.25's `ContainsTime`, and the two pipeline stages that consult them: a route's
mute intervals silence it while they hold, its active intervals silence it while none holds."""

from __future__ import annotations

import datetime
import functools
import zoneinfo
from collections.abc import Iterable, Mapping

from vigil.alerting._api import Notification, NotifyError
from vigil.config.alertmanager import TimeInterval, TimeRange


@functools.lru_cache(maxsize=64)
def _zone(location: str) -> datetime.tzinfo | None:
    """The zone for a `location`; None means the machine's local zone ("Local")."""
    if location == "Local":
        return None
    if location == "UTC":
        return datetime.UTC
    return zoneinfo.ZoneInfo(location)


def _in_ranges(value: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(begin <= value <= end for begin, end in ranges)


def _in_days_of_month(day: int, days_in_month: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    for begin, end in ranges:
        if begin < 0:
            begin = days_in_month + begin + 1
        if end < 0:
            end = days_in_month + end + 1
        if begin > days_in_month:
            continue  # e.g. "31" in a 30-day month: not this month
        begin = max(-days_in_month, min(begin, days_in_month))
        end = max(-days_in_month, min(end, days_in_month))
        if begin <= day <= end:
            return True
    return False


def _days_in_month(year: int, month: int, zone: datetime.tzinfo | None) -> int:
    """Alertmanager's `daysInMonth`: whole 24-hour days between the first midnights of this
    month and the next in the zone, so a month losing an hour to DST counts one day short
    (its "-1" is then the day before the last), as in Alertmanager."""
    following = (year + month // 12, month % 12 + 1)
    start = datetime.datetime(year, month, 1, tzinfo=zone).timestamp()
    end = datetime.datetime(*following, 1, tzinfo=zone).timestamp()
    return int((end - start) / 86400)


def range_contains(time_range: TimeRange, t: float) -> bool:
    """Whether instant `t` (epoch seconds) falls in every constraint of `time_range`, read in
    its location: minutes of the day (end exclusive), weekdays (0 = Sunday), days of the
    month (negative from the end), months, years; an empty constraint allows anything."""
    zone = _zone(time_range.location)
    when = (
        datetime.datetime.fromtimestamp(t, zone)
        if zone is not None
        else datetime.datetime.fromtimestamp(t).astimezone()
    )
    if time_range.times:
        minute = when.hour * 60 + when.minute
        if not any(start <= minute < end for start, end in time_range.times):
            return False
    if time_range.days_of_month:
        days = _days_in_month(when.year, when.month, zone)
        if not _in_days_of_month(when.day, days, time_range.days_of_month):
            return False
    if time_range.months and not _in_ranges(when.month, time_range.months):
        return False
    weekday = (when.weekday() + 1) % 7
    if time_range.weekdays and not _in_ranges(weekday, time_range.weekdays):
        return False
    return not time_range.years or _in_ranges(when.year, time_range.years)


def contains(interval: TimeInterval | Iterable[TimeRange], t: float) -> bool:
    """Whether any of the interval's time ranges contains instant `t`."""
    ranges = interval.ranges if isinstance(interval, TimeInterval) else interval
    return any(range_contains(r, t) for r in ranges)


def _in_intervals(intervals: Mapping[str, TimeInterval], names: Iterable[str], t: float) -> bool:
    for name in names:
        interval = intervals.get(name)
        if interval is None:
            raise NotifyError(f"time interval {name} doesn't exist in config", retry=False)
        if contains(interval, t):
            return True
    return False


class TimeMuteStage:
    """Stops the notification while `now` is inside one of the route's mute time intervals."""

    def __init__(self, intervals_by_name: Mapping[str, TimeInterval]) -> None:
        self._intervals = intervals_by_name

    async def exec(self, notification: Notification) -> Notification | None:
        names = notification.mute_time_intervals
        if _in_intervals(self._intervals, names, notification.now):
            return None
        return notification


class TimeActiveStage:
    """Stops the notification while `now` is outside all of the route's active time
    intervals (a route without any is always active)."""

    def __init__(self, intervals_by_name: Mapping[str, TimeInterval]) -> None:
        self._intervals = intervals_by_name

    async def exec(self, notification: Notification) -> Notification | None:
        names = notification.active_time_intervals
        if not names or _in_intervals(self._intervals, names, notification.now):
            return notification
        return None
