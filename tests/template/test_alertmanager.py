"""Alertmanager's template functions; the ones amtool 0.25 has are also checked against it."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest

from tests.conftest import peer
from vigil.template import GoTime, Template
from vigil.template.alertmanager import GoDuration, alertmanager_funcs

NOW = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
STARTS = GoTime(dt.datetime(2024, 1, 1, 1, 2, 3, 500000, tzinfo=dt.UTC))


def render(text: str, data: object = None) -> str:
    funcs = alertmanager_funcs(lambda: NOW)
    return Template.parse("t", text, funcs, missing_key="zero").execute(data)


# Outputs recorded from `amtool template render` (Alertmanager 0.25) for the functions it has.
AMTOOL_CASES: list[tuple[str, str]] = [
    ('{{ "hELLO wORLD they\'re" | title }}', "Hello World They're"),
    ('{{ title "foo-bar_baz o\'neil 3rd" }}', "Foo-Bar_baz O'neil 3Rd"),
    ('{{ toUpper "a" }}|{{ toLower "AbC" }}', "A|abc"),
    ('{{ join "," (stringSlice "a" "b") }}', "a,b"),
    (
        '{{ match "a+" "caat" }}|{{ reReplaceAll "a(b)" "x$1" "zabz" }}|{{ safeHtml "<b>" }}',
        "true|zxbz|<b>",
    ),
]

# Newer Alertmanager functions (not in 0.25's amtool), from their Go definitions.
NEWER_CASES: list[tuple[str, str]] = [
    ('{{ trimSpace "  x \\n" }}|{{ humanizeDuration 90 }}', "x|1m 30s"),
    ('{{ toJson (stringSlice "<a>" "b&") }}', '["\\u003ca\\u003e","b\\u0026"]'),
    ("{{ toJson . }}", '{"n":1.5,"t":"2024-01-01T01:02:03.5Z"}'),
    (
        '{{ date "2006-01-02T15:04:05.000Z07:00 Mon Jan _2 3PM" .t }}',
        "2024-01-01T01:02:03.500Z Mon Jan  1 1AM",
    ),
    (
        '{{ tz "Europe/Paris" .t }}|{{ date "15:04 MST -07:00" (tz "Europe/Paris" .t) }}',
        "2024-01-01 02:02:03.5 +0100 CET|02:02 CET +01:00",
    ),
    ("{{ since .t }}", "26h2m1.5s"),
]


@pytest.mark.parametrize(("text", "want"), AMTOOL_CASES + NEWER_CASES)
def test_functions(text: str, want: str) -> None:
    assert render(text, {"t": STARTS, "n": 1.5}) == want


@pytest.mark.parametrize(
    ("nanos", "want"),
    [
        (0, "0s"),
        (1500, "1.5µs"),
        (2_000_000, "2ms"),
        (3600 * 10**9, "1h0m0s"),
        (-61 * 10**9, "-1m1s"),
    ],
)
def test_duration_string(nanos: int, want: str) -> None:
    assert str(GoDuration(nanos)) == want


@pytest.mark.slow
@pytest.mark.parametrize(("text", "want"), AMTOOL_CASES)
def test_amtool_agrees(tmp_path: Path, text: str, want: str) -> None:
    (tmp_path / "empty.tmpl").write_text('{{ define "unused" }}{{ end }}')
    proc = subprocess.run(
        [
            peer("amtool"),
            "template",
            "render",
            f"--template.glob={tmp_path / 'empty.tmpl'}",
            f"--template.text={text}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (proc.returncode, proc.stdout.rstrip("\n")) == (0, render(text))
