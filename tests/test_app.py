"""The server's wiring in-process: reload keeps a good config running, the APIs are mounted."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from starlette.testclient import TestClient

from tests.conftest import PATIENCE_S
from vigil.cmd.server_process import Server, ServerOptions, default_config


def _config(path: Path, job: str) -> None:
    path.write_text(
        f"scrape_configs:\n  - job_name: {job}\n    static_configs: [{{targets: ['127.0.0.1:9']}}]\n"
    )


def _jobs(client: TestClient) -> list[str]:
    targets = client.get("/api/v1/targets").json()["data"]["activeTargets"]
    return sorted(t["labels"]["job"] for t in targets)


def _reload_metric(client: TestClient) -> str:
    lines = client.get("/metrics").text.splitlines()
    return next(
        line for line in lines if line.startswith("prometheus_config_last_reload_successful")
    )


def test_reload_applies_good_config_and_keeps_it_on_a_bad_one(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    _config(config, "first")
    server = Server(
        ServerOptions(
            config_file=config,
            data_dir=tmp_path / "data",
            enable_lifecycle=True,
            host_collectors=False,
        )
    )
    with TestClient(server.app()) as client:
        assert _jobs(client) == ["first"]
        _config(config, "second")
        assert client.post("/-/reload").status_code == 200
        assert _jobs(client) == ["second"]
        assert _reload_metric(client) == "prometheus_config_last_reload_successful 1"
        config.write_text("scrape_configs:\n  - job_name: [oops\n")
        assert client.post("/-/reload").status_code == 500
        assert _jobs(client) == ["second"]
        assert _reload_metric(client) == "prometheus_config_last_reload_successful 0"
        assert "second" in client.get("/api/v1/status/config").json()["data"]["yaml"]


def test_reload_needs_the_lifecycle_flag(tmp_path: Path) -> None:
    server = Server(ServerOptions(data_dir=tmp_path / "data", host_collectors=False))
    with TestClient(server.app()) as client:
        assert client.post("/-/reload").status_code == 403
        assert client.get("/-/healthy").status_code == 200
        assert client.get("/api/v1/status/tsdb").json()["data"]["headStats"]["numSeries"] >= 0


def test_default_config_scrapes_the_server_itself() -> None:
    assert "targets: ['127.0.0.1:9090']" in default_config("0.0.0.0:9090")
    assert "targets: ['[::1]:9091']" in default_config("[::1]:9091")


def test_block_cache_size_flag_reaches_the_tsdb(tmp_path: Path) -> None:
    from vigil.cmd import build_parser

    args = build_parser().parse_args(["server", "--storage.tsdb.block-cache-size=4MB"])
    assert args.block_cache_bytes == 4 * 1024 * 1024
    server = Server(ServerOptions(data_dir=tmp_path / "data", block_cache_bytes=0))
    assert server._tsdb_options().block_cache_bytes == 0


def test_max_future_flag_reaches_the_head(tmp_path: Path) -> None:
    from vigil.cmd import build_parser
    from vigil.cmd.server_flags import options

    assert build_parser().parse_args(["server"]).max_future_ms == 10 * 60 * 1000
    args = build_parser().parse_args(["server", "--storage.tsdb.max-future=1h"])
    server = Server(dataclasses.replace(options(args), data_dir=tmp_path / "data"))
    assert server._tsdb_options().max_future_ms == 3_600_000


def test_a_job_whose_secret_file_is_missing_is_down_with_the_reason_and_rules_still_run(
    tmp_path: Path,
) -> None:
    config = tmp_path / "prometheus.yml"
    (tmp_path / "rules.yml").write_text(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n      - record: one\n        expr: vector(1)\n"
    )
    config.write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs:\n"
        "  - job_name: locked\n"
        "    authorization: {credentials_file: missing-token}\n"
        "    static_configs: [{targets: ['127.0.0.1:9']}]\n"
    )
    server = Server(
        ServerOptions(config_file=config, data_dir=tmp_path / "data", host_collectors=False)
    )
    with TestClient(server.app()) as client:
        deadline = time.monotonic() + 20  # bounded wait for the first evaluation and scrape
        while time.monotonic() < deadline:
            rule = client.get("/api/v1/rules").json()["data"]["groups"][0]["rules"][0]
            (target,) = client.get("/api/v1/targets").json()["data"]["activeTargets"]
            if rule["health"] == "ok" and target["health"] == "down":
                break
            time.sleep(0.1)
    missing = tmp_path / "missing-token"
    assert (rule["health"], target["health"], target["lastError"]) == (
        "ok",
        "down",
        f'Get "http://127.0.0.1:9/metrics": unable to read authorization credentials:'
        f" unable to read file {missing}: open {missing}: no such file or directory",
    )


def test_a_reload_of_a_file_not_utf8_answers_why_and_keeps_the_config(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    _config(config, "first")
    server = Server(
        ServerOptions(
            config_file=config,
            data_dir=tmp_path / "data",
            enable_lifecycle=True,
            host_collectors=False,
            default_rules=False,
        )
    )
    with TestClient(server.app()) as client:
        config.write_bytes(b"scrape_configs:\n  - job_name: caf\xe9\n")
        answer = client.post("/-/reload")
        assert (answer.status_code, answer.text) == (
            500,
            f"failed to reload config: {config}:2: not valid UTF-8: byte 0xe9 at column 18",
        )
        assert _reload_metric(client) == "prometheus_config_last_reload_successful 0"
        assert _jobs(client) == ["first"]


def test_a_stage_that_refuses_a_reload_is_named_and_the_others_apply(tmp_path: Path) -> None:
    """A broken alertmanager.yml keeps the running Alertmanager config; the scrape config in
    the same reload is applied; the answer and the metric say the reload failed, and why."""
    config, am_config = tmp_path / "prometheus.yml", tmp_path / "alertmanager.yml"
    _config(config, "first")
    am_config.write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    server = Server(
        ServerOptions(
            config_file=config,
            alertmanager_config_file=am_config,
            data_dir=tmp_path / "data",
            enable_lifecycle=True,
            host_collectors=False,
            default_rules=False,
        )
    )
    with TestClient(server.app()) as client:
        _config(config, "second")
        am_config.write_text("route: {receiver: nobody}\nreceivers: [{name: x}]\n")
        answer = client.post("/-/reload")
        assert answer.status_code == 500
        assert answer.text.startswith("failed to reload config: alertmanager: ")
        assert "nobody" in answer.text
        assert _jobs(client) == ["second"]
        assert _reload_metric(client) == "prometheus_config_last_reload_successful 0"
        assert server.alertmanager is not None
        assert server.alertmanager.receiver_names() == ["x"]
        am_config.write_text("route: {receiver: y}\nreceivers: [{name: y}]\n")
        assert client.post("/-/reload").status_code == 200
        assert _reload_metric(client) == "prometheus_config_last_reload_successful 1"
        assert server.alertmanager.receiver_names() == ["y"]


def _subquery_config(path: Path, evaluation_interval: str) -> None:
    path.write_text(
        f"global: {{evaluation_interval: {evaluation_interval}}}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs: []\n"
    )
    (path.parent / "rules.yml").write_text(
        "groups:\n  - name: g\n    interval: 1s\n    rules:\n"
        "      - record: inner_steps\n        expr: count_over_time(vector(1)[2m:])\n"
    )


def _inner_steps(client: TestClient, query: str) -> list[str]:
    answer = client.get("/api/v1/query", params={"query": query}).json()
    return [sample["value"][1] for sample in answer["data"]["result"]]


def _wait_for_recorded(client: TestClient, want: str) -> list[str]:
    deadline = time.monotonic() + PATIENCE_S
    while (got := _inner_steps(client, "inner_steps")) != [want] and time.monotonic() < deadline:
        time.sleep(0.1)
    return got


def test_subqueries_without_a_step_take_the_evaluation_interval_and_a_reload_changes_it(
    tmp_path: Path,
) -> None:
    """A subquery written `[2m:]` steps by the global evaluation_interval, in the API and in
    rules, as Prometheus does; a reload that changes the interval changes the step."""
    config = tmp_path / "prometheus.yml"
    _subquery_config(config, "15s")
    server = Server(
        ServerOptions(
            config_file=config,
            data_dir=tmp_path / "data",
            enable_lifecycle=True,
            host_collectors=False,
            default_rules=False,
        )
    )
    query = "count_over_time(vector(1)[2m:])"
    with TestClient(server.app()) as client:
        assert _inner_steps(client, query) == ["8"]
        assert _wait_for_recorded(client, "8") == ["8"]
        _subquery_config(config, "1m")
        assert client.post("/-/reload").status_code == 200
        assert _inner_steps(client, query) == ["2"]
        assert _wait_for_recorded(client, "2") == ["2"]
