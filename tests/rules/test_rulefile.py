"""Rule files that must not load, and what the error says (file, line, group, rule, why)."""

from __future__ import annotations

import pytest

from vigil.rules import AlertingRuleSpec, RecordingRuleSpec, RuleFileError, parse_rule_file
from vigil.rules.check import conflicting_alert_labels, duplicate_rules, short_for_warnings

# (name, rule file, substrings the error must contain)
BAD_FILES = [
    (
        "invalid YAML names its line",
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: [1\n",
        ["rules.yml:6:", "invalid YAML"],
    ),
    (
        "PromQL error names group, rule and position",
        "groups:\n  - name: g\n    rules:\n      - record: ok\n        expr: up\n"
        "      - record: broken\n        expr: 'sum(up'\n",
        [
            'rules.yml: 7:15: group "g", rule 2, "broken": could not parse expression: '
            "1:7: parse error: unclosed left parenthesis"
        ],
    ),
    (
        "an expression nested past the parser's bounds is refused, not parsed",
        "groups:\n  - name: g\n    rules:\n      - record: deep\n        expr: '"
        + "(" * 10_000
        + "1"
        + ")" * 10_000
        + "'\n",
        ['rules.yml: 5:15: group "g", rule 1, "deep": could not parse expression', "nested"],
    ),
    (
        "template error at load time",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n"
        "        annotations:\n          summary: '{{ $label.x }}'\n",
        ['group "g", rule 1, "A": annotation "summary":', 'undefined variable "$label"'],
    ),
    (
        "template error in a label",
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n"
        "        labels:\n          team: '{{ if }}'\n",
        ['rule 1, "A": label "team":'],
    ),
    (
        "unknown key",
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: up\n        fro: 5m\n",
        ["rules.yml:6:", "unknown key"],
    ),
    (
        "record and alert both set",
        "groups:\n  - name: g\n    rules:\n      - record: x\n        alert: y\n        expr: up\n",
        ["only one of 'record' and 'alert' must be set"],
    ),
    (
        "expr missing",
        "groups:\n  - name: g\n    rules:\n      - record: x\n",
        ['group "g", rule 1, "x": field \'expr\' must be set in rule'],
    ),
    (
        "bad recording rule name",
        "groups:\n  - name: g\n    rules:\n      - record: 'a-b'\n        expr: up\n",
        ["invalid recording rule name: a-b"],
    ),
    (
        "for in a recording rule",
        "groups:\n  - name: g\n    rules:\n      - record: x\n        expr: up\n        for: 1m\n",
        ["invalid field 'for' in recording rule"],
    ),
    (
        "repeated group name",
        "groups:\n  - name: g\n    rules: []\n  - name: g\n    rules: []\n",
        ['groupname: "g" is repeated in the same file'],
    ),
    (
        "bad duration",
        "groups:\n  - name: g\n    interval: 5 minutes\n    rules: []\n",
        ["rules.yml:3:", "is not a duration"],
    ),
]


@pytest.mark.parametrize(
    ("text", "wanted"), [c[1:] for c in BAD_FILES], ids=[c[0] for c in BAD_FILES]
)
def test_bad_rule_files(text: str, wanted: list[str]) -> None:
    with pytest.raises(RuleFileError) as caught:
        parse_rule_file(text, "rules.yml")
    message = str(caught.value)
    assert [w for w in wanted if w not in message] == [], message


def test_good_rule_file_and_group_labels() -> None:
    rule_file = parse_rule_file(
        """
groups:
  - name: g
    interval: 30s
    query_offset: 1m
    limit: 10
    labels: {team: infra}
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 10m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.job }} down"}
""",
        "rules.yml",
    )
    [group] = rule_file.groups
    assert (group.interval_ms, group.query_offset_ms, group.limit) == (30_000, 60_000, 10)
    assert dict(group.labels) == {"team": "infra"}
    record, alert = group.rules
    assert isinstance(record, RecordingRuleSpec) and record.record == "job:up:sum"
    assert isinstance(alert, AlertingRuleSpec)
    assert (alert.for_ms, alert.keep_firing_for_ms) == (300_000, 600_000)
    assert dict(alert.annotations) == {"summary": "{{ $labels.job }} down"}


def test_ignore_unknown_fields() -> None:
    text = "groups:\n  - name: g\n    owner: x\n    rules:\n      - record: x\n        expr: up\n"
    with pytest.raises(RuleFileError):
        parse_rule_file(text, "rules.yml")
    assert parse_rule_file(text, "rules.yml", ignore_unknown_fields=True).rule_count == 1


LINT_CASES = [
    (
        "for shorter than the interval",
        "groups:\n  - name: g\n    interval: 1m\n    rules:\n"
        "      - alert: A\n        expr: up\n        for: 30s\n",
        ['group "g", alert "A" (line 5): for: 30s is shorter than the evaluation interval 60s'],
    ),
    (
        "one alert name, conflicting labels",
        "groups:\n  - name: g\n    rules:\n"
        "      - alert: A\n        expr: up > 1\n        labels: {severity: warning}\n"
        "      - alert: A\n        expr: up > 2\n        labels: {severity: critical}\n",
        ['alert "A" is defined 2 times with conflicting labels (severity)'],
    ),
    ("clean", "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up\n", []),
]


@pytest.mark.parametrize(
    ("text", "wanted"), [c[1:] for c in LINT_CASES], ids=[c[0] for c in LINT_CASES]
)
def test_lints(text: str, wanted: list[str]) -> None:
    rule_file = parse_rule_file(text, "rules.yml")
    warnings = short_for_warnings(rule_file, 60_000) + conflicting_alert_labels(rule_file)
    assert [w.split(": its")[0].split(", so")[0] for w in warnings] == wanted


def test_duplicate_rules_lint_matches_promtool() -> None:
    text = (
        "groups:\n  - name: a\n    rules:\n"
        "      - record: x\n        expr: up\n      - record: x\n        expr: up\n"
        "  - name: b\n    rules:\n      - record: x\n        expr: up\n"
        "      - record: x\n        expr: up\n        labels: {k: v}\n"
    )
    dups = duplicate_rules(parse_rule_file(text, "rules.yml"))
    assert [(d.metric, dict(d.labels)) for d in dups] == [("x", {})]
