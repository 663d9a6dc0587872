"""A dying container's last words reach Slack: its json-file log is collected by `vigil
server` into the log store, and the Slack message for its death alert, sent through the
default config's own Slack receiver (uncommented as the README says), carries them."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from tests.conftest import PATIENCE_S, REPO, free_port, running
from tests.notify.capture import HTTPCapture, http_capture

pytestmark = pytest.mark.slow

DEFAULT_AM = REPO / "src" / "vigil" / "alerting" / "default" / "alertmanager.yml"
CID = "5" * 64
LINES = [
    "2024-05-01 10:00:00 INFO  [main] shop - started",
    "2024-05-01 10:00:40 WARN  [gc] heap 1.9G of 2G after full GC",
    'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space',
    "\tat com.example.Shop.load(Shop.java:42)",
]


def _alertmanager_yml(slack_url: str) -> str:
    """The default config with its Slack receiver uncommented and made the route's, as the
    README tells a user to, and a short group_wait."""
    lines = DEFAULT_AM.read_text().splitlines()
    start = lines.index("  # - name: slack")
    block = []
    for line in lines[start:]:
        if line.strip() == "#":
            break
        block.append(line.replace("  # ", "  ", 1))
    text = "\n".join(lines[:start] + block + lines[start + len(block) :])
    text = text.replace("https://hooks.slack.com/services/T000/B000/XXXXXXXX", slack_url)
    text = text.replace('route:\n  receiver: "null"', "route:\n  receiver: slack")
    return text.replace("group_wait: 30s", "group_wait: 1s")


def _write_container_log(containers: Path) -> tuple[Path, str]:
    """The log, and the time of day (UTC) all its lines carry."""
    directory = containers / CID
    directory.mkdir(parents=True)
    (directory / "config.v2.json").write_text(
        json.dumps({"Name": "/shop", "Config": {"Image": "shop:2"}})
    )
    now = datetime.now(UTC)
    log = directory / f"{CID}-json.log"
    with log.open("w") as f:
        for line in LINES:
            stamp = now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            f.write(json.dumps({"log": line + "\n", "stream": "stderr", "time": stamp}) + "\n")
    return log, now.strftime("%H:%M:%S")


def _collected(positions: Path, log: Path) -> bool:
    try:
        saved = json.loads(positions.read_text())["positions"][str(log)]
    except (OSError, ValueError, KeyError):
        return False
    return bool(saved[1] == log.stat().st_size)


def _slack_texts(capture: HTTPCapture) -> list[str]:
    out = []
    for request in list(capture.requests):
        for attachment in json.loads(request.body).get("attachments", []):
            out.append(f"{attachment.get('title', '')}\n{attachment.get('text', '')}")
    return out


def test_the_death_alert_in_slack_shows_the_container_s_last_lines(tmp_path: Path) -> None:
    log, when = _write_container_log(tmp_path / "containers")
    port = free_port()
    with http_capture([200]) as slack:
        am = tmp_path / "alertmanager.yml"
        am.write_text(_alertmanager_yml(slack.url("/slack")))
        args = [
            sys.executable, "-m", "vigil", "server",
            f"--alertmanager.config.file={am}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--logs.docker-containers={tmp_path / 'containers'}",
            "--rules.default.disable",
        ]  # fmt: skip
        with running(args, f"http://127.0.0.1:{port}/-/ready"):
            positions = tmp_path / "data" / "logs" / "collected-positions.json"
            deadline = time.monotonic() + PATIENCE_S
            while not _collected(positions, log):
                assert time.monotonic() < deadline, "the container's log was never collected"
                time.sleep(0.2)
            alert = {
                "labels": {
                    "alertname": "ContainerOomKilled",
                    "name": "shop",
                    "instance": "vm1:9100",
                },
                "annotations": {"summary": "Container shop was OOM-killed"},
            }
            httpx.post(
                f"http://127.0.0.1:{port}/api/v2/alerts", json=[alert], timeout=10
            ).raise_for_status()
            deadline = time.monotonic() + PATIENCE_S
            while not any("shop" in text for text in _slack_texts(slack)):
                assert time.monotonic() < deadline, "no Slack message about shop"
                time.sleep(0.2)
    text = next(t for t in _slack_texts(slack) if "shop" in t)
    assert "Last lines:\n```\n" in text
    link = text.split("```\n")[2].split("\n")[0]
    assert link.startswith("</logs?query=%7Bcontainer%3D%22shop%22%7D&from=")
    assert link.endswith("|Logs before the death>")
    excerpt = text.split("```\n")[1].removesuffix("\n")
    # The trace is one entry (its `at` line continues the exception's), tabs made spaces.
    assert excerpt == "\n".join(
        [
            f"{when} {LINES[0]}",
            f"{when} {LINES[1]}",
            f"{when} {LINES[2]}\n    at com.example.Shop.load(Shop.java:42)",
        ]
    )
