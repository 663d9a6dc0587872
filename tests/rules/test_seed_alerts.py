"""The seed stack's memory alerts, tested in promtool's format by promtool and by vigil."""

from __future__ import annotations

import contextlib
import io
import subprocess
from pathlib import Path

import pytest

from tests.conftest import peer
from vigil.cmd import main

SEED_TEST = Path(__file__).parent / "fixtures" / "seed-alerts.test.yml"


def test_seed_alerts_under_vigil() -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["test", "rules", str(SEED_TEST)])
    assert (status, err.getvalue(), out.getvalue().splitlines()[1]) == (0, "", "  SUCCESS")


@pytest.mark.slow
def test_seed_alerts_under_promtool() -> None:
    done = subprocess.run(
        [peer("promtool"), "test", "rules", SEED_TEST.name],
        cwd=SEED_TEST.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stderr) == (0, ""), done.stdout
