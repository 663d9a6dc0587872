"""Upstream promqltest scripts against vigil's engine: pass counts may only go up."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE as KIT
from vigil.promql.testing import FileReport, run_script

CONFORMANCE = KIT / "promqltest"
BASELINE = Path(__file__).with_name("promqltest_baseline.json")


def test_promqltest_pass_counts_never_drop(summary: Callable[[str], None]) -> None:
    baseline: dict[str, int] = json.loads(BASELINE.read_text())
    scripts = sorted(CONFORMANCE.glob("*.test"))
    assert len(scripts) == 21, f"expected the 21 promqltest scripts in {CONFORMANCE}"
    reports: list[FileReport] = [run_script(path.read_text(), path.stem) for path in scripts]
    for r in reports:
        summary(
            f"promqltest {r.name:22s} {r.passed:4d} passed {r.failed:4d} failed {r.skipped:4d} skipped"
        )
    dropped = {
        r.name: (r.passed, baseline[r.name], r.failures)
        for r in reports
        if r.passed < baseline.get(r.name, 0)
    }
    assert not dropped, dropped


FAIL_REGEX_SCRIPT = """
load 1m
\tmetric{{instance="a"}} 1 2 3
\tmetric{{instance="b"}} 1 2 3

eval instant at 1m metric + on() metric
\texpect fail regex: {regex}
"""


@pytest.mark.parametrize(
    ("regex", "passed", "failed"),
    [
        ("one-to-one", 0, 1),
        ("(.|.)*x", 0, 1),
        ("(.|.)*many-to-many matching", 1, 0),
    ],
)
def test_fail_regex_is_searched_by_re2(regex: str, passed: int, failed: int) -> None:
    """`(.|.)*x` against an error of ~80 characters would backtrack for ever with Python's re."""
    report = run_script(FAIL_REGEX_SCRIPT.format(regex=regex), "fail_regex")
    assert (report.passed, report.failed) == (passed, failed), report.failures


def test_fail_regex_re2_refuses_is_a_script_error() -> None:
    with pytest.raises(ValueError, match=r"line 6: error parsing regexp: invalid or unsupported"):
        run_script(FAIL_REGEX_SCRIPT.format(regex="(?=x)"), "fail_regex")
