"""`vigil check config` against `promtool check config` (Debian 2.42) on every YAML file of the
shared promtool conformance data and the seed's prometheus.yml: the verdicts must agree, except
where Prometheus 3.x (which vigil follows) differs from promtool 2.42, listed with the reason."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import CONFORMANCE, FIXTURES, peer
from vigil.config.check import TargetRules, check_config
from vigil.scrape.relabel import alertmanager_labels, populate_labels

PROMTOOL_DIR = CONFORMANCE / "promtool"
SEED_CONFIG = FIXTURES / "seed-stack" / "prometheus.yml"
RULES = TargetRules(populate_labels, alertmanager_labels)

# file -> (vigil's verdict, why it differs from promtool 2.42)
DIFFERENCES = {
    "prometheus-aws-sd-empty-region.good.yml": (
        True,
        "promtool 2.42 requires `region` in ec2_sd_configs; Prometheus 3.x reads it from IMDS at "
        "run time, so the config is valid (upstream issue 6092, the file is named .good)",
    ),
}


def _files() -> list[Path]:
    files = sorted(p for p in PROMTOOL_DIR.iterdir() if p.suffix in (".yml", ".yaml"))
    return [*files, SEED_CONFIG]


def _is_prometheus_config(path: Path) -> bool:
    """A config (possibly a broken one) rather than a rule, rule-test or file_sd file."""
    text = path.read_text()
    if not text.strip():
        return True
    first_keys = {line.split(":")[0] for line in text.splitlines() if line[:1].isalpha()}
    return not text.lstrip().startswith("-") and not first_keys & {"groups", "tests"}


def _promtool(path: Path) -> bool:
    result = subprocess.run(
        [peer("promtool"), "check", "config", path.name],
        cwd=path.parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode == 0


def test_check_config_agrees_with_promtool() -> None:
    files = _files()
    with ThreadPoolExecutor(max_workers=8) as pool:
        promtool = dict(zip(files, pool.map(_promtool, files), strict=True))
    disagreements = []
    agreed_configs = configs = 0
    for path in files:
        result = check_config(str(path), RULES)
        want = promtool[path]
        if path.name in DIFFERENCES:
            want = DIFFERENCES[path.name][0]
            assert promtool[path] != want, f"{path.name} is listed as a difference but agrees"
        if result.ok != want:
            disagreements.append(f"{path.name}: promtool ok={want}, vigil: {result.error}")
        elif _is_prometheus_config(path):
            agreed_configs += 1
        configs += _is_prometheus_config(path)
    agreed = len(files) - len(disagreements)
    print(
        f"\nvigil check config agrees with promtool check config on {agreed}/{len(files)} files "
        f"({agreed_configs}/{configs} Prometheus configs); {len(DIFFERENCES)} listed 3.x difference(s)"
    )
    assert disagreements == []


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("config_with_rule_files.yml", 'rule file "non-existent-file.yml" does not exist'),
        (
            "config_with_tls_files.yml",
            'client cert file "nonexistent_cert_file.yml" does not exist',
        ),
        (
            "url_in_scrape_targetgroup_with_relabel_config.bad.yml",
            'instance 0 in group 0: "http://bad" is not a valid hostname',
        ),
        ("prometheus-config.bad.yml", "prometheus-config.bad.yml:1: not-prometheus: unknown key"),
    ],
)
def test_failure_reasons_match_promtools(
    name: str, fragment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROMTOOL_DIR)
    result = check_config(name, RULES)
    assert result.error is not None and fragment in result.error, result.error


def test_missing_file_sd_is_a_warning_like_promtool(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(PROMTOOL_DIR)
    result = check_config("config_with_service_discovery_files.yml", RULES)
    assert (result.ok, result.warnings) == (
        True,
        (
            'file "nonexistent_file.yml" for file_sd in scrape job "prometheus" does not exist',
            'file "nonexistent_file.yml" for file_sd in alertmanager config does not exist',
        ),
    )
