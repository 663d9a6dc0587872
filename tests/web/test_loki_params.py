"""Loki's query parameters: timestamps in every spelling Loki takes, default bounds, and the
refusals of query_range, each in Loki's words."""

from __future__ import annotations

import pytest

from vigil.web.loki_params import (
    Bounds,
    Direction,
    LokiError,
    RangeParams,
    bounds,
    parse_timestamp,
    range_params,
)

NS = 1_000_000_000
NOW = 1_700_000_000 * NS


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("", NOW),
        ("1700000000", 1_700_000_000 * NS),  # 10 digits: seconds
        ("4000000000", 4_000_000_000 * NS),  # Grafana's health check end, read as Loki reads it
        ("1700000000123456789", 1_700_000_000_123_456_789),  # longer: nanoseconds
        ("1700000000.5", 1_700_000_000_500_000_000),
        ("1700000000.1234", 1_700_000_000_123_000_000),  # float seconds keep milliseconds
        ("2023-11-14T22:13:20Z", 1_700_000_000 * NS),
        ("2023-11-14T22:13:20.000Z", 1_700_000_000 * NS),
        ("2023-11-14T23:13:20.123456789+01:00", 1_700_000_000_123_456_789),
    ],
)
def test_timestamps(text: str, want: int) -> None:
    assert parse_timestamp(text, NOW) == want


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", 'strconv.ParseInt: parsing "yesterday": invalid syntax'),
        ("2023-11-14", 'strconv.ParseInt: parsing "2023-11-14": invalid syntax'),
        (
            "99999999999999999999",
            'strconv.ParseInt: parsing "99999999999999999999": value out of range',
        ),
    ],
)
def test_bad_timestamps(text: str, message: str) -> None:
    with pytest.raises(LokiError) as caught:
        parse_timestamp(text, NOW)
    assert (caught.value.status, caught.value.message) == (400, message)


@pytest.mark.parametrize(
    ("params", "want"),
    [
        ({}, Bounds(NOW - 3600 * NS, NOW)),
        ({"since": ["15m"]}, Bounds(NOW - 900 * NS, NOW)),
        ({"end": ["1699990000"]}, Bounds((1_699_990_000 - 3600) * NS, 1_699_990_000 * NS)),
        ({"end": ["1800000000"]}, Bounds(NOW - 3600 * NS, 1_800_000_000 * NS)),  # future end
        ({"start": ["1"], "end": ["2"]}, Bounds(NS, 2 * NS)),
    ],
)
def test_bounds(params: dict[str, list[str]], want: Bounds) -> None:
    assert bounds(params, NOW) == want


@pytest.mark.parametrize(
    ("params", "want"),
    [
        (
            {"start": ["1000"], "end": ["2000"]},
            RangeParams(1000 * NS, 2000 * NS, 4 * NS, 0, 100, Direction.BACKWARD),
        ),
        (
            {"start": ["0"], "end": ["10"], "step": ["250ms"], "interval": ["2"]},
            RangeParams(0, 10 * NS, NS // 4, 2 * NS, 100, Direction.BACKWARD),
        ),
        (
            {
                "start": ["0"],
                "end": ["10"],
                "step": ["1.5"],
                "limit": ["7"],
                "direction": ["FORWARD"],
            },
            RangeParams(0, 10 * NS, 1_500_000_000, 0, 7, Direction.FORWARD),
        ),
    ],
)
def test_range_params(params: dict[str, list[str]], want: RangeParams) -> None:
    assert range_params(params, NOW) == want


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"start": ["10"], "end": ["5"]},
            "end timestamp must not be before or equal to start time",
        ),
        (
            {"step": ["0"]},
            "zero or negative query resolution step widths are not accepted. Try a positive integer",
        ),
        (
            {"step": ["100ms"]},
            "exceeded maximum resolution of 11,000 points per timeseries. "
            "Try decreasing the query resolution (?step=XX)",
        ),
        ({"step": ["soon"]}, 'invalid parameter "step": cannot parse "soon" to a valid duration'),
        ({"interval": ["-1"]}, "interval must be >= 0"),
        ({"limit": ["0"]}, "limit must be a positive value"),
        ({"limit": ["many"]}, 'strconv.ParseUint: parsing "many": invalid syntax'),
        ({"direction": ["sideways"]}, "invalid direction 'sideways'"),
    ],
)
def test_range_refusals(params: dict[str, list[str]], message: str) -> None:
    with pytest.raises(LokiError) as caught:
        range_params(params, NOW)
    assert (caught.value.status, caught.value.message) == (400, message)
