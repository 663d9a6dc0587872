"""Upstream promqltest scripts against vigil's engine: pass counts may only go up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vigil.promql.testing import FileReport, run_script

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "promqltest"
BASELINE = Path(__file__).with_name("promqltest_baseline.json")


@pytest.mark.skipif(not CONFORMANCE.is_dir(), reason="conformance kit not present")
def test_promqltest_pass_counts_never_drop() -> None:
    baseline: dict[str, int] = json.loads(BASELINE.read_text())
    reports: list[FileReport] = [
        run_script(path.read_text(), path.stem) for path in sorted(CONFORMANCE.glob("*.test"))
    ]
    print(f"\n{'file':24s} {'pass':>5s} {'fail':>5s} {'skip':>5s}")
    for r in reports:
        print(f"{r.name:24s} {r.passed:5d} {r.failed:5d} {r.skipped:5d}")
    dropped = {
        r.name: (r.passed, baseline[r.name], r.failures)
        for r in reports
        if r.passed < baseline.get(r.name, 0)
    }
    assert not dropped, dropped
