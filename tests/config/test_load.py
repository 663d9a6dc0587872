"""Loading prometheus.yml: Prometheus's defaults, inheritance from global, relative paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.config import Duration, load_config, parse_config
from vigil.config.check import check_config
from vigil.config.http import Authorization, Secret
from vigil.config.relabel import Action
from vigil.config.scrape import DEFAULT_SCRAPE_PROTOCOLS, PROTO_FIRST_SCRAPE_PROTOCOLS
from vigil.model import Labels


def test_empty_file_is_the_default_config() -> None:
    config = parse_config("")
    glob = config.global_config
    assert (glob.scrape_interval, glob.scrape_timeout, glob.evaluation_interval) == (
        Duration(60_000),
        Duration(10_000),
        Duration(60_000),
    )
    assert (config.scrape_configs, config.rule_files, config.alerting.alertmanagers) == ((), (), ())


def test_job_defaults_and_inheritance() -> None:
    config = parse_config(
        """
global:
  scrape_interval: 15s
  sample_limit: 500
  external_labels: {env: prod}
scrape_configs:
  - job_name: a
  - job_name: b
    scrape_interval: 5s
    sample_limit: 10
    scrape_native_histograms: true
"""
    )
    a, b = config.scrape_configs
    assert (a.scrape_interval, a.scrape_timeout, a.metrics_path, a.scheme) == (
        Duration(15_000),
        Duration(10_000),
        "/metrics",
        "http",
    )
    assert (
        a.honor_labels,
        a.honor_timestamps,
        a.http_client.follow_redirects,
    ) == (
        False,
        True,
        True,
    )
    assert (a.sample_limit, a.scrape_protocols) == (500, DEFAULT_SCRAPE_PROTOCOLS)
    # A job's timeout is the global one, cut to the job's interval (Prometheus: min of the two).
    assert (b.scrape_interval, b.scrape_timeout, b.sample_limit) == (
        Duration(5000),
        Duration(5000),
        10,
    )
    assert b.scrape_protocols == PROTO_FIRST_SCRAPE_PROTOCOLS
    assert config.global_config.external_labels == Labels.from_dict({"env": "prod"})


def test_global_timeout_defaults_to_interval_when_shorter() -> None:
    glob = parse_config("global:\n  scrape_interval: 5s\n").global_config
    assert glob.scrape_timeout == Duration(5000)


def test_relative_paths_resolve_against_the_config_directory(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "extra").mkdir()
    (tmp_path / "extra" / "jobs.yml").write_text(
        "scrape_configs:\n  - job_name: extra\n    bearer_token_file: tok\n"
    )
    path = tmp_path / "prometheus.yml"
    path.write_text(
        """
