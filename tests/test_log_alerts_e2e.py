"""A log alert end to end: lines a file gets are collected by `vigil server`, a Loki-ruler
rule (`--logs.rule-files`) counts them, and the in-process Alertmanager sends one firing
and one resolved notification to a webhook; Loki's ruler API lists the rule on both ports."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, running
from tests.notify.capture import HTTPCapture, http_capture

pytestmark = pytest.mark.slow

RULES = """
groups:
  - name: app-logs
    rules:
      - alert: AppErrorBurst
        expr: sum by (filename) (count_over_time({service_name="app"} |= "ERROR" [10s])) > 5
        annotations: {summary: "{{ $value }} errors"}
"""
ALERTMANAGER = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{url: "%s", send_resolved: true}]
"""


def _statuses(capture: HTTPCapture) -> list[str]:
    out = []
    for request in list(capture.requests):
        body = json.loads(request.body)
        if body["groupLabels"].get("alertname") == "AppErrorBurst":
            out.append(body["status"])
    return out


def _wait(capture: HTTPCapture, count: int) -> list[str]:
    deadline = time.monotonic() + PATIENCE_S
    while len(_statuses(capture)) < count:
        assert time.monotonic() < deadline, f"webhook got {_statuses(capture)}"
        time.sleep(0.2)
    return _statuses(capture)


def test_a_log_error_burst_fires_once_and_resolves_once(tmp_path: Path) -> None:
    app = tmp_path / "app.log"
    app.write_text("INFO started\n")
    (tmp_path / "rules.yml").write_text(RULES)
    (tmp_path / "prometheus.yml").write_text("global: {evaluation_interval: 1s}\n")
    port, loki_port = free_port(), free_port()
    with http_capture([200]) as hook:
        (tmp_path / "alertmanager.yml").write_text(ALERTMANAGER % hook.url("/hook"))
        args = [
            sys.executable, "-m", "vigil", "server",
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--alertmanager.config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--loki.listen-address=127.0.0.1:{loki_port}",
            f"--logs.files={app}",
            "--logs.docker-containers=",
            f"--logs.rule-files={tmp_path / 'rules.yml'}",
            "--rules.default.disable",
        ]  # fmt: skip
        with running(args, f"http://127.0.0.1:{port}/-/ready"):
            with app.open("a") as f:
                f.write("".join(f"ERROR payment failed #{i}\n" for i in range(10)))
            assert _wait(hook, 1)[0] == "firing"
            assert _wait(hook, 2) == ["firing", "resolved"]  # the burst left the 10 s window
            listed = [
                httpx.get(f"http://127.0.0.1:{p}/loki/api/v1/rules", timeout=PATIENCE_S).text
                for p in (port, loki_port)
            ]
            ruler = httpx.get(
                f"http://127.0.0.1:{port}/prometheus/api/v1/rules", timeout=PATIENCE_S
            )
    namespace = f"{tmp_path / 'rules.yml'}:\n- name: app-logs\n  rules:\n  - alert: AppErrorBurst\n"
    assert [text.startswith(namespace) for text in listed] == [True, True]
    assert [g["name"] for g in ruler.json()["data"]["groups"]] == ["app-logs"]
    alerts = [json.loads(r.body)["alerts"] for r in hook.requests]
    assert [a["labels"] for a in alerts[0]] == [
        {"alertname": "AppErrorBurst", "filename": str(app)}
    ]
