"""One POST of 20,000 alerts to a live `vigil alertmanager`, then both listings of them: every
answer is complete, and /-/healthy answers during each of the three requests (the work is done
a slice at a time, letting the event loop run between slices)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, running
from tests.security.conftest import LiveServer, health_watched

pytestmark = pytest.mark.slow

ALERTS = 20_000
GROUPS = 500
CONFIG = """
route:
  receiver: hook
  group_by: [group]
  group_wait: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:9/hook
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [group]
"""


@pytest.fixture()
def alertmanager(tmp_path: Path) -> Iterator[LiveServer]:
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG)
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "vigil",
        "alertmanager",
        f"--config.file={config}",
        f"--storage.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, f"http://127.0.0.1:{port}/-/ready") as proc:
        yield LiveServer(f"http://127.0.0.1:{port}", proc.pid)


def _alerts() -> list[dict[str, Any]]:
    return [
        {
            "labels": {
                "alertname": "Bulk",
                "group": f"g{i % GROUPS}",
                "instance": f"host-{i}:9100",
                "severity": "warning" if i >= GROUPS else "critical",
            },
            "annotations": {"summary": f"alert {i}"},
        }
        for i in range(ALERTS)
    ]


def test_a_bulk_post_and_its_listings_leave_healthy_answering(alertmanager: LiveServer) -> None:
    base = alertmanager.url
    windows: list[tuple[float, float]] = []
    with health_watched(alertmanager) as watch, httpx.Client(timeout=PATIENCE_S) as client:
        replies = []
        for method, path, body in (
            ("POST", "/api/v2/alerts", _alerts()),
            ("GET", "/api/v2/alerts", None),
            ("GET", "/api/v2/alerts/groups", None),
        ):
            began = time.monotonic()
            with client.stream(method, base + path, json=body) as reply:
                # The server has done its work once the headers are here.
                windows.append((began, time.monotonic()))
                reply.read()
            replies.append(reply)
    assert [r.status_code for r in replies] == [200, 200, 200]
    listed, groups = replies[1].json(), replies[2].json()
    states: dict[tuple[str, int], int] = {}
    for alert in listed:
        key = (alert["status"]["state"], len(alert["status"]["inhibitedBy"]))
        states[key] = states.get(key, 0) + 1
    assert states == {("active", 0): GROUPS, ("suppressed", 1): ALERTS - GROUPS}
    assert [a["fingerprint"] for a in listed] == sorted(a["fingerprint"] for a in listed)
    assert (len(groups), sum(len(g["alerts"]) for g in groups)) == (GROUPS, ALERTS)
    assert {status for status, _ in watch.answers} == {200}
    answered_during = [any(a < t < b for t in watch.arrived) for a, b in windows]
    assert answered_during == [True, True, True]
