"""`vigil check config FILE...`: the promtool-style lines and exit status."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES
from vigil.cmd import main


def test_seed_config_passes(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(FIXTURES / "seed-stack" / "prometheus.yml")
    assert main(["check", "config", path]) == 0
    rules = str(FIXTURES / "seed-stack" / "rules" / "node-server-alerts.yml")
    assert capsys.readouterr().out.splitlines() == [
        f"{path}: rule file {rules}: YAML with 1 group(s), 2 alerting rule(s); rule expressions are not checked yet",
        f"{path}: SUCCESS",
    ]


def test_one_bad_file_fails_the_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.yml", tmp_path / "bad.yml"
    good.write_text("alerting:\n  alertmanagers: []\n")
    bad.write_text("global:\n  scrape_interval: 15\n")
    assert main(["check", "config", str(good), str(bad)]) == 1
    assert capsys.readouterr().out.splitlines() == [
        f"{good}: WARNING: alerting (line 1) has no alertmanagers: alerts are never sent",
        f"{good}: SUCCESS",
        f'{bad}: FAILED: {bad}:2: global.scrape_interval: "15" is not a duration (e.g. 15s, 1m, 1h30m)',
    ]
