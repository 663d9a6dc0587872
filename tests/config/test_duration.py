"""Prometheus durations: what parses, what does not, and how they print."""

from __future__ import annotations

import pytest

from vigil.config import Duration, DurationError
from vigil.config.duration import parse_seconds_or_duration


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


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("15", 15_000),
        ("1.5", 1_500),
        (".5", 500),
        ("+5", 5_000),
        ("1e1", 10_000),
        ("-1", -1_000),  # the API's handlers refuse a step that is not positive
        ("0", 0),
        ("1m30s", 90_000),
        ("100ms", 100),
        ("1h", 3_600_000),
    ],
)
def test_seconds_or_duration(text: str, ms: int) -> None:
    assert parse_seconds_or_duration(text) == ms


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1m1h", 'cannot parse "1m1h" to a valid duration'),  # units must descend
        ("1m1m", 'cannot parse "1m1m" to a valid duration'),  # each at most once
        ("1.5s", 'cannot parse "1.5s" to a valid duration'),
        ("1_0", 'cannot parse "1_0" to a valid duration'),  # Python's float() would take it
        (" 15", 'cannot parse " 15" to a valid duration'),
        ("", 'cannot parse "" to a valid duration'),
        ("Inf", 'cannot parse "Inf" to a valid duration. It overflows int64'),
        ("1e10", 'cannot parse "1e10" to a valid duration. It overflows int64'),
    ],
)
def test_seconds_or_duration_rejects(text: str, error: str) -> None:
    with pytest.raises(DurationError) as caught:
        parse_seconds_or_duration(text)
    assert str(caught.value) == error
