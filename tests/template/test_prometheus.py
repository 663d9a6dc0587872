"""Prometheus's template functions and alert annotation expansion, checked against Prometheus's outputs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CONFORMANCE, FIXTURES
from tests.template.promtool_recorded import PROMTOOL_RECORDED, RECORDED_LABELS, RECORDED_VALUE
from vigil.template import TemplateError
from vigil.template.prometheus import (
    QueryResultSample,
    expand_alert_template,
    parse_prometheus_template,
)


def render(text: str, data: Any = None, query: Any = None, external_url: str = "") -> str:
    return parse_prometheus_template("t", text, query, external_url).execute(data)


# Values from Prometheus's template_test.go and the function semantics it documents.
FUNC_CASES: list[tuple[str, str]] = [
    ("{{ humanize 1234567 }}", "1.235M"),
    ("{{ humanize 0 }}|{{ humanize 1 }}|{{ humanize 12 }}|{{ humanize 1234 }}", "0|1|12|1.234k"),
    ("{{ humanize 0.1 }}|{{ humanize 0.0012345 }}|{{ humanize 1e-9 }}", "100m|1.234m|1n"),
    ('{{ humanize 1e30 }}|{{ humanize -1234.5 }}|{{ humanize "12345" }}', "1e+06Y|-1.234k|12.35k"),
    (
        "{{ humanize1024 1024 }}|{{ humanize1024 1048576.0 }}|{{ humanize1024 0.12 }}",
        "1ki|1Mi|0.12",
    ),
    ("{{ humanize1024 1 }}|{{ humanize1024 -2048 }}|{{ humanize1024 1e30 }}", "1|-2ki|8.272e+05Yi"),
    (
        "{{ humanizeDuration 3600 }}|{{ humanizeDuration 0 }}|{{ humanizeDuration 0.5 }}",
        "1h 0m 0s|0s|500ms",
    ),
    (
        "{{ humanizeDuration 90061.5 }}|{{ humanizeDuration 59.99 }}|{{ humanizeDuration 65 }}",
        "1d 1h 1m 1s|59.99s|1m 5s",
    ),
    ("{{ humanizeDuration -3700 }}|{{ humanizeDuration 0.000001234 }}", "-1h 1m 40s|1.234us"),
    (
        '{{ humanizePercentage 0.1234 }}|{{ humanizePercentage 1 }}|{{ humanizePercentage "0.5" }}',
        "12.34%|100%|50%",
    ),
    ("{{ humanizeTimestamp 1435065584.128 }}", "2015-06-23 13:19:44.128 +0000 UTC"),
    (
        "{{ humanizeTimestamp 0 }}|{{ toTime 1435065584 }}",
        "1970-01-01 00:00:00 +0000 UTC|2015-06-23 13:19:44 +0000 UTC",
    ),
    (
        '{{ title "hello wORLD foo-bar_baz" }}|{{ toUpper "abc" }}|{{ toLower "ABC" }}',
        "Hello WORLD Foo-Bar_baz|ABC|abc",
    ),
    ('{{ match "^h.*" "hello" }}|{{ match "x" "abc" }}', "true|false"),
    (
        '{{ reReplaceAll "(\\\\w+):(\\\\d+)" "$2-$1 ${1}x $1x $$" "host:9100" }}',
        "9100-host hostx  $",
    ),
    (
        '{{ safeHtml "<b>" }}|{{ stripPort "host:9100" }}|{{ stripPort "[::1]:80" }}|{{ stripPort "host" }}',
        "<b>|host|::1|host",
    ),
    (
        '{{ stripDomain "host.example.com:9100" }}|{{ stripDomain "1.2.3.4:80" }}|{{ stripDomain "foo.bar" }}',
        "host:9100|1.2.3.4:80|foo",
    ),
    (
        '{{ parseDuration "1h30m" }}|{{ parseDuration "100ms" }}|{{ parseDuration "1d" }}',
        "5400|0.1|86400",
    ),
    (
        '{{ graphLink "up == 0" }}|{{ tableLink "rate(x[5m])" }}',
        "/graph?g0.expr=up+%3D%3D+0&g0.tab=0|/graph?g0.expr=rate%28x%5B5m%5D%29&g0.tab=1",
    ),
    ('{{ with args 1 "a" }}{{ .arg0 }}{{ .arg1 }}{{ .arg2 }}{{ end }}', "1a<no value>"),
]


@pytest.mark.parametrize(("text", "want"), FUNC_CASES)
def test_functions(text: str, want: str) -> None:
    assert render(text) == want


def test_url_functions() -> None:
    text = "{{ externalURL }}|{{ pathPrefix }}"
    assert render(text, external_url="https://prom.example/sub") == "https://prom.example/sub|/sub"


def fake_query(expr: str) -> list[QueryResultSample]:
    """A stand-in for the PromQL engine the rule engine plugs in."""
    if expr == "up":
        return [
            QueryResultSample({"instance": "b:9100", "job": "node"}, 1.0),
            QueryResultSample({"instance": "a:9100", "job": "node"}, 0.0),
        ]
    if expr == "version":
        return [QueryResultSample({"__value__": "2.42"}, 0.0)]
    return []


QUERY_CASES: list[tuple[str, str]] = [
    ('{{ query "up" | first | label "instance" }}', "b:9100"),
    ('{{ query "up" | first | value }}', "1"),
    (
        '{{ range query "up" | sortByLabel "instance" }}{{ .Labels.instance }}={{ .Value }} {{ end }}',
        "a:9100=0 b:9100=1 ",
    ),
    ('{{ with query "nothing" }}x{{ else }}none{{ end }}|{{ len (query "up") }}', "none|2"),
    ('{{ query "version" | first | strvalue }}', "2.42"),
    ('{{ label "x" nil }}|{{ value nil }}|{{ strvalue nil }}', "|0|"),
]


@pytest.mark.parametrize(("text", "want"), QUERY_CASES)
def test_query_functions(text: str, want: str) -> None:
    assert render(text, query=fake_query) == want


def test_first_of_empty_result_is_an_error() -> None:
    with pytest.raises(
        TemplateError, match=r"error calling first: first\(\) called on vector with no elements"
    ):
        render('{{ query "nothing" | first }}', query=fake_query)


def test_typed_arguments_are_checked() -> None:
    with pytest.raises(
        TemplateError, match=r"at <\$x>: wrong type for value; expected string; got float64"
    ):
        render("{{ $x := 1.5 }}{{ title $x }}")


def test_tmpl_executes_a_defined_template() -> None:
    assert render('{{ define "x" }}<{{ . }}>{{ end }}{{ tmpl "x" 3 }}') == "<3>"


@pytest.mark.parametrize(("text", "want"), PROMTOOL_RECORDED, ids=range(len(PROMTOOL_RECORDED)))
def test_matches_promtool_recorded(text: str, want: str) -> None:
    got = expand_alert_template(
        "__alert_T", text, RECORDED_LABELS, RECORDED_VALUE, {}, "", lambda q: []
    )
    assert got == want


def test_expansion_errors_read_as_prometheus_writes_them() -> None:
    assert expand_alert_template("__alert_A", "{{ $label.x }}", {}, 1.0, {}, "", None) == (
        "<error expanding template: error parsing template __alert_A: "
        'template: __alert_A:1: undefined variable "$label">'
    )


def test_external_labels_and_url() -> None:
    text = "{{ $externalLabels.cluster }} {{ $externalURL }} {{ .ExternalLabels.nope }}|"
    got = expand_alert_template("n", text, {}, 0.0, {"cluster": "c1"}, "http://x", None)
    assert got == "c1 http://x |"


def _rules_by_alert(path: Path) -> dict[str, dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    return {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}


def _annotation_oracles() -> list[tuple[str, str, dict[str, str], str]]:
    """(alert, template, sample labels, expected text) from promtool unit tests' exp_annotations."""
    cases = []
    test_file = CONFORMANCE / "promtool" / "unittest.yml"
    doc = yaml.safe_load(test_file.read_text())
    rules: dict[str, dict[str, Any]] = {}
    for name in doc["rule_files"]:
        rules |= _rules_by_alert(test_file.parent / name)
    for group in doc["tests"]:
        for alert_test in group.get("alert_rule_test", []):
            rule = rules[alert_test["alertname"]]
            for exp in alert_test.get("exp_alerts", []):
                sample = {
                    k: v
                    for k, v in exp.get("exp_labels", {}).items()
                    if k not in rule.get("labels", {})
                }
                for key, want in exp.get("exp_annotations", {}).items():
                    cases.append((rule["alert"], rule["annotations"][key], sample, want))
    return cases


ORACLES = _annotation_oracles()


def test_conformance_files_have_annotation_oracles() -> None:
    assert len(ORACLES) >= 2


@pytest.mark.parametrize(("alert", "text", "labels", "want"), ORACLES)
def test_promtool_unittest_annotations(
    alert: str, text: str, labels: dict[str, str], want: str
) -> None:
    assert expand_alert_template(f"__alert_{alert}", text, labels, 0.0, {}, "", None) == want


SEED_RULES = FIXTURES / "seed-stack" / "rules" / "node-server-alerts.yml"


@pytest.mark.parametrize(
    ("value", "want"),
    [
        (0.95, "0.95"),
        (0.9123456789, "0.9123456789"),
        (1.0, "1"),
        ((1000 - 3) / 1000 * 0.9, "0.8973"),
    ],
)
def test_seed_rule_descriptions(value: float, want: str) -> None:
    rule = _rules_by_alert(SEED_RULES)["HighMemoryUsage"]
    got = expand_alert_template(
        "__alert_HighMemoryUsage", rule["annotations"]["description"], {}, value, {}, "", None
    )
    assert got == f"Memory usage is above 90% for more than 2 minutes. Current value: {want}"
