"""`vigil server`'s flag table: each flag parses into its ServerOptions field and is listed on
/api/v1/status/flags with Prometheus's spelling of its value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from vigil.cmd import build_parser, server_flags
from vigil.cmd.server_flags import FLAGS, ServerOptions


@pytest.fixture(autouse=True)
def _built_in_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The tests' own default for the OTLP listener (off, see tests/conftest.py) unset."""
    monkeypatch.delenv("VIGIL_OTLP_LISTEN_ADDRESS", raising=False)


def _options(*argv: str) -> ServerOptions:
    return server_flags.options(build_parser().parse_args(["server", *argv]))


def test_without_flags_the_options_are_the_defaults() -> None:
    assert _options() == ServerOptions()
    assert ServerOptions().otlp_listen_address == "127.0.0.1:4318"


@pytest.mark.parametrize(
    ("env", "argv", "want"),
    [
        ("", (), ""),
        ("0.0.0.0:4318", (), "0.0.0.0:4318"),
        ("", ("--otlp.listen-address=127.0.0.1:14318",), "127.0.0.1:14318"),
        ("0.0.0.0:4318", ("--otlp.listen-address=",), ""),
    ],
)
def test_the_otlp_listener_default_comes_from_the_environment_when_set(
    monkeypatch: pytest.MonkeyPatch, env: str, argv: tuple[str, ...], want: str
) -> None:
    monkeypatch.setenv("VIGIL_OTLP_LISTEN_ADDRESS", env)
    assert _options(*argv).otlp_listen_address == want


@pytest.mark.parametrize(
    ("flag", "want"),
    [
        ("--config.file=p.yml", {"config_file": Path("p.yml")}),
        ("--storage.tsdb.path=/var/lib/vigil", {"data_dir": Path("/var/lib/vigil")}),
        ("--storage.tsdb.retention.time=30d", {"retention_ms": 30 * 86_400_000}),
        ("--storage.tsdb.retention.size=2GB", {"retention_bytes": 2 << 30}),
        ("--storage.tsdb.block-cache-size=0", {"block_cache_bytes": 0}),
        ("--web.listen-address=:9191", {"listen_address": ":9191"}),
        ("--web.enable-lifecycle", {"enable_lifecycle": True}),
        ("--web.enable-admin-api", {"enable_admin_api": True}),
        ("--web.config.file=web.yml", {"web_config_file": Path("web.yml")}),
        ("--web.allowed-hosts=vigil.example", {"allowed_hosts": "vigil.example"}),
        ("--web.enable-remote-write-receiver", {"remote_write_receiver": True}),
        ("--web.enable-otlp-receiver", {"otlp_receiver": True}),
        ("--otlp.listen-address=:4318", {"otlp_listen_address": ":4318"}),
        ("--zipkin.listen-address=:9411", {"zipkin_listen_address": ":9411"}),
        (
            "--traces.forward.url=http://tempo:4318/v1/traces",
            {"traces_forward_url": "http://tempo:4318/v1/traces"},
        ),
        ("--otlp.grpc.listen-address=:4317", {"otlp_grpc_listen_address": ":4317"}),
        ("--traces.max-future=1h", {"traces_max_future_ms": 3_600_000}),
        ("--web.external-url=http://vm/", {"external_url": "http://vm/"}),
        ("--query.lookback-delta=1m", {"lookback_delta_ms": 60_000}),
        ("--query.timeout=30s", {"query_timeout_s": 30.0}),
        ("--query.max-samples=1000", {"query_max_samples": 1000}),
        ("--query.max-concurrency=2", {"query_max_concurrency": 2}),
        ("--query.remote-url=http://vm:8428", {"query_remote_url": "http://vm:8428"}),
        ("--alertmanager.notification-queue-capacity=5", {"notification_queue_capacity": 5}),
        ("--rules.alert.resend-delay=2m", {"resend_delay_ms": 120_000}),
        ("--agent.disable", {"host_collectors": False}),
        ("--alertmanager.config.file=am.yml", {"alertmanager_config_file": Path("am.yml")}),
        ("--heartbeat.url=http://hc/ping", {"heartbeat_url": "http://hc/ping"}),
        ("--heartbeat.interval=5m", {"heartbeat_interval_s": 300.0}),
        ("--rules.default.disable", {"default_rules": False}),
        ("--alertmanager.disable", {"alertmanager_enabled": False}),
        ("--logs.ingestion-rate-mb=32", {"logs_ingestion_rate_mb": 32.0}),
        ("--logs.ingestion-burst-size-mb=0.5", {"logs_ingestion_burst_mb": 0.5}),
    ],
)
def test_each_flag_sets_its_field(flag: str, want: dict[str, object]) -> None:
    assert _options(flag) == dataclasses.replace(ServerOptions(), **want)


def test_every_flag_is_in_the_table_once() -> None:
    assert len({flag.name for flag in FLAGS}) == len({flag.field for flag in FLAGS}) == len(FLAGS)
    unset = {f.name for f in dataclasses.fields(ServerOptions)} - {f.field for f in FLAGS}
    assert unset == {"containers", "self_scrape"}


def test_status_flags_show_every_flag_as_prometheus_spells_values() -> None:
    shown = server_flags.shown(_options("--storage.tsdb.retention.size=512MB", "--agent.disable"))
    assert list(shown) == [flag.name for flag in FLAGS]
    assert {name: shown[name] for name in (
        "config.file", "storage.tsdb.retention.time", "storage.tsdb.retention.size",
        "query.timeout", "web.enable-lifecycle", "agent.disable", "alertmanager.disable",
    )} == {
        "config.file": "", "storage.tsdb.retention.time": "15d",
        "storage.tsdb.retention.size": "512MB", "query.timeout": "2m",
        "web.enable-lifecycle": "false", "agent.disable": "true", "alertmanager.disable": "false",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("flag", "error"),
    [
        ("--storage.tsdb.retention.time=15", "is not a duration"),
        ("--storage.tsdb.retention.size=lots", "is not a size"),
        ("--query.remote-url=vm:8428", "is not an http:// or https:// URL"),
        ("--query.max-samples=many", "invalid int value"),
        ("--logs.ingestion-rate-mb=-1", "is not a number >= 0"),
    ],
)
def test_a_bad_value_names_the_flag(
    flag: str, error: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        _options(flag)
    message = capsys.readouterr().err
    assert f"argument {flag.split('=')[0]}: " in message
    assert error in message
