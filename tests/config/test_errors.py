"""Broken configs give `file:line: key.path: message` errors that say what would be valid."""

from __future__ import annotations

import pytest

from vigil.config import ConfigError, parse_config

CASES = [
    pytest.param(
        "global:\n  scrape_interval: 15s\n scrape_timeout: 10s\n",
        "prometheus.yml:3: invalid YAML: did not find expected key",
        id="bad_yaml",
    ),
    pytest.param(
        "global:\n\tscrape_interval: 15s\n",
        "prometheus.yml:2: invalid YAML: found character that cannot start any token",
        id="bad_yaml_tab",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    scrape_intervall: 15s\n",
        "prometheus.yml:3: scrape_configs[0].scrape_intervall: unknown key in a scrape config (did you mean scrape_interval?)",
        id="unknown_key",
    ),
    pytest.param(
        "scrape_config:\n  - job_name: node\n",
        "prometheus.yml:1: scrape_config: unknown key in the Prometheus config (did you mean scrape_configs?)",
        id="unknown_top",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    honor_labels: maybe\n",
        'prometheus.yml:3: scrape_configs[0].honor_labels: expected true or false, got "maybe"',
        id="wrong_type_bool",
    ),
    pytest.param(
        "scrape_configs:\n  job_name: node\n",
        "prometheus.yml:2: scrape_configs: expected a list, got a mapping",
        id="wrong_type_list",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    sample_limit: -1\n",
        'prometheus.yml:3: scrape_configs[0].sample_limit: expected a non-negative integer, got "-1"',
        id="wrong_type_uint",
    ),
    pytest.param(
        "global:\n  scrape_interval: 15\n",
        'prometheus.yml:2: global.scrape_interval: "15" is not a duration (e.g. 15s, 1m, 1h30m)',
        id="bad_duration",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    scrape_interval: 1.5s\n",
        'prometheus.yml:3: scrape_configs[0].scrape_interval: "1.5s" is not a duration (e.g. 15s, 1m, 1h30m)',
        id="bad_duration2",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
        'prometheus.yml:4: scrape_configs[0].scrape_timeout: scrape_timeout 10s is longer than scrape_interval 5s for job "node"',
        id="timeout_gt_interval",
    ),
    pytest.param(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 10s\n",
        "prometheus.yml:3: global.scrape_timeout: global scrape_timeout 10s is longer than scrape_interval 5s",
        id="global_timeout",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n  - job_name: app\n  - job_name: node\n",
        'prometheus.yml:4: scrape_configs[2].job_name: duplicate job name "node" (first defined at line 2)',
        id="dup_job",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    relabel_configs:\n      - source_labels: [__address__]\n        regex: 'foo(bar'\n        target_label: x\n",
        'prometheus.yml:5: scrape_configs[0].relabel_configs[0].regex: "foo(bar" is not a valid regular expression: error parsing regexp: missing closing ): `foo(bar`',
        id="bad_regex",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    metric_relabel_configs:\n      - source_labels: [__name__]\n        regex: '(?!go_).*'\n        action: keep\n",
        'prometheus.yml:5: scrape_configs[0].metric_relabel_configs[0].regex: "(?!go_).*" is not a valid regular expression: error parsing regexp: invalid or unsupported Perl syntax: `(?!`',
        id="lookahead",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    relabel_configs:\n      - source_labels: [a]\n        action: replace\n",
        "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: the replace action requires target_label",
        id="no_target",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    relabel_configs:\n      - source_labels: [a]\n        target_label: b\n        action: hashmod\n",
        "prometheus.yml:4: scrape_configs[0].relabel_configs[0]: hashmod requires a non-zero modulus",
        id="hashmod",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    relabel_configs:\n      - action: copy\n",
        'prometheus.yml:4: scrape_configs[0].relabel_configs[0].action: unknown relabel action "copy" (one of replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase)',
        id="bad_action",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['http://localhost:9100']\n",
        'prometheus.yml:4: scrape_configs[0].static_configs[0].targets[0]: "http://localhost:9100" is not a valid hostname (a target is host:port, not a URL)',
        id="url_target",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: ''\n",
        "prometheus.yml:2: scrape_configs[0].job_name: job_name is empty",
        id="empty_job",
    ),
    pytest.param(
        "scrape_configs:\n  -\n",
        "prometheus.yml:2: scrape_configs[0]: empty or null scrape config section",
        id="null_job",
    ),
    pytest.param(
        "global:\n  scrape_interval: 15s\n  scrape_interval: 30s\n",
        'prometheus.yml:3: mapping key "scrape_interval" already defined at line 2',
        id="dup_key",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    metric_relabel_configs:\n      - regex: tmp_.*\n        target_label: x\n        action: labeldrop\n",
        "prometheus.yml:5: scrape_configs[0].metric_relabel_configs[0].target_label: labeldrop takes only regex, not target_label",
        id="labeldrop_extra",
    ),
    pytest.param(
        "global:\n  metric_name_validation_scheme: legacy\nscrape_configs:\n  - job_name: node\n    relabel_configs:\n      - target_label: 'bad-name'\n        replacement: x\n",
        'prometheus.yml:6: scrape_configs[0].relabel_configs[0].target_label: "bad-name" is not a valid target_label for replace',
        id="legacy_target",
    ),
    pytest.param(
        "rule_files:\n  - 'rules/*/x.yml'\n",
        'prometheus.yml:2: rule_files[0]: invalid rule file path "rules/*/x.yml": "*" only in the last path segment',
        id="rule_glob",
    ),
    pytest.param(
        "scrape_configs:\n  - job_name: node\n    bearer_token: a\n    bearer_token_file: b\n",
        "prometheus.yml:4: scrape_configs[0].bearer_token_file: at most one of bearer_token and bearer_token_file",
        id="bearer_both",
    ),
    pytest.param(
        "remote_write:\n  - name: x\n",
        "prometheus.yml:2: remote_write[0]: url for remote_write is empty",
        id="rw_url",
    ),
    pytest.param(
        "alerting:\n  alertmanagers:\n    - api_version: v1\n",
        'prometheus.yml:3: alerting.alertmanagers[0].api_version: "v1" is not one of v2',
        id="am_v1",
    ),
    pytest.param(
        "global:\n  scrape_protocols: [PrometheusText0.0.4, Foo]\n",
        'prometheus.yml:2: global.scrape_protocols[1]: unknown scrape protocol "Foo" (one of PrometheusProto, PrometheusText0.0.4, PrometheusText1.0.0, OpenMetricsText0.0.1, OpenMetricsText1.0.0)',
        id="protocol",
    ),
    pytest.param(
        "global:\n  body_size_limit: 10 MB\n",
        'prometheus.yml:2: global.body_size_limit: "10 MB" is not a size (e.g. 512KB, 10MB, 1GiB)',
        id="body",
    ),
    pytest.param(
        "otlp:\n  translation_strategy: UnderscoreEscaping\n",
        'prometheus.yml:2: otlp.translation_strategy: "UnderscoreEscaping" is not one of UnderscoreEscapingWithSuffixes, UnderscoreEscapingWithoutSuffixes, NoUTF8EscapingWithSuffixes, NoTranslation',
        id="otlp_strategy",
    ),
    pytest.param(
        "otlp:\n  promote_resource_attributes:\n    - k8s.job.name\n    - ' k8s.job.name'\n",
        'prometheus.yml:4: otlp.promote_resource_attributes[1]: duplicated promoted OTel resource attribute "k8s.job.name"',
        id="otlp_promote_duplicate",
    ),
    pytest.param(
        "otlp:\n  promote_resource_attributes: [a, '  ']\n",
        "prometheus.yml:2: otlp.promote_resource_attributes[1]: empty promoted OTel resource attribute",
        id="otlp_promote_empty",
    ),
    pytest.param(
        "global:\n  metric_name_validation_scheme: legacy\n"
        "otlp:\n  translation_strategy: NoUTF8EscapingWithSuffixes\n",
        "prometheus.yml:4: otlp.translation_strategy: OTLP translation strategy NoUTF8EscapingWithSuffixes is not allowed when UTF8 is disabled (global metric_name_validation_scheme: legacy)",
        id="otlp_utf8_needs_utf8_scheme",
    ),
]


@pytest.mark.parametrize(("text", "want"), CASES)
def test_error_names_file_line_and_key_path(text: str, want: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "prometheus.yml")
    assert str(caught.value) == want


def test_error_carries_its_parts() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config("global:\n  scrape_interval: 15\n", "conf/prometheus.yml")
    err = caught.value
    assert (err.file, err.line, err.path) == ("conf/prometheus.yml", 2, "global.scrape_interval")


def test_missing_file_is_a_config_error(tmp_path: object) -> None:
    from vigil.config import load_config

    with pytest.raises(ConfigError, match="No such file or directory"):
        load_config("/nonexistent/prometheus.yml")
