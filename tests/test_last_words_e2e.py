"""A dying container's last words reach Slack: its json-file log is collected by `vigil
server` into the log store, and the Slack message for its death alert, sent through the
default config's own Slack receiver (uncommented as the README says), carries them; for an
alert posted to the API, and for a real OOM kill the server sees through Docker's API."""

from __future__ import annotations

import copy
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import yaml

from tests.conftest import PATIENCE_S, REPO, free_port, running
from tests.exporter.containers.fake_dockerd import FakeDockerd, load_fixture_containers
from tests.exporter.containers.memory_cgroups import (
    HIERARCHY,
    MemoryHierarchy,
    memory_cgroup,
    needs_memory_cgroup,
)
from tests.notify.capture import HTTPCapture, http_capture

pytestmark = pytest.mark.slow

DEFAULT_AM = REPO / "src" / "vigil" / "alerting" / "default" / "alertmanager.yml"
CONTAINER_RULES = REPO / "src" / "vigil" / "rules" / "default" / "containers.yml"
APP_FIXTURE_ID = "8dfafdbc3a40c4f1b2e6a7d9c0b1a2f3e4d5c6b7a8f9e0d1c2b3a4f5e6d7c8b9"
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


# Waits for a line on stdin (the server has seen the container running), then logs what it
# loads in 4 MiB steps and asks for 200 MiB more: past its cgroup's 64 MiB.
REPORT_BUILDER = """
import sys
sys.stdin.readline()
held = []
for batch in range(1, 6):
    held.append(b"x" * (4 << 20))
    print(f"report-builder: loaded batch {batch} of 8 ({4 * batch} MiB held)", flush=True)
print("report-builder: rendering the 200 MiB PDF", flush=True)
held.append(b"x" * (200 << 20))
print("report-builder: survived", flush=True)
"""
OOM_LIMIT = 64 << 20


def _docker_time(ns: int) -> str:
    """A time as Docker's json-file writes it (Go's RFC 3339 with nanoseconds, zeros trimmed)."""
    fraction = f"{ns % 1_000_000_000:09d}".rstrip("0")
    day = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 1_000_000_000))
    return f"{day}.{fraction}Z" if fraction else f"{day}Z"


class JsonFileWriter(threading.Thread):
    """Docker's json-file log driver for one container: each line its process writes to stdout
    becomes a `{"log","stream","time"}` record in `<root>/containers/<id>/<id>-json.log`."""

    def __init__(self, stdout: IO[bytes], log: Path) -> None:
        super().__init__(daemon=True)
        self._stdout = stdout
        self._log = log
        self.written: list[tuple[int, str]] = []

    def run(self) -> None:
        with self._log.open("a") as out:
            for raw in self._stdout:
                now = time.time_ns()
                line = raw.decode()
                record = {"log": line, "stream": "stdout", "time": _docker_time(now)}
                out.write(json.dumps(record) + "\n")
                out.flush()
                self.written.append((now, line.removesuffix("\n")))


def _container(cid: str, name: str, image: str, pid: int, log: Path) -> dict[str, Any]:
    """An inspect body of a running container (the fixture app's, renamed) with `pid` as its
    main process and the test's memory limit."""
    body = copy.deepcopy(load_fixture_containers()[APP_FIXTURE_ID])
    body.update(Id=cid, Name=f"/{name}", LogPath=str(log))
    body["Config"]["Image"] = image
    body["HostConfig"].update(Memory=OOM_LIMIT, MemorySwap=OOM_LIMIT)
    body["State"].update(
        Status="running", Running=True, ExitCode=0, OOMKilled=False, Pid=pid, FinishedAt=""
    )
    return body


def _checkpoint(body: dict[str, Any], directory: Path) -> None:
    """What dockerd writes to the container's config.v2.json on each start and exit."""
    config = {"ID": body["Id"], **{k: body[k] for k in ("Name", "Config", "State", "LogPath")}}
    (directory / "config.v2.json").write_text(json.dumps(config))


def _event(action: str, cid: str, attributes: dict[str, str], ns: int) -> dict[str, Any]:
    return {
        "status": action,
        "id": cid,
        "from": attributes["image"],
        "Type": "container",
        "Action": action,
        "Actor": {"ID": cid, "Attributes": attributes},
        "scope": "local",
        "time": ns // 1_000_000_000,
        "timeNano": ns,
    }


def _oom_killed_series(port: int, name: str) -> bool:
    """Whether the server has scraped its Docker collector's tally of the container."""
    answer = httpx.get(
        f"http://127.0.0.1:{port}/api/v1/query",
        params={"query": f'vigil_container_oom_killed_total{{name="{name}"}}'},
        timeout=10,
    ).json()
    return bool(answer["data"]["result"])


