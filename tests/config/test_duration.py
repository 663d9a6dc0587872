"""Prometheus durations: what parses, what does not, and how they print."""

from __future__ import annotations

import pytest

from vigil.config import Duration, DurationError


@pytest.mark.parametrize(
    ("text", "ms", "printed"),
    [
        ("0", 0, "0s"),
        ("15s", 15_000, "15s"),
        ("100ms", 100, "100ms"),
        ("1m", 60_000, "1m"),
        ("1h30m", 5_400_000, "1h30m"),
        ("90m", 5_400_000, "1h30m"),
        ("1d", 86_400_000, "1d"),
        ("1w", 604_800_000, "1w"),
        ("1y", 31_536_000_000, "1y"),
        ("1y2w3d4h5m6s7ms", 33_019_506_007, "382d4h5m6s7ms"),  # y, w only when exact
        ("8d", 691_200_000, "8d"),
    ],
)
def test_parse_and_print(text: str, ms: int, printed: str) -> None:
    duration = Duration.parse(text)
    assert (duration.milliseconds, str(duration)) == (ms, printed)


@pytest.mark.parametrize("text", ["", "15", "1.5s", "-1s", "1s1m", "1 s", "1S", "1h ", "s", "300y"])
def test_rejects(text: str) -> None:
    with pytest.raises(DurationError):
        Duration.parse(text)
