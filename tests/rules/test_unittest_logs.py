"""`vigil test rules` with log input: `log_rule_files` (LogQL) evaluated over `input_logs`
through the same unit-test machinery as promtool's files, PromQL rules beside them."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.cmd import main

FIXTURE = Path(__file__).parent / "fixtures" / "log-rules" / "app-logs.test.yml"
LOG_RULES = """\
groups:
  - name: logs
    rules:
      - alert: Errors
        expr: count_over_time({app="a"} |= "ERROR" [1m]) > 1
"""
PROM_RULES = """\
groups:
  - name: metrics
    rules:
      - alert: Down
        expr: up == 0
"""
HEAD = "log_rule_files: [logs.yml]\nrule_files: [prom.yml]\ntests:\n  - interval: 1m\n"
LOGS = """\
    input_logs:
      - stream: '{app="a"}'
        values: [[10s, "ERROR x"], [20s, "ERROR y"], [30s, "INFO z"]]
"""
SERIES = "    input_series:\n      - {series: 'up{job=\"j\"}', values: '1 0'}\n"


def _alert_test(name: str, at: str, labels: str) -> str:
    alerts = f"[{{exp_labels: {labels}}}]" if labels else "[]"
    return f"    alert_rule_test:\n      - {{eval_time: {at}, alertname: {name}, exp_alerts: {alerts}}}\n"


CASES = [
    ("log alert fires", HEAD + LOGS + _alert_test("Errors", "1m", "{app: a}"), 0, ""),
    ("PromQL beside it", HEAD + LOGS + SERIES + _alert_test("Down", "1m", "{job: j}"), 0, ""),
    ("no log lines", HEAD + _alert_test("Errors", "1m", ""), 0, ""),
    (
        "wrong expectation",
        HEAD + LOGS + _alert_test("Errors", "1m", ""),
        1,
        "    alertname: Errors, time: 1m, \n        exp:[], \n        got:[\n",
    ),
    (
        "regex stream",
        HEAD + LOGS.replace('{app="a"}', '{app=~"a"}') + _alert_test("Errors", "1m", ""),
        1,
        "test.yml:6: tests[0].input_logs[0]: stream: the stream's labels, e.g. '{container=\"app\"}'",
    ),
    (
        "value not a pair",
        HEAD
        + LOGS.replace('[10s, "ERROR x"]', '[10s, "ERROR x", 3]')
        + _alert_test("Errors", "1m", ""),
        1,
        'a log value is [offset, line], e.g. [30s, "ERROR boom"]',
    ),
    (
        "PromQL in a log rule file",
        HEAD.replace("logs.yml", "prom.yml", 1) + LOGS,
        1,
        'prom.yml: 5:15: group "metrics", rule 1, "Down": could not parse expression: ',
    ),
]


@pytest.mark.parametrize(("name", "text", "status", "error"), CASES, ids=[c[0] for c in CASES])
def test_log_input_cases(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    name: str,
    text: str,
    status: int,
    error: str,
) -> None:
    (tmp_path / "logs.yml").write_text(LOG_RULES)
    (tmp_path / "prom.yml").write_text(PROM_RULES)
    (tmp_path / "test.yml").write_text(text)
    got = main(["test", "rules", str(tmp_path / "test.yml")])
    err = capsys.readouterr().err
    assert (got, error in err if error else err == "") == (status, True), err


def test_the_example_file_passes(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["test", "rules", str(FIXTURE)])
    assert (status, capsys.readouterr().out) == (0, f"Unit Testing:  {FIXTURE}\n  SUCCESS\n\n")
