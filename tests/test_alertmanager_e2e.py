"""`vigil alertmanager` end to end, with real processes: the seed's Slack config and a webhook
receiver side by side with the real Alertmanager 0.25 (what reaches the capture server must
be the same), and a `kill -9` that neither forgets silences nor sends a notification twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import FIXTURES, PATIENCE_S, free_port, peer, running, wait_ok
from tests.notify.capture import HTTPCapture, http_capture

pytestmark = pytest.mark.slow

SEED = (FIXTURES / "seed-stack" / "alertmanager.yml").read_text()
EXTERNAL_URL = "http://alertmanager.example:9093"
TIMING = "  group_wait: 1s\n  group_interval: 2s\n  repeat_interval: 5s\n"


def _seed_config(slack_url: str) -> str:
    """The seed's file with its Slack URL pointed at the capture server and short timers."""
    text = SEED.replace(
        "https://hooks.slack.com/services/XXXXXXXXX/XXXXXXXXX/XXXXXXXXXXXXXXXXXXXXXXXX", slack_url
    )
    text = text.replace("  group_wait: 30s\n  group_interval: 5m\n  repeat_interval: 1h\n", TIMING)
    assert slack_url in text and TIMING in text
    return text


def _vigil_args(config: Path, storage: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "vigil",
        "alertmanager",
        f"--config.file={config}",
        f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={EXTERNAL_URL}",
    ]


def _real_args(config: Path, storage: Path, port: int) -> list[str]:
    return [
        peer("prometheus-alertmanager"),
        f"--config.file={config}",
        f"--storage.path={storage}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={EXTERNAL_URL}",
        "--cluster.listen-address=",
    ]


@contextmanager
def _side_by_side(tmp_path: Path, config_for: Any) -> Iterator[dict[str, tuple[str, HTTPCapture]]]:
    """Both Alertmanagers, each with its own capture server; name -> (base URL, capture)."""
    with ExitStack() as stack:
        out = {}
        for name, args in (("alertmanager", _real_args), ("vigil", _vigil_args)):
            capture = stack.enter_context(http_capture())
            config = tmp_path / f"{name}.yml"
            config.write_text(config_for(capture))
            port = free_port()
            stack.enter_context(
                running(args(config, tmp_path / name, port), f"http://127.0.0.1:{port}/-/ready")
            )
            out[name] = (f"http://127.0.0.1:{port}", capture)
        yield out


