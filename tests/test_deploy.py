"""The systemd units in deploy/: systemd accepts them, and every flag their ExecStart passes
is one `vigil` accepts (a typo there would only show on a user's VM)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from vigil.cmd import build_parser

UNITS = sorted((REPO / "deploy").glob("*.service"))


def _exec_start(unit: Path) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("ExecStart="))
    return shlex.split(line.removeprefix("ExecStart="))


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_exec_start_flags_are_vigils(unit: Path) -> None:
    command = _exec_start(unit)
    assert command[0] == "/opt/vigil/bin/vigil"
    build_parser().parse_args(command[1:])  # exits (fails the test) on an unknown flag


@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_accepts_the_unit(unit: Path, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    copy = tmp_path / unit.name
    copy.write_text(unit.read_text().replace("/opt/vigil/bin/vigil", sys.executable))
    run = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True)
    problems = [
        line
        for line in run.stderr.splitlines()
        if unit.name in line and "docker.service" not in line
    ]
    assert not problems, run.stderr
    assert unit.read_text().count("Restart=always") == 1
