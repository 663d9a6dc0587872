"""syslog messages (RFC 5424, and RFC 3164 as BSD syslogd, `logger` and network devices write
it) as log entries: labels `{job="syslog", host, app}` only; the line is the message; PRI
gives `level` (error, warning, ...) and, with the other header fields and the 5424
structured data, structured metadata. TCP streams are framed by octet counting (RFC 6587,
`LEN SP MSG`) or by newlines, decided per message as rsyslog does; every frame is bounded."""

from __future__ import annotations

import calendar
import datetime
import re
from collections.abc import Iterator
from dataclasses import dataclass

from vigil.logs.ingest.label_names import label_name
from vigil.logs.ingest.timestamps import rfc3339_ns
from vigil.model import Labels

MAX_MESSAGE_BYTES = 64 << 10
"""Longer messages are cut there (RFC 5425 asks receivers for at least 2 KiB)."""

SEVERITIES = ("emerg", "alert", "crit", "err", "warning", "notice", "info", "debug")
LEVELS = ("critical", "critical", "critical", "error", "warning", "info", "info", "debug")
FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "security", "console", "solaris-cron",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
_DEFAULT_PRI = 13  # user.notice, for a message without PRI (RFC 3164 4.3.3)
_PRI = re.compile(rb"<(\d{1,3})>")
_MONTHS = {m: i for i, m in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
)}  # fmt: skip
_BSD_TIME = re.compile(r"([A-Z][a-z]{2}) ([ \d]\d) (\d\d):(\d\d):(\d\d)(?:\.\d+)? ")
_TAG = re.compile(r"([^\s:\[]{1,48})(?:\[([^\]]*)\])?: ?")
_SD_PARAM = re.compile(r'\s*([^=\s\]"]+)="((?:[^"\\]|\\.)*)"')
_BOM = "\ufeff"


@dataclass(frozen=True, slots=True)
class Message:
    time_ns: int
    host: str
    app: str
    pri: int
    text: str
    fields: tuple[tuple[str, str], ...] = ()

    def labels(self) -> Labels:
        pairs = {"job": "syslog", "host": self.host, "app": self.app}
        return Labels.from_dict({k: v for k, v in pairs.items() if v})

    def metadata(self) -> Labels:
        severity, facility = self.pri & 7, self.pri >> 3
        pairs = dict(self.fields)
        pairs["level"] = LEVELS[severity]
        pairs["severity"] = SEVERITIES[severity]
        if facility < len(FACILITIES):
            pairs["facility"] = FACILITIES[facility]
        return Labels.from_dict({k: v for k, v in pairs.items() if v})


def parse(raw: bytes, peer_host: str, now_ns: int, utc_offset_s: int = 0) -> Message:
    """One message. Whatever does not parse as a header is kept in the line (a syslog
    receiver never drops a message for its form); `peer_host` stands in for a missing
    HOSTNAME, `now_ns` for a missing time; RFC 3164 times are at `utc_offset_s`."""
    text = raw.rstrip(b"\r\n\0").decode("utf-8", "replace")
    pri_match = _PRI.match(raw)
    if pri_match is None or int(pri_match.group(1)) > 191:
        return Message(now_ns, peer_host, "", _DEFAULT_PRI, text)
    pri = int(pri_match.group(1))
    rest = text[pri_match.end() :]
    if rest.startswith("1 "):
        parsed = _rfc5424(rest[2:], pri, peer_host, now_ns)
        if parsed is not None:
            return parsed
    return _rfc3164(rest, pri, peer_host, now_ns, utc_offset_s)


def _rfc5424(rest: str, pri: int, peer_host: str, now_ns: int) -> Message | None:
    parts = rest.split(" ", 5)
    if len(parts) < 5:
        return None
    stamp, host, app, procid, msgid = parts[:5]
    tail = parts[5] if len(parts) > 5 else ""
    time_ns = now_ns if stamp == "-" else rfc3339_ns(stamp)
    if time_ns is None:
        return None
    fields: list[tuple[str, str]] = []
    if tail.startswith("-"):
        tail = tail[2:] if tail.startswith("- ") else tail[1:]
    else:
        position = _structured_data(tail, fields)
        if position is None:
            return None
        tail = tail[position:].removeprefix(" ")
    for name, value in (("procid", procid), ("msgid", msgid)):
        if value != "-":
            fields.append((name, value))
    return Message(
        time_ns,
        peer_host if host == "-" else host,
        "" if app == "-" else app,
        pri,
        tail.removeprefix(_BOM),
        tuple(fields),
    )


