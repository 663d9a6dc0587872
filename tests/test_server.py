"""`vigil server` end to end: scrape a real node_exporter, query it, survive a restart."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import PATIENCE_S, free_port, peer, running

pytestmark = pytest.mark.slow


def _query(api: str, query: str) -> list[dict[str, Any]]:
    body = httpx.get(f"{api}/api/v1/query", params={"query": query}).json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def _until(check: Any, deadline: float) -> Any:
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_scrapes_node_exporter_and_keeps_data_across_restart(tmp_path: Path) -> None:
    exporter_port, port = free_port(), free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: node\n    static_configs: [{{targets: ['127.0.0.1:{exporter_port}']}}]\n"
    )
    server = [
        sys.executable, "-m", "vigil", "server",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    api = f"http://127.0.0.1:{port}"
    node = [peer("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{exporter_port}"]
    with running(node, f"http://127.0.0.1:{exporter_port}/metrics"):
        with running(server, f"{api}/-/ready"):
            deadline = time.monotonic() + PATIENCE_S
            up = _until(lambda: _query(api, 'up{job="node"}'), deadline)
            assert up[0]["value"][1] == "1"
            total = _until(lambda: _query(api, "node_memory_MemTotal_bytes"), deadline)
            assert float(total[0]["value"][1]) > 0
            targets = httpx.get(f"{api}/api/v1/targets").json()["data"]["activeTargets"]
            assert [(t["labels"]["job"], t["health"]) for t in targets] == [("node", "up")]
            before = _until(lambda: _query(api, "count_over_time(up[10m])"), deadline)
        with running(server, f"{api}/-/ready"):
            after = _query(api, "count_over_time(up[10m])")
            assert float(after[0]["value"][1]) >= float(before[0]["value"][1])


def test_bad_config_names_file_and_line(tmp_path: Path) -> None:
    config = tmp_path / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 15\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vigil",
            "server",
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'd'}",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert f"{config}:2: global.scrape_interval" in done.stderr


def test_unwritable_data_dir_says_which_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = subprocess.run(
        [sys.executable, "-m", "vigil", "server", f"--storage.tsdb.path={blocker / 'data'}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    assert str(blocker / "data") in done.stderr


def test_sighup_reloads_the_config(tmp_path: Path) -> None:
    import signal

    port = free_port()
    config = tmp_path / "prometheus.yml"
    job = "scrape_configs:\n  - job_name: {}\n    static_configs: [{{targets: ['127.0.0.1:9']}}]\n"
    config.write_text(job.format("before"))
    api = f"http://127.0.0.1:{port}"
    server = [
        sys.executable, "-m", "vigil", "server", "--agent.disable",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip

    def jobs() -> list[str]:
        targets = httpx.get(f"{api}/api/v1/targets").json()["data"]["activeTargets"]
        return sorted(t["labels"]["job"] for t in targets)

    with running(server, f"{api}/-/ready") as proc:
        assert jobs() == ["before"]
        config.write_text(job.format("after"))
        proc.send_signal(signal.SIGHUP)
        _until(lambda: jobs() == ["after"], time.monotonic() + 20)


def _metric(api: str, name: str) -> float:
    lines = httpx.get(f"{api}/metrics").text.splitlines()
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines if line.startswith(name))


ALWAYS = """
groups:
  - name: always
    interval: 1s
    rules:
      - alert: Always
        expr: vector(1)
"""


@pytest.mark.parametrize("am_flag", [True, False], ids=["with-am-config", "without"])
def test_seed_style_alerting_section_still_reaches_the_builtin_alertmanager(
    tmp_path: Path, am_flag: bool
) -> None:
    """The seed's prometheus.yml names localhost:9093; started with --alertmanager.config.file,
    vigil is that Alertmanager, so alerts reach it too (without the flag they go only where
    prometheus.yml says); /api/v1/alertmanagers lists the configured one."""
    port, nobody = free_port(), free_port()
    (tmp_path / "rules.yml").write_text(ALWAYS)
    (tmp_path / "prometheus.yml").write_text(
        "global: {evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        f"alerting: {{alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{nobody}']}}]}}]}}\n"
    )
    (tmp_path / "alertmanager.yml").write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    server = [
        sys.executable, "-m", "vigil", "server", "--agent.disable", "--rules.default.disable",
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]  # fmt: skip
    if am_flag:
        server.append(f"--alertmanager.config.file={tmp_path / 'alertmanager.yml'}")
    api = f"http://127.0.0.1:{port}"
    with running(server, f"{api}/-/ready"):
        managers = httpx.get(f"{api}/api/v1/alertmanagers").json()["data"]
        # A batch was sent (and failed: nobody listens there); local delivery happens in
        # the same hand-over.
        _until(
            lambda: _metric(api, "prometheus_notifications_errors_total") > 0,
            time.monotonic() + PATIENCE_S,
        )
        received = httpx.get(f"{api}/api/v2/alerts").json()
    assert managers["activeAlertmanagers"] == [{"url": f"http://127.0.0.1:{nobody}/api/v2/alerts"}]
    names = [a["labels"]["alertname"] for a in received]
    assert names == (["Always"] if am_flag else [])
