"""`vigil test rules` steps subqueries written without a step by the test file's
evaluation_interval (1m when unset), in expressions and in rules, as `promtool test rules` does."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import peer
from vigil.cmd import main

FIXTURES = Path(__file__).parent / "fixtures" / "subquery-step"


def _vigil(name: str) -> tuple[int, str]:
    out = io.StringIO()
    old = os.getcwd()
    os.chdir(FIXTURES)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            status = main(["test", "rules", name])
    finally:
        os.chdir(old)
    return status, out.getvalue()


@pytest.mark.parametrize(
    "name", ["evaluation-interval-15s.test.yml", "evaluation-interval-unset.test.yml"]
)
def test_subquery_step_follows_evaluation_interval_like_promtool(name: str) -> None:
    promtool = subprocess.run(
        [peer("promtool"), "test", "rules", name],
        cwd=FIXTURES,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    status, output = _vigil(name)
    assert promtool.returncode == 0, promtool.stdout
    assert status == 0, output