def _structured_data(text: str, into: list[tuple[str, str]]) -> int | None:
    """The SD-ELEMENTs at the start of `text` into `into` as `<sd-id>_<param>`; returns
    where the message starts, None when it is not structured data."""
    position = 0
    while position < len(text) and text[position] == "[":
        end_id = position + 1
        while end_id < len(text) and text[end_id] not in " ]":
            end_id += 1
        sd_id = text[position + 1 : end_id]
        position = end_id
        while True:
            param = _SD_PARAM.match(text, position)
            if param is None:
                break
            value = re.sub(r"\\([\"\\\]])", r"\1", param.group(2))
            into.append((label_name(f"{sd_id}_{param.group(1)}"), value))
            position = param.end()
        if position >= len(text) or text[position] != "]":
            return None
        position += 1
    return position


def _rfc3164(rest: str, pri: int, peer_host: str, now_ns: int, utc_offset_s: int) -> Message:
    time_ns = now_ns
    stamp = _BSD_TIME.match(rest)
    if stamp is not None:
        time_ns = _bsd_time_ns(stamp, now_ns, utc_offset_s)
        rest = rest[stamp.end() :]
    else:
        as_5424 = rest.split(" ", 1)
        parsed = rfc3339_ns(as_5424[0]) if len(as_5424) == 2 else None
        if parsed is not None:  # RFC 3339 time in a BSD header (rsyslog's high-precision form)
            time_ns, rest = parsed, as_5424[1]
    first, space, after = rest.partition(" ")
    if not space:
        return Message(time_ns, peer_host, "", pri, rest)
    tag = _TAG.fullmatch(first) if first.endswith(":") else None
    if tag is not None:  # no HOSTNAME: "app[pid]: message"
        host, body = peer_host, after
    else:
        host, tag = first, _TAG.match(after)
        body = after if tag is None else after[tag.end() :]
    if tag is None:
        return Message(time_ns, host, "", pri, body)
    fields = (("procid", tag.group(2)),) if tag.group(2) else ()
    return Message(time_ns, host, tag.group(1), pri, body, fields)


def _bsd_time_ns(stamp: re.Match[str], now_ns: int, utc_offset_s: int) -> int:
    """`Mmm dd hh:mm:ss` has no year: this year's, or last year's when that would be more
    than a day ahead of now (December's messages read in January)."""
    month = _MONTHS.get(stamp.group(1))
    if month is None:
        return now_ns
    day, hour, minute, second = (int(stamp.group(i)) for i in range(2, 6))
    year = _year_of(now_ns)
    for candidate in (year, year - 1):
        try:
            seconds = calendar.timegm((candidate, month, day, hour, minute, second)) - utc_offset_s
        except ValueError:
            return now_ns
        if seconds * 10**9 <= now_ns + 86_400 * 10**9:
            return seconds * 10**9
    return now_ns


def _year_of(ns: int) -> int:
    return datetime.datetime.fromtimestamp(ns / 1e9, datetime.UTC).year


class Framer:
    """Splits a TCP byte stream into messages: octet-counted frames when a frame starts with
    a digit, else newline-terminated; a frame longer than `limit` is cut at it (newline
    framing) or ends the connection (a count above the limit: `FramingError`)."""

    def __init__(self, limit: int = MAX_MESSAGE_BYTES) -> None:
        self._buffer = bytearray()
        self._limit = limit

    def feed(self, data: bytes) -> Iterator[bytes]:
        self._buffer += data
        while self._buffer:
            frame = self._next()
            if frame is None:
                return
            if frame.strip():
                yield frame

    def close(self) -> bytes:
        """What is left when the stream ends (a last message without its newline)."""
        rest, self._buffer = bytes(self._buffer), bytearray()
        return rest.strip(b"\r\n\0")

    def _next(self) -> bytes | None:
        buffer = self._buffer
        if buffer[:1].isdigit():
            space = buffer.find(b" ", 0, 12)
            if space < 0:
                if len(buffer) >= 12 or not buffer.isdigit():
                    raise FramingError(f"bad octet count {bytes(buffer[:12])!r}")
                return None
            count = int(buffer[:space]) if buffer[:space].isdigit() else -1
            if count < 0:
                raise FramingError(f"bad octet count {bytes(buffer[:space])!r}")
            if count > self._limit:
                raise FramingError(f"frame of {count} bytes, more than {self._limit}")
            if len(buffer) < space + 1 + count:
                return None
            frame = bytes(buffer[space + 1 : space + 1 + count])
            del buffer[: space + 1 + count]
            return frame
        newline = buffer.find(b"\n", 0, self._limit + 1)
        if newline < 0:
            if len(buffer) <= self._limit:
                return None
            newline = self._limit
            frame = bytes(buffer[:newline])
            del buffer[:newline]
            return frame
        frame = bytes(buffer[:newline]).rstrip(b"\r\0")
        del buffer[: newline + 1]
        return frame


class FramingError(ValueError):
    """A TCP stream whose framing cannot be followed: the connection is closed."""
