"""`vigil logs` output as logcli prints it: times in RFC 3339, labels not common to every
stream padded to one width, raw lines, Go's JSON lines."""

from __future__ import annotations

from datetime import UTC, timedelta, timezone
from typing import Any

import pytest

from vigil.cmd.logs_output import Printer, entries, go_json, print_entries, rfc3339

T = 1_700_000_000_000_000_000
STREAMS: list[dict[str, Any]] = [
    {"stream": {"job": "app", "level": "info"}, "values": [[str(T), "a"], [str(T + 2), "c\n"]]},
    {"stream": {"job": "app", "level": "error"}, "values": [[str(T + 1_500_000_000), "b <&>"]]},
]


@pytest.mark.parametrize(
    ("ns", "zone", "nano", "want"),
    [
        (T, UTC, False, "2023-11-14T22:13:20Z"),
        (T + 500_000_000, UTC, False, "2023-11-14T22:13:20Z"),
        (T + 500_000_000, UTC, True, "2023-11-14T22:13:20.5Z"),
        (T + 123, UTC, True, "2023-11-14T22:13:20.000000123Z"),
        (T, timezone(timedelta(hours=-5, minutes=-30)), False, "2023-11-14T16:43:20-05:30"),
    ],
)
def test_rfc3339(ns: int, zone: Any, nano: bool, want: str) -> None:
    assert rfc3339(ns, zone, nano) == want


@pytest.mark.parametrize(
    ("printer", "forward", "want"),
    [
        (
            Printer("default", UTC),
            False,
            [
                '2023-11-14T22:13:21Z {level="error"} b <&>',
                '2023-11-14T22:13:20Z {level="info"}  c',
                '2023-11-14T22:13:20Z {level="info"}  a',
            ],
        ),
        (
            Printer("default", UTC, no_labels=True),
            True,
            ["2023-11-14T22:13:20Z a", "2023-11-14T22:13:20Z c", "2023-11-14T22:13:21Z b <&>"],
        ),
        (Printer("raw", UTC), True, ["a", "c", "b <&>"]),
        (
            Printer("jsonl", UTC),
            True,
            [
                '{"labels":{"level":"info"},"line":"a","timestamp":"2023-11-14T22:13:20Z"}',
                '{"labels":{"level":"info"},"line":"c\\n","timestamp":"2023-11-14T22:13:20.000000002Z"}',
                '{"labels":{"level":"error"},"line":"b \\u003c\\u0026\\u003e",'
                '"timestamp":"2023-11-14T22:13:21.5Z"}',
            ],
        ),
    ],
)
def test_entries_as_logcli_prints_them(printer: Printer, forward: bool, want: list[str]) -> None:
    lines, common = print_entries(entries(STREAMS, forward), printer)
    assert (lines, common) == (want, {"job": "app"})


def test_go_json_escapes_line_separators() -> None:
    assert go_json({"line": "a\u2028b"}) == '{"line":"a\\u2028b"}'