def _post(bases: dict[str, tuple[str, HTTPCapture]], alerts: list[dict[str, Any]]) -> None:
    for base, _ in bases.values():
        httpx.post(f"{base}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()


def _slack_body(raw: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(raw)
    return body


MEMORY = {
    "labels": {"alertname": "HighMemoryUsage", "severity": "critical", "instance": "app:9100"},
    "annotations": {
        "summary": "High memory usage on app:9100",
        "description": "Memory usage is above 90% (current value: 93.1%)",
    },
}


def test_the_seed_slack_message_is_the_same_and_repeats(tmp_path: Path, summary: Any) -> None:
    with _side_by_side(tmp_path, lambda c: _seed_config(c.url("/slack"))) as bases:
        _post(bases, [MEMORY])
        # First at group_wait (1 s); the repeat at the first 2 s tick after 5 s: 7 s.
        first = {name: c.wait(1, 15)[0] for name, (_, c) in bases.items()}
        repeat = {name: c.wait(2, 15)[1] for name, (_, c) in bases.items()}
        resolved = {**MEMORY, "endsAt": "2000-01-01T00:00:00Z"}
        _post(bases, [resolved])
        counts_then = {name: len(c.requests) for name, (_, c) in bases.items()}
        time.sleep(4.5)  # two group_interval ticks: Slack's send_resolved is false by default
        counts_after = {name: len(c.requests) for name, (_, c) in bases.items()}
    for when in (first, repeat):
        assert _slack_body(when["vigil"].body) == _slack_body(when["alertmanager"].body)
    body = _slack_body(first["vigil"].body)
    attachment = body["attachments"][0]
    assert body["channel"] == "#알림채널"
    assert attachment["title"] == "High memory usage on app:9100"
    assert "*Alert:* Memory usage is above 90% (current value: 93.1%)" in attachment["text"]
    assert "*Instance:* app:9100" in attachment["text"]
    assert counts_after == counts_then == {"alertmanager": 2, "vigil": 2}
    summary(
        "seed Slack notification: vigil's payload identical to Alertmanager 0.25's "
        "(first, repeat; no resolved message, as send_resolved is false)"
    )


WEBHOOK = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname, instance]
"""


def _summary_of(raw: bytes) -> tuple[str, list[tuple[str, str]]]:
    body = json.loads(raw)
    return body["status"], sorted(
        (a["status"], ",".join(f"{k}={v}" for k, v in sorted(a["labels"].items())))
        for a in body["alerts"]
    )


def _masked_webhook(raw: bytes) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(raw)
    for alert in body["alerts"]:
        for key in ("startsAt", "endsAt"):
            alert[key] = "<time>" if not alert[key].startswith("0001") else alert[key]
    return body


def _settle(captures: list[HTTPCapture], seconds: float = 5.0) -> None:
    """Wait until no capture got anything new for 2.5 s (bounded): groups have flushed."""
    deadline = time.monotonic() + seconds + 10
    last = [len(c.requests) for c in captures]
    quiet_since = time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - quiet_since < 2.5:
        time.sleep(0.1)
        now = [len(c.requests) for c in captures]
        if now != last:
            last, quiet_since = now, time.monotonic()


def test_webhook_inhibition_silence_and_resolution_side_by_side(
    tmp_path: Path, summary: Any
) -> None:
    amtool = peer("amtool")
    critical = {"labels": {"alertname": "Mem", "severity": "critical", "instance": "a"}}
    warning = {"labels": {"alertname": "Mem", "severity": "warning", "instance": "a"}}
    other = {"labels": {"alertname": "Mem", "severity": "warning", "instance": "b"}}
    with _side_by_side(tmp_path, lambda c: WEBHOOK.format(url=c.url("/hook"))) as bases:
        captures = [c for _, c in bases.values()]
        _post(bases, [critical, warning, other])
        _settle(captures)
        for base, _ in bases.values():
            subprocess.run(
                [
                    amtool,
                    f"--alertmanager.url={base}",
                    "silence",
                    "add",
                    "instance=b",
                    "-c",
                    "maintenance",
                    "-a",
                    "test",
                ],
                check=True,
                capture_output=True,
                timeout=30,
            )
        _post(bases, [{**critical, "endsAt": "2000-01-01T00:00:00Z"}, warning, other])
        _settle(captures)
        sent = {name: [_summary_of(r.body) for r in c.requests] for name, (_, c) in bases.items()}
        bodies = {
            name: [_masked_webhook(r.body) for r in c.requests] for name, (_, c) in bases.items()
        }
    assert sent["vigil"] == sent["alertmanager"]
    assert bodies["vigil"] == bodies["alertmanager"]
    assert sent["vigil"][0] == (
        "firing",
        [
            ("firing", "alertname=Mem,instance=a,severity=critical"),
            ("firing", "alertname=Mem,instance=b,severity=warning"),
        ],
    )
    summary(
        f"webhook side by side with Alertmanager 0.25: {len(sent['vigil'])} notifications "
        "identical (inhibition, amtool silence, resolution)"
    )


def test_kill_9_keeps_silences_and_sends_nothing_twice(tmp_path: Path) -> None:
    config = tmp_path / "alertmanager.yml"
    storage = tmp_path / "data"
    with http_capture() as capture:
        config.write_text(WEBHOOK.format(url=capture.url("/hook")))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        silence = {
            "matchers": [{"name": "instance", "value": "b", "isRegex": False, "isEqual": True}],
            "startsAt": "2020-01-01T00:00:00Z",
            "endsAt": "2099-01-01T00:00:00Z",
            "createdBy": "test",
            "comment": "kept across kill -9",
        }
        first = subprocess.Popen(_vigil_args(config, storage, port))
        try:
            wait_ok(f"{base}/-/ready")
            httpx.post(f"{base}/api/v2/silences", json=silence).raise_for_status()
            httpx.post(f"{base}/api/v2/alerts", json=[{"labels": {"alertname": "A"}}])
            capture.wait(1)
            # A second group still in its group_wait when the process dies.
            httpx.post(f"{base}/api/v2/alerts", json=[{"labels": {"alertname": "B"}}])
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        assert len(capture.requests) == 1
        with running(_vigil_args(config, storage, port), f"{base}/-/ready"):
            silences = httpx.get(f"{base}/api/v2/silences").json()
            # Prometheus resends firing alerts every minute: both come back.
            alerts = [{"labels": {"alertname": "A"}}, {"labels": {"alertname": "B"}}]
            httpx.post(f"{base}/api/v2/alerts", json=alerts).raise_for_status()
            _settle([capture])
        names = [json.loads(r.body)["groupLabels"]["alertname"] for r in capture.requests]
    assert [s["comment"] for s in silences] == ["kept across kill -9"]
    assert names == ["A", "B"], "A was already sent before the kill; B exactly once after"


def test_kill_9_keeps_a_redos_silence_that_applies_once(tmp_path: Path) -> None:
    """A silence whose regex backtracks for ever in Python's re (`(.|.)*x` against a value of
    40 characters without an x) is stored, survives a `kill -9` taken while the alert it
    silences waits in its group, and after the restart mutes that alert while the other one
    of the same batch is notified exactly once."""
    config = tmp_path / "alertmanager.yml"
    storage = tmp_path / "data"
    silenced = {"labels": {"alertname": "S", "severity": "linux"}}
    notified = {"labels": {"alertname": "N", "severity": "a" * 40}}
    silence = {
        "matchers": [{"name": "severity", "value": "(.|.)*x", "isRegex": True, "isEqual": True}],
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2099-01-01T00:00:00Z",
        "createdBy": "test",
        "comment": "RE2 only",
    }
    with http_capture() as capture:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        # No group flushes before the kill: both alerts wait in their groups.
        config.write_text(
            WEBHOOK.format(url=capture.url("/hook")).replace("group_wait: 1s", "group_wait: 1h")
        )
        first = subprocess.Popen(_vigil_args(config, storage, port))
        try:
            wait_ok(f"{base}/-/ready")
            reply = httpx.post(f"{base}/api/v2/silences", json=silence)
            reply.raise_for_status()
            silence_id = reply.json()["silenceID"]
            httpx.post(f"{base}/api/v2/alerts", json=[silenced, notified]).raise_for_status()
            before = httpx.get(f"{base}/api/v2/alerts", timeout=PATIENCE_S).json()
        finally:
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
        config.write_text(WEBHOOK.format(url=capture.url("/hook")))
        with running(_vigil_args(config, storage, port), f"{base}/-/ready"):
            # Prometheus resends firing alerts: both come back after the restart.
            httpx.post(f"{base}/api/v2/alerts", json=[silenced, notified]).raise_for_status()
            capture.wait(1)
            _settle([capture])
            httpx.post(f"{base}/api/v2/alerts", json=[silenced, notified]).raise_for_status()
            _settle([capture])
            after = httpx.get(f"{base}/api/v2/alerts", timeout=PATIENCE_S).json()
            silences = httpx.get(f"{base}/api/v2/silences").json()
    silenced_by = {
        name: {a["labels"]["alertname"]: a["status"]["silencedBy"] for a in alerts}
        for name, alerts in (("before", before), ("after", after))
    }
    sent = [
        [a["labels"]["alertname"] for a in json.loads(r.body)["alerts"]] for r in capture.requests
    ]
    assert [(s["id"], s["status"]["state"]) for s in silences] == [(silence_id, "active")]
    assert silenced_by == {
        "before": {"S": [silence_id], "N": []},
        "after": {"S": [silence_id], "N": []},
    }
    assert sent == [["N"]]
