"""Upstream promqltest scripts against vigil's engine: pass counts may only go up."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE as KIT
from vigil.model.histogram import CounterResetHint, FloatHistogram, Span
from vigil.promql.testing import FileReport, parse_histogram, run_script

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


HISTOGRAM_SCRIPT = """
load 5m
\th {{schema:0 sum:5 count:4 z_bucket:1 z_bucket_w:0.001 buckets:[1 2] n_buckets:[1] offset:1}}+{{sum:2 count:1 buckets:[1] offset:1}}x2
\tg {{count:3 sum:3 buckets:[3]}}x1 _ stale

eval instant at 10m h
\th {{schema:0 sum:9 count:6 z_bucket:1 z_bucket_w:0.001 buckets:[3 2] n_buckets:[1] offset:1}}

eval range from 0 to 15m step 5m g
\tg {{count:3 sum:3 buckets:[3]}}x1 _ _

eval instant at 10m histogram_count(h)
\t{} 6

eval instant at 10m h
\th {{schema:0 sum:9 count:6 buckets:[3 2] offset:1}}
"""


def test_native_histograms_load_and_compare_in_upstream_notation() -> None:
    """`{{...}}+{{...}}x2` adds the step twice; an expected histogram must match the result's
    layout (the last case leaves out the zero bucket, so it fails)."""
    report = run_script(HISTOGRAM_SCRIPT, "histograms")
    assert (report.passed, report.failed, report.skipped) == (3, 1, 0), report.failures
    assert report.failures[0].startswith("histograms:15: h:")


@pytest.mark.parametrize(
    ("literal", "want"),
    [
        ("{{}}", FloatHistogram()),
        (
            "{{schema:-1 sum:-2.5 count:3 z_bucket:1 z_bucket_w:0.5 buckets:[1 1] offset:-1 "
            "n_buckets:[0] n_offset:2 counter_reset_hint:gauge}}",
            FloatHistogram(
                schema=-1,
                sum=-2.5,
                count=3,
                zero_count=1,
                zero_threshold=0.5,
                positive_spans=(Span(-1, 2),),
                positive_buckets=(1, 1),
                negative_spans=(Span(2, 1),),
                negative_buckets=(0,),
                counter_reset_hint=CounterResetHint.GAUGE,
            ),
        ),
        (
            "{{schema:-53 count:1 custom_values:[5 10] buckets:[1]}}",
            FloatHistogram(
                schema=-53,
                count=1,
                positive_spans=(Span(0, 1),),
                positive_buckets=(1,),
                custom_values=(5, 10),
            ),
        ),
    ],
)
def test_histogram_literals(literal: str, want: FloatHistogram) -> None:
    assert parse_histogram(literal) == want
