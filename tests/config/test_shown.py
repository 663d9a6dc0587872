"""Secrets are hidden in every view of a config (Prometheus's `/api/v1/status/config`, the
Alertmanager status, logs) because the parser knows which values are secrets: each YAML style
(block, flow, folded and literal scalars, quoted keys, anchors) is redacted the same, as
Prometheus and Alertmanager show them (`<secret>`), and URL passwords are `xxxxx`."""

from __future__ import annotations

import asyncio
import logging
import textwrap
from pathlib import Path

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from vigil.cmd.alertmanager_service import (
    AlertmanagerOptions,
    AlertmanagerService,
    alertmanager_app,
)
from vigil.cmd.server_process import Server, ServerOptions
from vigil.config import prometheus
from vigil.config.shown import redact_url
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.notify.kinds import parse_config as parse_alertmanager_config
from vigil.remote.write import RemoteWriteStorage
from vigil.tsdb.wal import encode_samples, encode_series
from vigil.tsdb.wlog import WAL

PROMETHEUS = {
    "block": """
        scrape_configs:
          - job_name: block
            basic_auth:
              username: u
              password: hidden-1
            static_configs: [{targets: ['a:1']}]
        """,
    "flow": """
        scrape_configs:
          - {job_name: flow, basic_auth: {username: u, password: hidden-1}}
          - {job_name: flow2, oauth2: {client_id: c, client_secret: hidden-2, token_url: 'http://t/'}}
        """,
    "folded and literal scalars": """
        scrape_configs:
          - job_name: folded
            authorization:
              credentials: >-
                hidden-1
            tls_config:
              cert: c
              key: |
                hidden-2
        """,
    "quoted keys and values": """
        scrape_configs:
          - "job_name": quoted
            'bearer_token': "hidden-1"
            "http_headers":
              X-Token: {"secrets": ['hidden-2', hidden-3], values: [shown]}
        """,
    "anchors": """
        scrape_configs:
          - job_name: anchored
            basic_auth: &auth {username: u, password: hidden-1}
          - job_name: aliased
            basic_auth: *auth
        """,
    "json": """
        {"remote_write": [{"url": "https://u:hidden-1@example.com/w",
          "sigv4": {"access_key": "a", "secret_key": "hidden-2"}}],
         "remote_read": [{"url": "https://example.com/r",
          "proxy_url": "http://p:hidden-3@proxy:3128",
          "proxy_connect_header": {"Proxy-Token": ["hidden-4"]}}]}
        """,
}


@pytest.mark.parametrize("style", sorted(PROMETHEUS))
def test_prometheus_config_is_shown_without_secrets(style: str) -> None:
    config = prometheus.parse_config(textwrap.dedent(PROMETHEUS[style]))
    shown_again = prometheus.parse_config(config.shown)
    assert ("hidden-" in config.shown, "<secret>" in config.shown or "xxxxx" in config.shown) == (
        False,
        True,
    ), config.shown
    assert [j.job_name for j in shown_again.scrape_configs] == [
        j.job_name for j in config.scrape_configs
    ]


ALERTMANAGER = {
    "block": """
        global:
          smtp_auth_password: hidden-1
          slack_api_url: https://hooks.slack.com/hidden-2
        route: {receiver: r}
        receivers:
          - name: r
            email_configs:
              - to: a@b.c
                from: v@b.c
                smarthost: 'mail:25'
            slack_configs:
              - channel: '#c'
        """,
    "flow": """
        route: {receiver: r}
        receivers:
          - {name: r, webhook_configs: [{url: 'http://x/hidden-1',
             http_config: {basic_auth: {username: u, password: hidden-2}}},
             {url: 'http://y/', http_config: {authorization: {credentials: hidden-3}}}]}
        """,
    "folded and quoted keys": """
        route: {receiver: r}
        receivers:
          - name: r
            "opsgenie_configs":
              - "api_key": >-
                  hidden-1
            telegram_configs:
              - 'bot_token': |
                  hidden-2
                chat_id: 1
            sns_configs:
              - topic_arn: arn
                sigv4: {access_key: a, secret_key: hidden-3}
        """,
}


@pytest.mark.parametrize("style", sorted(ALERTMANAGER))
def test_alertmanager_config_is_shown_without_secrets(style: str) -> None:
    config = parse_alertmanager_config(textwrap.dedent(ALERTMANAGER[style]))
    shown_again = parse_alertmanager_config(config.shown)
    assert ("hidden-" in config.shown, "<secret>" in config.shown) == (False, True), config.shown
    assert [r.name for r in shown_again.receivers] == ["r"]


def test_status_config_of_the_server_hides_secrets(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(textwrap.dedent(PROMETHEUS["flow"]))
    server = Server(ServerOptions(config_file=config, data_dir=tmp_path / "data"))
    with TestClient(server.app()) as client:
        shown = client.get("/api/v1/status/config").json()["data"]["yaml"]
    assert ("hidden-" in shown, shown.count("<secret>")) == (False, 2)


def test_alertmanager_status_hides_secrets(tmp_path: Path) -> None:
    text = textwrap.dedent(ALERTMANAGER["flow"])
    service = AlertmanagerService(
        parse_alertmanager_config(text),
        text,
        AlertmanagerOptions(storage_path=tmp_path / "am"),
        ManualClock(1_700_000_000.0),
    )
    with TestClient(alertmanager_app(service)) as client:
        shown = client.get("/api/v2/status").json()["config"]["original"]
    assert ("hidden-" in shown, shown.count("<secret>")) == (False, 4)


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("https://user:pw@example.com:9/write?x=1", "https://user:xxxxx@example.com:9/write?x=1"),
        ("https://user@example.com/write", "https://user@example.com/write"),
        ("https://example.com/a@b", "https://example.com/a@b"),
        ("not a url", "not a url"),
    ],
)
def test_url_passwords_are_redacted_as_go_does(url: str, want: str) -> None:
    assert redact_url(url) == want


def test_remote_write_retries_log_the_url_without_its_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = prometheus.parse_config(
        "remote_write:\n  - url: https://user:hidden-pw@remote.test/write\n    name: q\n"
    )

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async def run() -> None:
        clock = ManualClock(1_700_000_000.0)
        wal = WAL(tmp_path / "wal")
        storage = RemoteWriteStorage(
            tmp_path / "wal",
            tmp_path / "rw",
            CollectorRegistry(),
            clock=clock,
            client_factory=lambda _: httpx.AsyncClient(transport=httpx.MockTransport(refuse)),
        )
        await storage.apply(config)
        wal.log([encode_series([(1, Labels.from_dict({"__name__": "up"}))])])
        wal.log([encode_samples(np.array([1]), np.array([1_700_000_000_000]), np.array([1.0]))])
        for _ in range(200):
            await asyncio.sleep(0)
            clock.set(clock.now() + 0.5)
            if any("retrying" in r.getMessage() for r in caplog.records):
                break
        await storage.stop()
        wal.close()

    with caplog.at_level(logging.WARNING, logger="vigil.remote.write"):
        asyncio.run(run())
    logged = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert logged[0].startswith(
        "remote_write q: sending to https://user:xxxxx@remote.test/write failed: ConnectError:"
    ), logged
