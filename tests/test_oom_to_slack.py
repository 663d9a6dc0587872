"""Issue #10's mission, for real: a process in a 64 MiB memory cgroup nears its limit, then the
kernel OOM-kills it, and both reach a local Slack-compatible sink through `vigil server` (the
default pack's container rules with a short `for:`, the in-process Alertmanager, the seed's own
Slack template), then the resolved messages, each exactly once. One process: the server scrapes
its own /metrics, which carries its in-process container collectors."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.conftest import FIXTURES, REPO, free_port, running
from tests.exporter.containers.memory_cgroups import (
    HIERARCHY,
    MemoryHierarchy,
    memory_cgroup,
    needs_memory_cgroup,
    remove_cgroup,
)
from tests.notify.capture import HTTPCapture, http_capture

CONTAINER_RULES = REPO / "src" / "vigil" / "rules" / "default" / "containers.yml"
SEED_ALERTMANAGER = FIXTURES / "seed-stack" / "alertmanager.yml"
NEAR_LIMIT, OOM_KILLED = "ContainerMemoryNearLimit", "ContainerOomKilled"
LIMIT = 64 << 20
HOLD = 60 << 20
"""What the workload holds first: 94% of the limit, above ContainerMemoryNearLimit's 90%."""
FOR = "5s"

# Grows (in 256 KiB steps) until its cgroup's usage reaches argv[2] bytes, prints its pid, waits
# for a line on stdin, then allocates 200 MiB more: past the limit.
HOLD_THEN_EXCEED = """
import os, sys
usage_file, target, held = sys.argv[1], int(sys.argv[2]), []
while int(open(usage_file).read()) < target:
    held.append(b"x" * (256 << 10))
print(os.getpid(), flush=True)
sys.stdin.readline()
held.append(b"x" * (200 << 20))
print("survived", flush=True)
"""


@dataclass(frozen=True)
class SlackMessage:
    at: float
    """Seconds since the workload started when the sink had it (to within a poll)."""
    title: str
    text: str
    color: str

    @property
    def alert(self) -> str:
        return OOM_KILLED if self.title.endswith("was OOM-killed") else NEAR_LIMIT

    @property
    def status(self) -> str:
        return {"danger": "firing", "good": "resolved"}[self.color]


class SlackLog:
    """The Slack posts about one cgroup (other tests may OOM-kill in cgroups of their own
    meanwhile), stamped with when a poll first saw them."""

    def __init__(self, sink: HTTPCapture, cgroup: str, start: float) -> None:
        self._sink = sink
        self._cgroup = cgroup
        self._start = start
        self._seen: list[float] = []

    def messages(self) -> list[SlackMessage]:
        requests = list(self._sink.requests)
        now = time.monotonic() - self._start
        self._seen += [now] * (len(requests) - len(self._seen))
        return [
            SlackMessage(at, a["title"], a["text"], a["color"])
            for request, at in zip(requests, self._seen, strict=True)
            for a in json.loads(request.body)["attachments"]
            if self._cgroup in a["title"]
        ]

    def wait(self, alert: str, status: str, seconds: float) -> None:
        """Polls (bounded) until the message arrives: real processes, real kernel, no clock."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any((m.alert, m.status) == (alert, status) for m in self.messages()):
                return
            time.sleep(0.1)
        raise AssertionError(f"no {status} {alert} message within {seconds:.0f} s")


def _test_rules(path: Path) -> None:
    """The default pack's two rules, expressions and templates untouched, with `for:` shortened."""
    pack = yaml.safe_load(CONTAINER_RULES.read_text())
    rules = [
        r for g in pack["groups"] for r in g["rules"] if r["alert"] in (NEAR_LIMIT, OOM_KILLED)
    ]
    assert [r["alert"] for r in rules] == [OOM_KILLED, NEAR_LIMIT]
    for rule in rules:
        if "for" in rule:
            rule["for"] = FOR
    path.write_text(yaml.safe_dump({"groups": [{"name": "oom-to-slack", "rules": rules}]}))


