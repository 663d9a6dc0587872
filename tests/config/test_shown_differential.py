"""The same files in every YAML style, shown by the real Prometheus and Alertmanager and by
vigil: neither shows a secret (URL passwords are `xxxxx` in both)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import httpx
from starlette.testclient import TestClient

from tests.conftest import free_port, peer, running
from vigil.cmd.alertmanager_service import (
    AlertmanagerOptions,
    AlertmanagerService,
    alertmanager_app,
)
from vigil.cmd.server_process import Server, ServerOptions
from vigil.model.clock import ManualClock
from vigil.notify.kinds import load_config

PROMETHEUS_YML = """
scrape_configs:
  - {job_name: flow, basic_auth: {username: u, password: hidden-1},
     static_configs: [{targets: ['127.0.0.1:9']}]}
  - "job_name": quoted
    "bearer_token": 'hidden-2'
    static_configs: [{targets: ['127.0.0.1:9']}]
  - job_name: folded
    authorization:
      credentials: >-
        hidden-3
    static_configs: [{targets: ['127.0.0.1:9']}]
  - job_name: oauth
    oauth2:
      client_id: c
      client_secret: |
        hidden-4
      token_url: 'http://127.0.0.1:9/token'
    static_configs: [{targets: ['127.0.0.1:9']}]
remote_write:
  - {url: 'http://u:hidden-5@127.0.0.1:9/write', basic_auth: {username: u, password: hidden-6}}
"""

ALERTMANAGER_YML = """
global: {smtp_auth_password: hidden-1, slack_api_url: 'https://hooks.slack.com/hidden-2'}
route: {receiver: r}
receivers:
  - name: r
    "webhook_configs":
      - {url: 'http://127.0.0.1:9/hidden-3', http_config: {basic_auth: {username: u, password: hidden-4}}}
    slack_configs:
      - channel: '#c'
        http_config:
          authorization:
            credentials: >-
              hidden-5
"""


def _visible(text: str) -> list[str]:
    """The secrets a shown config still shows."""
    return sorted(set(re.findall(r"hidden-[0-9]", text)))


def test_prometheus_and_vigil_hide_the_same_secrets(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text(textwrap.dedent(PROMETHEUS_YML))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'prom'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, f"{base}/-/ready", 60):
        real = httpx.get(f"{base}/api/v1/status/config").json()["data"]["yaml"]
    server = Server(ServerOptions(config_file=config, data_dir=tmp_path / "vigil"))
    with TestClient(server.app()) as client:
        ours = client.get("/api/v1/status/config").json()["data"]["yaml"]
    assert (_visible(real), _visible(ours)) == ([], []), (real, ours)
    assert ("u:xxxxx@" in real, "u:xxxxx@" in ours) == (True, True)


def test_alertmanager_and_vigil_hide_the_same_secrets(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    config.write_text(textwrap.dedent(ALERTMANAGER_YML))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = [
        peer("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'real'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    with running(args, f"{base}/-/ready"):
        real = httpx.get(f"{base}/api/v2/status").json()["config"]["original"]
    service = AlertmanagerService(
        load_config(str(config)),
        config.read_text(),
        AlertmanagerOptions(storage_path=tmp_path / "vigil"),
        ManualClock(1_700_000_000.0),
    )
    with TestClient(alertmanager_app(service)) as client:
        ours = client.get("/api/v2/status").json()["config"]["original"]
    # Alertmanager 0.25 shows webhook URLs (later versions hide them, as vigil does)
    assert (_visible(real), _visible(ours)) == (["hidden-3"], []), (real, ours)