rule_files: [rules/a.yml, /abs/b.yml]
scrape_config_files: [extra/*.yml]
scrape_configs:
  - job_name: node
    bearer_token_file: secrets/token
    tls_config: {ca_file: ca.pem, cert_file: c.pem, key_file: k.pem}
    file_sd_configs:
      - files: [targets/*.json]
"""
    )
    config = load_config(str(path))
    assert config.rule_files == (str(tmp_path / "rules/a.yml"), "/abs/b.yml")
    node, extra = config.scrape_configs
    assert node.http_client.authorization == Authorization(
        "Bearer", Secret(""), str(tmp_path / "secrets/token")
    )
    assert node.http_client.tls_config.ca_file == str(tmp_path / "ca.pem")
    assert node.discovery.file_sd_configs[0].files == (str(tmp_path / "targets/*.json"),)
    assert extra.job_name == "extra"
    assert extra.http_client.authorization is not None
    assert extra.http_client.authorization.credentials_file == str(tmp_path / "extra" / "tok")


def test_duplicate_job_across_scrape_config_files(tmp_path: Path) -> None:
    (tmp_path / "more.yml").write_text("scrape_configs:\n  - job_name: node\n")
    path = tmp_path / "prometheus.yml"
    path.write_text("scrape_config_files: [more.yml]\nscrape_configs:\n  - job_name: node\n")
    with pytest.raises(
        ValueError, match=r'more.yml:2: scrape_configs\[0\].job_name: duplicate job name "node"'
    ):
        load_config(str(path))


def test_secrets_do_not_show_in_repr() -> None:
    config = parse_config(
        "scrape_configs:\n  - job_name: a\n    basic_auth: {username: u, password: hunter2}\n"
    )
    assert "hunter2" not in repr(config)
    basic = config.scrape_configs[0].http_client.basic_auth
    assert basic is not None and basic.password == "hunter2"


def test_full_single_node_config_loads() -> None:
    config = parse_config(
        """
global:
  scrape_interval: 15s
  evaluation_interval: 30s
  query_log_file: queries.log
  body_size_limit: 10MB
  label_limit: 64
  target_limit: 100
storage:
  tsdb: {out_of_order_time_window: 30m}
alerting:
  alert_relabel_configs:
    - {action: labeldrop, regex: replica}
  alertmanagers:
    - static_configs: [{targets: ['localhost:9093']}]
      timeout: 5s
      path_prefix: /am
rule_files: ['rules/*.yml']
scrape_configs:
  - job_name: node
    params: {module: [http_2xx]}
    honor_timestamps: false
    track_timestamps_staleness: true
    enable_http2: false
    proxy_url: http://proxy:3128
    static_configs:
      - targets: ['a:9100', 'b:9100']
        labels: {team: ops}
    http_sd_configs:
      - url: http://sd.example/targets
        refresh_interval: 30s
    relabel_configs:
      - source_labels: [__address__]
        regex: '(.*):9100'
        target_label: host
    metric_relabel_configs:
      - {source_labels: [__name__], regex: 'go_.*', action: drop}
remote_write:
  - url: http://mimir:9009/api/v1/push
    queue_config: {max_shards: 4}
    write_relabel_configs: [{source_labels: [__name__], regex: 'up', action: keep}]
remote_read:
  - url: http://mimir:9009/api/v1/read
    read_recent: true
"""
    )
    assert config.global_config.body_size_limit == 10 * 1024 * 1024
    assert config.storage.tsdb.out_of_order_time_window == Duration(30 * 60_000)
    manager = config.alerting.alertmanagers[0]
    assert (manager.timeout, manager.path_prefix, manager.api_version) == (
        Duration(5000),
        "/am",
        "v2",
    )
    job = config.scrape_configs[0]
    assert job.param("module") == "http_2xx"
    assert (job.honor_timestamps, job.track_timestamps_staleness, job.http_client.enable_http2) == (
        False,
        True,
        False,
    )
    assert job.discovery.static_configs[0].discovered() == (
        Labels.from_dict({"__address__": "a:9100", "team": "ops"}),
        Labels.from_dict({"__address__": "b:9100", "team": "ops"}),
    )
    assert job.discovery.http_sd_configs[0].refresh_interval == Duration(30_000)
    assert job.metric_relabel_configs[0].action is Action.DROP
    assert config.remote_write[0].queue_config.max_shards == 4
    assert config.remote_write[0].http_client.enable_http2 is False
    assert config.remote_read[0].read_recent is True


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (
            "alerting: {alertmanagers: []}\n",
            "alerting (line 1) has no alertmanagers: alerts are never sent",
        ),
        (
            "scrape_configs:\n  - job_name: a\n",
            'job "a" (line 2) has no static_configs, file_sd_configs or http_sd_configs: it never scrapes anything',
        ),
        (
            "global: {scrape_timeout: 20s, scrape_interval: 1m}\nscrape_configs:\n"
            "  - job_name: a\n    scrape_interval: 5s\n    static_configs: [{targets: [x:1]}]\n",
            'job "a" (line 3) scrape_interval 5s is shorter than the global scrape_timeout 20s: its timeout is cut to 5s',
        ),
        (
            "scrape_configs:\n  - job_name: a\n    scrape_interval: 10m\n    static_configs: [{targets: [x:1]}]\n",
            'job "a" (line 2) scrape_interval 10m is longer than the 5m query lookback: its series look missing between scrapes',
        ),
        (
            "scrape_configs:\n  - job_name: a\n    static_configs: [{targets: [x:1]}]\n"
            "    metric_relabel_configs: [{action: drop}]\n",
            'job "a" metric_relabel_configs[0]: drop without source_labels drops everything',
        ),
        (
            "alerting:\n  alertmanagers:\n    - scheme: http\n",
            "alerting.alertmanagers[0] (line 3) has no static_configs, file_sd_configs or http_sd_configs: no Alertmanager is ever found",
        ),
        (
            "otlp: {convert_histograms_to_nhcb: true}\n",
            "otlp.convert_histograms_to_nhcb: vigil does not store native histograms yet; OTLP histograms are stored as classic _bucket, _sum and _count series",
        ),
    ],
)
def test_lints(tmp_path: Path, text: str, warning: str) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(text)
    result = check_config(str(path))
    assert result.ok and warning in result.warnings, result


def test_remote_storage_is_not_called_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "prometheus.yml"
    path.write_text(
        "remote_write: [{url: http://127.0.0.1:1/api/v1/write}]\n"
        "remote_read: [{url: http://127.0.0.1:1/api/v1/read}]\n"
    )
    result = check_config(str(path))
    assert (result.ok, result.warnings) == (True, ()), result


def test_rule_file_must_have_groups(tmp_path: Path) -> None:
    (tmp_path / "rules.yml").write_text("- alert: X\n")
    (tmp_path / "prometheus.yml").write_text("rule_files: [rules.yml]\n")
    result = check_config(str(tmp_path / "prometheus.yml"))
    assert result.error == f"{tmp_path}/rules.yml:1: a rule file is a mapping with a groups list"