def _alertmanager_config(path: Path, slack_url: str) -> None:
    """The seed's Slack receiver (its own title and text templates) with short timers, grouped
    by cgroup too, so another test's OOM kill meanwhile makes messages of its own."""
    seed = yaml.safe_load(SEED_ALERTMANAGER.read_text())
    slack = dict(seed["receivers"][0]["slack_configs"][0])
    slack.update(api_url=slack_url, send_resolved=True)
    config = {
        "route": {
            "receiver": "slack",
            "group_by": ["alertname", "id"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [{"name": "slack", "slack_configs": [slack]}],
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True))


def _spawn(hierarchy: MemoryHierarchy, cgroup: str) -> subprocess.Popen[str]:
    """The workload under a shell moved into `cgroup` first, which exits as the process did
    (137 after a SIGKILL, as Docker reports an OOM-killed container)."""
    script = f'echo $$ > {hierarchy.procs_file(cgroup)} && "$0" -c "$1" "$2" "$3"; exit $?'
    usage = str(hierarchy.usage_file(cgroup))
    return subprocess.Popen(
        ["sh", "-c", script, sys.executable, HOLD_THEN_EXCEED, usage, str(HOLD)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # the shell's "Killed"
        text=True,
    )


def _view(message: SlackMessage) -> tuple[str, str, str, str]:
    """What a reader sees, measured percentages (not the rule's 90%) replaced by P%."""
    percent = re.compile(r"(?<!than )\b[0-9.]+%")
    text = " ".join(message.text.split())
    return message.alert, message.status, percent.sub("P%", message.title), percent.sub("P%", text)


@pytest.mark.slow
@needs_memory_cgroup
def test_oom_kill_reaches_slack(tmp_path: Path) -> None:
    assert isinstance(HIERARCHY, MemoryHierarchy)
    server_port = free_port()
    instance = f"127.0.0.1:{server_port}"
    (tmp_path / "prometheus.yml").write_text(
        "global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
        "rule_files: [rules.yml]\n"
        "scrape_configs:\n"
        f"  - {{job_name: vigil, static_configs: [{{targets: ['{instance}']}}]}}\n"
    )
    _test_rules(tmp_path / "rules.yml")
    server = [sys.executable, "-m", "vigil", "server", "--rules.default.disable"]
    server += [
        f"--web.listen-address={instance}",
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--alertmanager.config.file={tmp_path / 'alertmanager.yml'}",
        "--collector.docker.socket=",
    ]
    with http_capture() as sink, memory_cgroup(LIMIT) as cgroup:
        _alertmanager_config(tmp_path / "alertmanager.yml", sink.url("/slack"))
        with running(server, f"http://{instance}/-/ready"):
            start = time.monotonic()
            slack = SlackLog(sink, cgroup, start)
            workload = _spawn(HIERARCHY, cgroup)
            try:
                assert workload.stdout is not None and workload.stdin is not None
                pid = int(workload.stdout.readline())
                held_at = time.monotonic() - start
                slack.wait(NEAR_LIMIT, "firing", 45)
                workload.stdin.write("exceed\n")
                workload.stdin.flush()
                exit_code = workload.wait(30)
                killed_at = time.monotonic() - start
                slack.wait(OOM_KILLED, "firing", 20)
                slack.wait(NEAR_LIMIT, "resolved", 20)
                removed_at = time.monotonic() - start
                remove_cgroup(cgroup)  # its series go stale: the OOM alert ends
                slack.wait(OOM_KILLED, "resolved", 20)
                time.sleep(3)  # three group intervals: room for a duplicate to arrive
                messages = slack.messages()
            finally:
                if workload.poll() is None:
                    workload.kill()
                    workload.wait()

    print(f"\nheld {HOLD >> 20} MiB at {held_at:.1f} s, OOM-killed at {killed_at:.1f} s, ", end="")
    print(f"cgroup removed at {removed_at:.1f} s")
    for m in messages:
        print(f"{m.at:5.1f} s  {m.status:8}  {m.title}\n         {' '.join(m.text.split())}")
    near_title = f"Cgroup {cgroup} uses P% of its memory limit"
    near_text = (
        f"*Alert:* Cgroup {cgroup} on {instance} has used more than 90% of its memory limit of "
        "64MiB for 2 minutes (P%, page cache it can drop not counted). At the limit the kernel "
        f"OOM-kills it. *Instance:* {instance}"
    )
    oom_title = f"Cgroup {cgroup} was OOM-killed"
    oom_text = (
        f"*Alert:* The kernel's OOM killer killed a process of cgroup {cgroup} "
        f"({Path(sys.executable).name[:15]}, pid {pid}) on {instance} in the last 10 minutes. "
        f"Its memory limit is 64MiB. *Instance:* {instance}"
    )
    views = [_view(m) for m in messages]
    assert {
        "exit code": exit_code,
        "first": views[0][:2],
        "last": views[-1][:2],
        "messages": sorted(views),
    } == {
        "exit code": 137,
        "first": (NEAR_LIMIT, "firing"),
        "last": (OOM_KILLED, "resolved"),
        "messages": sorted(
            [
                (NEAR_LIMIT, "firing", near_title, near_text),
                (NEAR_LIMIT, "resolved", near_title, near_text),
                (OOM_KILLED, "firing", oom_title, oom_text),
                (OOM_KILLED, "resolved", oom_title, oom_text),
            ]
        ),
    }
