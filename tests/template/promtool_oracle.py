"""Renders alert annotation templates with the real `promtool test rules`, to compare against vigil."""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from vigil.template._parse import go_unquote


@dataclass(frozen=True)
class AlertCase:
    template: str
    labels: Mapping[str, str]
    value: float


_NEVER = "\u2400never matches"
_BLOCK = re.compile(r"alertname: (T\d+), time: .*?got:\[(.*?)\n\s*\]", re.S)
_ANNOTATION = re.compile(r'Annotations:\{t="((?:[^"\\]|\\.)*)"\}')


def _series_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    return repr(v)


def write_unit_test(workdir: Path, cases: Sequence[AlertCase], expected: Sequence[str]) -> None:
    """One alerting rule per case (annotation `t`) and a promtool unit test expecting `expected`."""
    rules = []
    tests = []
    series = []
    for i, (case, want) in enumerate(zip(cases, expected, strict=True)):
        sel = ",".join(f'{k}="{v}"' for k, v in case.labels.items())
        rules.append({"alert": f"T{i}", "expr": f"s{i} + 0", "annotations": {"t": case.template}})
        series.append({"series": f"s{i}{{{sel}}}", "values": _series_value(case.value)})
        tests.append(
            {
                "eval_time": "0",
                "alertname": f"T{i}",
                "exp_alerts": [{"exp_labels": dict(case.labels), "exp_annotations": {"t": want}}],
            }
        )
    (workdir / "rules.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": rules}]}, allow_unicode=True)
    )
    (workdir / "test.yml").write_text(
        yaml.safe_dump(
            {
                "rule_files": ["rules.yml"],
                "evaluation_interval": "1m",
                "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": tests}],
            },
            allow_unicode=True,
        )
    )


def run_unit_test(promtool: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, "test", "rules", "test.yml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def render(promtool: str, workdir: Path, cases: Sequence[AlertCase]) -> list[str]:
    """The annotation `t` Prometheus renders for each case (one alerting rule and unit test per case)."""
    write_unit_test(workdir, cases, [_NEVER] * len(cases))
    proc = run_unit_test(promtool, workdir)
    got: dict[str, str] = {}
    for block in _BLOCK.finditer(proc.stdout + proc.stderr):
        m = _ANNOTATION.search(block.group(2))
        if m:
            got[block.group(1)] = go_unquote('"' + m.group(1) + '"')
    missing = [i for i in range(len(cases)) if f"T{i}" not in got]
    if missing:
        raise AssertionError(
            f"promtool gave no annotation for cases {missing}:\n{proc.stdout}{proc.stderr}"
        )
    return [got[f"T{i}"] for i in range(len(cases))]


_CHECK_ERROR = re.compile(r'annotation "t": (.*)$', re.M)


def parse_error(promtool: str, workdir: Path, template: str) -> str:
    """The error `promtool check rules` reports when an annotation template does not parse."""
    rule = {"alert": "T", "expr": "up", "annotations": {"t": template}}
    (workdir / "check.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "g", "rules": [rule]}]}, allow_unicode=True)
    )
    proc = subprocess.run(
        [promtool, "check", "rules", "check.yml"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    m = _CHECK_ERROR.search(proc.stdout + proc.stderr)
    return m.group(1) if m else ""
