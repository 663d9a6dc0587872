"""Upstream promqltest scripts against vigil's engine: pass counts may only go up."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

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
