"""Timestamps as shippers write them, to Unix nanoseconds: RFC 3339 with up to nine fraction
digits (Loki's legacy push, Elasticsearch's `@timestamp`, syslog 5424)."""

from __future__ import annotations

import calendar
import datetime
import re

_RFC3339 = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:[.,](\d{1,9})\d*)?([Zz]|[+-]\d\d:?\d\d)?\Z"
)


def rfc3339_ns(text: str, default_offset_s: int = 0) -> int | None:
    """`text` in Unix ns, or None when it is not an RFC 3339 time of a real date. A time
    without a zone is taken at `default_offset_s` from UTC."""
    match = _RFC3339.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        when = datetime.datetime(int(year), int(month), int(day), int(hour), int(minute))
    except ValueError:
        return None
    if int(second) > 60:
        return None
    seconds = calendar.timegm(when.timetuple()) + int(second)
    if zone is None:
        seconds -= default_offset_s
    elif zone not in ("Z", "z"):
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds * 10**9 + int((fraction or "").ljust(9, "0"))
