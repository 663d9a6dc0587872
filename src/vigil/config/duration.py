"""Prometheus durations (`1h30m`, `15s`, `100ms`, `1d`, `1w`, `1y`): parsed and printed exactly
as Prometheus does, so `__scrape_interval__` and error messages read the same. The one parser
for config files, flags, API parameters, templates and promqltest scripts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_DURATION = re.compile(
    r"(?:([0-9]+)y)?(?:([0-9]+)w)?(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?"
    r"(?:([0-9]+)s)?(?:([0-9]+)ms)?\Z"
)
_UNITS_MS = (
    ("y", 365 * 24 * 3600 * 1000),
    ("w", 7 * 24 * 3600 * 1000),
    ("d", 24 * 3600 * 1000),
    ("h", 3600 * 1000),
    ("m", 60 * 1000),
    ("s", 1000),
    ("ms", 1),
)
_MAX_MS = (1 << 63) // 1_000_000  # Go's time.Duration limit, in milliseconds
_GO_FLOAT = re.compile(
    r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:inf|infinity|nan))\Z"
)


class DurationError(ValueError):
    """A string that is not a Prometheus duration; the message says what would be valid."""


@dataclass(frozen=True, slots=True, order=True)
class Duration:
    """A whole number of milliseconds, Prometheus's duration resolution."""

    milliseconds: int

    @classmethod
    def parse(cls, text: str) -> Duration:
        """Units y, w, d, h, m, s, ms in that order, integers only; a bare `0` is allowed."""
        if text == "0":
            return cls(0)
        match = _DURATION.match(text) if text else None
        if match is None:
            raise DurationError(f"{_go_quote(text)} is not a duration (e.g. 15s, 1m, 1h30m)")
        total = 0
        for group, (_, unit_ms) in zip(match.groups(), _UNITS_MS, strict=True):
            if group is not None:
                total += int(group) * unit_ms
        if total >= _MAX_MS:
            raise DurationError(f"{_go_quote(text)} is out of range (at most about 292y)")
        return cls(total)

    @property
    def seconds(self) -> float:
        return self.milliseconds / 1000

    def __bool__(self) -> bool:
        return self.milliseconds != 0

    def __str__(self) -> str:
        """Prometheus's spelling: `1m30s`, `90d`; years and weeks only when they divide exactly."""
        ms = self.milliseconds
        if ms == 0:
            return "0s"
        out = []
        for unit, unit_ms in _UNITS_MS:
            if unit in ("y", "w") and ms % unit_ms:
                continue
            count, ms = divmod(ms, unit_ms)
            if count:
                out.append(f"{count}{unit}")
        return "".join(out)


def parse_seconds_or_duration(text: str) -> int:
    """Milliseconds of float seconds (`15`, `1.5`) or of a Prometheus duration (`1m30s`), as
    Prometheus's API reads `step`, `timeout` and its other duration parameters."""
    if _GO_FLOAT.match(text):
        seconds = float(text)
        if not math.isfinite(seconds) or abs(seconds) * 1e9 >= 2**63:
            raise DurationError(
                f"cannot parse {_go_quote(text)} to a valid duration. It overflows int64"
            )
        return round(seconds * 1000)
    try:
        return Duration.parse(text).milliseconds
    except DurationError:
        raise DurationError(f"cannot parse {_go_quote(text)} to a valid duration") from None


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
