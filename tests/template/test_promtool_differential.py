"""vigil's template rendering against the real promtool on the same rules (slow: runs the peer)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, peer
from tests.template.promtool_oracle import AlertCase, parse_error, run_unit_test, write_unit_test
from tests.template.promtool_recorded import PROMTOOL_RECORDED, RECORDED_LABELS, RECORDED_VALUE
from tests.template.test_engine import PARSE_ERRORS
from vigil.template import TemplateError
from vigil.template.prometheus import (
    ALERT_DEFS,
    expand_alert_template,
    parse_prometheus_template,
)

pytestmark = pytest.mark.slow

TRICKY = [
    '{{ printf "%.2f" $value }}% on {{ $labels.instance }}',
    "{{ humanize $value }}B ({{ humanize1024 $value }}B) for {{ humanizeDuration $value }}",
    "{{ range $k, $v := $labels }}{{ $k }}={{ $v }} {{ end }}",
    "{{ if gt $value 0.9 }}critical{{ else if gt $value 0.5 }}warning{{ else }}ok{{ end }}: {{ humanizePercentage $value }}",
    '{{ $value }} {{ printf "%v|%g|%e|%8.3f|%-8.1f|%x" $value $value $value $value $value $value }}',
    '{{ with $labels.instance }}{{ . | stripPort | toUpper }}{{ end }} {{ $labels.job | title }} {{ reReplaceAll ":.*" "" $labels.instance }}',
    '{{ len $labels }} {{ index $labels "job" }} {{ $labels.missing }}|{{ humanizeTimestamp $value }}',
    '{{- range $labels }} [{{ . }}]{{- end }} {{ printf "%q %5s|%-5s|" $labels.job "ab" "cd" }}',
]
VALUES = [
    0.95,
    1234567.0,
    0.000123456,
    3.0,
    -42.5,
    float("nan"),
    float("inf"),
    1e21,
    86400 * 3 + 61.5,
]
LABEL_SETS = [
    {"instance": "web-1.example.com:9100", "job": "node"},
    {"instance": "[::1]:9090", "job": "prometheus", "zone": "eu-west-1a"},
]


def _cases() -> list[AlertCase]:
    cases = [AlertCase(t, RECORDED_LABELS, RECORDED_VALUE) for t, _ in PROMTOOL_RECORDED]
    for i, template in enumerate(TRICKY):
        for j, value in enumerate(VALUES):
            cases.append(AlertCase(template, LABEL_SETS[(i + j) % 2], value))
    return cases


def test_promtool_accepts_vigil_rendering(tmp_path: Path, summary: object) -> None:
    """Expectations written from vigil's output; promtool passing means both render identically."""
    promtool = peer("promtool")
    cases = _cases()
    expected = [
        re.sub(
            r"__alert_T\b",
            f"__alert_T{i}",
            expand_alert_template("__alert_T", c.template, c.labels, c.value, {}, "", lambda q: []),
        )
        for i, c in enumerate(cases)
    ]
    write_unit_test(tmp_path, cases, expected)
    proc = run_unit_test(promtool, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert callable(summary)
    summary(f"gotemplate: promtool agrees on {len(cases)} annotation renderings")


@pytest.mark.parametrize(("text", "want"), PARSE_ERRORS)
def test_parse_errors_match_promtool(tmp_path: Path, text: str, want: str) -> None:
    try:
        parse_prometheus_template("__alert_T", ALERT_DEFS + text)
        mine = ""
    except TemplateError as err:
        mine = str(err)
    assert mine == parse_error(peer("promtool"), tmp_path, text)
    assert mine == want.replace("template: t:", "template: __alert_T:")


def test_seed_rules_match_promtool(tmp_path: Path) -> None:
    """The seed stack's own rule file, fed memory figures, renders as promtool renders it."""
    promtool = peer("promtool")
    rules_file = FIXTURES / "seed-stack" / "rules" / "node-server-alerts.yml"
    total, available = 1_000_000_000.0, 12_345_678.0
    value = (total - available) / total
    rules = yaml.safe_load(rules_file.read_text())["groups"][0]["rules"]
    exp_alerts = []
    for rule in rules:
        annotations = {
            key: expand_alert_template(f"__alert_{rule['alert']}", text, {}, value, {}, "", None)
            for key, text in rule["annotations"].items()
        }
        exp_alerts.append(
            {
                "eval_time": "5m",
                "alertname": rule["alert"],
                "exp_alerts": [
                    {"exp_labels": dict(rule["labels"]), "exp_annotations": annotations}
                ],
            }
        )
    test = {
        "rule_files": [str(rules_file)],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    {"series": "node_memory_MemTotal_bytes", "values": f"{total:.0f}x10"},
                    {"series": "node_memory_MemAvailable_bytes", "values": f"{available:.0f}x10"},
                ],
                "alert_rule_test": exp_alerts,
            }
        ],
    }
    (tmp_path / "test.yml").write_text(yaml.safe_dump(test))
    proc = run_unit_test(promtool, tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
