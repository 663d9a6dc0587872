"""Go's time.Time and time.Duration as template values: printing, layouts and methods."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections.abc import Callable
from typing import ClassVar

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True, slots=True)
class GoTime:
    """A Go time.Time at millisecond or finer precision, printed as Go's Time.String()."""

    when: dt.datetime

    __go_methods__: ClassVar[dict[str, str]] = {
        "Format": "format",
        "Unix": "unix",
        "UnixMilli": "unix_milli",
        "UnixNano": "unix_nano",
        "UTC": "utc",
        "String": "__str__",
        "Year": "year",
        "YearDay": "year_day",
        "Day": "day",
        "Hour": "hour",
        "Minute": "minute",
        "Second": "second",
    }

    def format(self, layout: str) -> str:
        return go_time_format(self.when, layout)

    def _nanos(self) -> int:
        delta = self.when - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000

    def unix(self) -> int:
        return self._nanos() // 10**9

    def unix_milli(self) -> int:
        return self._nanos() // 10**6

    def unix_nano(self) -> int:
        return self._nanos()

    def utc(self) -> GoTime:
        return GoTime(self.when.astimezone(dt.UTC))

    def year(self) -> int:
        return self.when.year

    def year_day(self) -> int:
        return self.when.timetuple().tm_yday

    def day(self) -> int:
        return self.when.day

    def hour(self) -> int:
        return self.when.hour

    def minute(self) -> int:
        return self.when.minute

    def second(self) -> int:
        return self.when.second

    def __str__(self) -> str:
        w = self.when
        frac = f"{w.microsecond:06d}".rstrip("0")
        offset = w.utcoffset() or dt.timedelta(0)
        minutes = int(offset.total_seconds()) // 60
        sign = "-" if minutes < 0 else "+"
        zone = w.tzname() or "UTC"
        return (
            f"{w.year:04d}-{w:%m-%d %H:%M:%S}{'.' + frac if frac else ''} "
            f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d} {zone}"
        )


class GoDuration:
    """A Go time.Duration (nanoseconds), printed as Go's Duration.String(): `1h2m3.5s`."""

    __slots__ = ("nanos",)
    __go_type__ = "time.Duration"

    def __init__(self, nanos: int) -> None:
        self.nanos = nanos

    def __str__(self) -> str:
        u = abs(self.nanos)
        sign = "-" if self.nanos < 0 else ""
        if u == 0:
            return "0s"
        if u < 1000:
            return f"{sign}{u}ns"
        if u < 1_000_000:
            return f"{sign}{_frac(u, 1000)}µs"
        if u < 1_000_000_000:
            return f"{sign}{_frac(u, 1_000_000)}ms"
        hours, rem = divmod(u, 3600 * 10**9)
        minutes, rem = divmod(rem, 60 * 10**9)
        out = _frac(rem, 10**9) + "s"
        if hours:
            out = f"{hours}h{minutes}m{out}"
        elif minutes:
            out = f"{minutes}m{out}"
        return sign + out


def _frac(v: int, unit: int) -> str:
    whole, frac = divmod(v, unit)
    digits = f"{frac:0{len(str(unit)) - 1}d}".rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


_LAYOUT = re.compile(
    r"January|Jan|Monday|Mon|MST|2006|002|01|02|03|04|05|06|15|_2|__2|"
    r"-07:00:00|-070000|-07:00|-0700|-07|Z07:00:00|Z070000|Z07:00|Z0700|Z07|"
    r"[.,](?:0+|9+)(?![0-9])|PM|pm|1|2|3|4|5"
)


def _zone(t: dt.datetime, token: str) -> str:
    offset = t.utcoffset() or dt.timedelta(0)
    secs = int(offset.total_seconds())
    if token.startswith("Z") and secs == 0:
        return "Z"
    sign = "-" if secs < 0 else "+"
    h, rem = divmod(abs(secs), 3600)
    m, s = divmod(rem, 60)
    body = token.lstrip("Z-")
    if body == "07":
        return f"{sign}{h:02d}"
    if body == "0700":
        return f"{sign}{h:02d}{m:02d}"
    if body == "07:00":
        return f"{sign}{h:02d}:{m:02d}"
    if body == "070000":
        return f"{sign}{h:02d}{m:02d}{s:02d}"
    return f"{sign}{h:02d}:{m:02d}:{s:02d}"


def _hour12(t: dt.datetime) -> int:
    return t.hour % 12 or 12


_TOKENS: dict[str, Callable[[dt.datetime], str]] = {
    "January": lambda t: t.strftime("%B"),
    "Jan": lambda t: t.strftime("%b"),
    "Monday": lambda t: t.strftime("%A"),
    "Mon": lambda t: t.strftime("%a"),
    "MST": lambda t: t.tzname() or "UTC",
    "2006": lambda t: f"{t.year:04d}",
    "06": lambda t: f"{t.year % 100:02d}",
    "01": lambda t: f"{t.month:02d}",
    "1": lambda t: str(t.month),
    "02": lambda t: f"{t.day:02d}",
    "2": lambda t: str(t.day),
    "_2": lambda t: f"{t.day:2d}",
    "002": lambda t: f"{t.timetuple().tm_yday:03d}",
    "__2": lambda t: f"{t.timetuple().tm_yday:3d}",
    "15": lambda t: f"{t.hour:02d}",
    "03": lambda t: f"{_hour12(t):02d}",
    "3": lambda t: str(_hour12(t)),
    "04": lambda t: f"{t.minute:02d}",
    "4": lambda t: str(t.minute),
    "05": lambda t: f"{t.second:02d}",
    "5": lambda t: str(t.second),
    "PM": lambda t: "PM" if t.hour >= 12 else "AM",
    "pm": lambda t: "pm" if t.hour >= 12 else "am",
}


@functools.lru_cache(maxsize=1 << 12)
def go_time_format(t: dt.datetime, layout: str) -> str:
    """time.Time.Format with Go's reference-time layout (Mon Jan 2 15:04:05 MST 2006).
    Cached: the alerts of one notification share their times."""

    def chunk(m: re.Match[str]) -> str:
        tok = m.group(0)
        render = _TOKENS.get(tok)
        if render is not None:
            return render(t)
        if tok[0] in "Z-":
            return _zone(t, tok)
        digits = f"{t.microsecond:06d}000"[: len(tok) - 1]
        if tok[1] == "9":
            digits = digits.rstrip("0")
            return tok[0] + digits if digits else ""
        return tok[0] + digits

    return _LAYOUT.sub(chunk, layout)
