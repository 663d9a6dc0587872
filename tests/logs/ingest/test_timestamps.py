"""RFC 3339 times as shippers write them, to Unix nanoseconds."""

from __future__ import annotations

import pytest

from vigil.logs.ingest.timestamps import rfc3339_ns

T = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2024-05-01T12:00:00Z", T),
        ("2024-05-01T12:00:00.123456789Z", T + 123_456_789),
        ("2024-05-01T12:00:00.1234567891234Z", T + 123_456_789),
        ("2024-05-01t12:00:00.5z", T + 500_000_000),
        ("2024-05-01 12:00:00,25Z", T + 250_000_000),
        ("2024-05-01T14:00:00+02:00", T),
        ("2024-05-01T10:30:00-0130", T),
        ("2024-05-01T12:00:00", T),
        ("1969-12-31T23:59:59Z", -(10**9)),
        ("2024-02-30T12:00:00Z", None),
        ("2024-05-01T12:00:61Z", None),
        ("2024-05-01", None),
        ("yesterday", None),
    ],
)
def test_rfc3339(text: str, want: int | None) -> None:
    assert rfc3339_ns(text) == want