@needs_memory_cgroup
def test_a_real_oom_kill_in_slack_shows_the_container_s_last_lines(tmp_path: Path) -> None:
    """The kernel OOM-kills the Python process of container `reports` (a Docker double names it,
    with the real memory cgroup it runs in and its json-file log); the double then says what
    dockerd says (`oom`, `die` with exit code 137). The server classifies the death from the
    events and the cgroup, and its Slack message shows what the process printed last."""
    assert isinstance(HIERARCHY, MemoryHierarchy)
    cid = uuid.uuid4().hex + uuid.uuid4().hex
    name, image = "reports", "reports:3"
    short = Path(tempfile.mkdtemp(prefix="vigil-", dir="/tmp"))  # a unix socket path's length
    containers = tmp_path / "docker" / "containers"
    log = containers / cid / f"{cid}-json.log"
    log.parent.mkdir(parents=True)
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs:\n"
        f"  - {{job_name: vigil, static_configs: [{{targets: ['127.0.0.1:{port}']}}]}}\n"
    )
    pack = yaml.safe_load(CONTAINER_RULES.read_text())
    oom_rule = [r for g in pack["groups"] for r in g["rules"] if r["alert"] == "ContainerOomKilled"]
    (tmp_path / "rules.yml").write_text(
        yaml.safe_dump({"groups": [{"name": "containers", "rules": oom_rule}]})
    )
    with (
        http_capture([200]) as slack,
        memory_cgroup(OOM_LIMIT, tag=f"docker-{cid}") as cgroup,
        FakeDockerd(short / "docker.sock", {}) as dockerd,
    ):
        am = tmp_path / "alertmanager.yml"
        # Grouped by name too: another test's OOM kill in a cgroup of its own meanwhile is
        # an alert of this server as well, and gets a message of its own.
        am.write_text(
            _alertmanager_yml(slack.url("/slack")).replace(
                "group_by: [alertname, instance]", "group_by: [alertname, instance, name, id]"
            )
        )
        procs = HIERARCHY.procs_file(cgroup)
        workload = subprocess.Popen(
            ["sh", "-c", f'echo $$ > {procs} && exec "$0" -c "$1"', sys.executable, REPORT_BUILDER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        try:
            assert workload.stdin is not None and workload.stdout is not None
            writer = JsonFileWriter(workload.stdout, log)
            writer.start()
            dockerd.containers[cid] = _container(cid, name, image, workload.pid, log)
            _checkpoint(dockerd.containers[cid], log.parent)
            args = [
                sys.executable, "-m", "vigil", "server", "--rules.default.disable",
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--alertmanager.config.file={am}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--collector.docker.socket={short / 'docker.sock'}",
                f"--logs.docker-containers={containers}",
            ]  # fmt: skip
            with running(args, f"http://127.0.0.1:{port}/-/ready"):
                dockerd.wait_for_stream(PATIENCE_S)
                deadline = time.monotonic() + PATIENCE_S
                while not _oom_killed_series(port, name):
                    assert time.monotonic() < deadline, "the container's tally was never scraped"
                    time.sleep(0.2)
                workload.stdin.write(b"go\n")
                workload.stdin.flush()
                returncode = workload.wait(PATIENCE_S)
                writer.join(PATIENCE_S)
                died = time.time_ns()
                killed_at = time.monotonic()
                dockerd.containers[cid]["State"].update(
                    Status="exited",
                    Running=False,
                    ExitCode=128 - returncode,
                    OOMKilled=True,
                    Pid=0,
                    FinishedAt=_docker_time(died),
                )
                _checkpoint(dockerd.containers[cid], log.parent)
                attributes = {"image": image, "name": name}
                dockerd.push_event(_event("oom", cid, attributes, died - 1_000_000))
                dockerd.push_event(_event("die", cid, {**attributes, "exitCode": "137"}, died))
                deadline = time.monotonic() + PATIENCE_S
                while not any(name in text for text in _slack_texts(slack)):
                    assert time.monotonic() < deadline, f"no Slack message about {name}"
                    time.sleep(0.2)
                latency = time.monotonic() - killed_at
        finally:
            if workload.poll() is None:
                workload.kill()
                workload.wait()
        shutil.rmtree(short, ignore_errors=True)
    print(f"\nthe Slack message came {latency:.1f} s after the OOM kill")
    text = next(t for t in _slack_texts(slack) if name in t)
    excerpt = text.split("```\n")[1].removesuffix("\n")
    assert (returncode, text.split("\n")[0], excerpt) == (
        -signal.SIGKILL,
        f"Container {name} was OOM-killed",
        "\n".join(
            f"{time.strftime('%H:%M:%S', time.gmtime(ns // 1_000_000_000))} {line}"
            for ns, line in writer.written
        ),
    )
    assert [line for _, line in writer.written][-1] == "report-builder: rendering the 200 MiB PDF"
