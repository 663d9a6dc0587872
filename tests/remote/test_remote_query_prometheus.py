"""Rules evaluated by vigil against a real Prometheus's HTTP API fire the same alerts, with
the same labels, values, annotations (template queries included) and times, as the same
rules evaluated against vigil's own TSDB holding the same data; and `vigil server
--query.remote-url` answers `/api/v1/query` and runs its rules on the remote's data."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.conftest import free_port, peer, running, wait_ok

from vigil.model import Labels
from vigil.promql.engine import Engine, EngineOptions, QueryEngine
from vigil.remote.remote_query import RemoteEngine
from vigil.rules.alerting import AlertingRule
from vigil.rules.group import Group, GroupOptions
from vigil.rules.query import engine_query_func
from vigil.rules.rulefile import parse_rule_file
from vigil.rules.unittest import MemoryAppender
from vigil.tsdb import MemoryStorage
from vigil.tsdb.db import TSDB
from vigil.tsdb.importer import import_openmetrics

pytestmark = pytest.mark.slow

T0 = 1_700_000_000  # seconds
STEP_S = 15
N = 120  # 30 minutes of samples

RULES = """
groups:
  - name: differential
    rules:
      - alert: HighMemory
        expr: mem_used_ratio > 0.8
        for: 2m
        labels:
          severity: warning
        annotations:
          summary: "{{ $labels.instance }} at {{ $value | humanizePercentage }}"
          total: '{{ query "sum(mem_used_ratio)" | first | value | printf "%.4f" }}'
      - alert: Errors
        expr: rate(errors_total[1m]) > 0.5
        keep_firing_for: 1m
      - alert: NoSuchMetric
        expr: absent(nothing_here)
      - alert: FewInstances
        expr: count(mem_used_ratio) < 3
"""


def _openmetrics() -> str:
    """Instance a climbs past 80 % and stays; b spikes over it and falls back; c goes
    away half way; errors_total runs fast for a while."""
    lines = ["# TYPE mem_used_ratio gauge"]
    for i in range(N):
        t = T0 + i * STEP_S
        lines.append(f'mem_used_ratio{{instance="a"}} {0.5 + 0.45 * i / N!r} {t}')
        lines.append(f'mem_used_ratio{{instance="b"}} {0.9 if 40 <= i < 52 else 0.6} {t}')
        if i < N // 2:
            lines.append(f'mem_used_ratio{{instance="c"}} 0.1 {t}')
    lines.append("# TYPE errors counter")
    total = 0.0
    for i in range(N):
        total += 30.0 if 60 <= i < 80 else 1.0
        lines.append(f'errors_total{{instance="a"}} {total!r} {T0 + i * STEP_S}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class AlertView:
    rule: str
    health: str
    labels: Labels
    state: str
    value: float
    annotations: Labels
    active_at_ms: int
    fired_at_ms: int
    resolved_at_ms: int


def _run_rules(engine: QueryEngine) -> list[list[AlertView]]:
    """Every alert of every rule after each evaluation, evaluated every 15 s."""
    spec = parse_rule_file(RULES, "rules.yml").groups[0]
    sink = MemoryStorage()
    group = Group(spec, GroupOptions(), engine_query_func(engine), lambda: MemoryAppender(sink, []))
    views: list[list[AlertView]] = []
    for i in range(4, N + 8):
        # Between samples: Prometheus 2.42 (the Debian peer) closes range windows on the
        # left, 3.x (and vigil) do not; off the sample grid both agree.
        group.evaluate((T0 + i * STEP_S + 7) * 1000)
        step: list[AlertView] = []
        for rule in group.rules:
            assert isinstance(rule, AlertingRule)
            step.extend(
                AlertView(
                    rule.name,
                    f"{rule.health}: {rule.last_error}",
                    a.labels,
                    a.state,
                    a.value,
                    a.annotations,
                    a.active_at_ms,
                    a.fired_at_ms,
                    a.resolved_at_ms,
                )
                for a in rule.all_alerts()
            )
        views.append(sorted(step, key=lambda v: (v.rule, v.labels)))
    return views


@pytest.fixture(scope="module")
def prometheus_and_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real Prometheus and a vigil data dir holding the same samples."""
    root = tmp_path_factory.mktemp("remote-query")
    om = root / "data.om"
    om.write_text(_openmetrics())
    prom_dir, vigil_dir = root / "prometheus", root / "vigil"
    subprocess.run(
        [peer("promtool"), "tsdb", "create-blocks-from", "openmetrics", str(om), str(prom_dir)],
        check=True,
        capture_output=True,
    )
    import_openmetrics(om, vigil_dir)
    config = root / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1h\nscrape_configs: []\n")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [
        peer("prometheus"),
        f"--config.file={config}",
        f"--storage.tsdb.path={prom_dir}",
        "--storage.tsdb.retention.time=100y",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(args, f"{url}/-/ready"):
        yield url, vigil_dir


def test_rules_against_prometheus_fire_as_against_the_local_tsdb(
    prometheus_and_local: tuple[str, Path],
) -> None:
    url, vigil_dir = prometheus_and_local
    with TSDB.open(vigil_dir) as tsdb:
        local = _run_rules(Engine(tsdb.querier, EngineOptions(timeout_s=None)))
    remote_engine = RemoteEngine(url, timeout_s=30)
    try:
        remote = _run_rules(remote_engine)
    finally:
        remote_engine.close()
    seen = {(v.rule, v.state) for step in local for v in step}
    assert {("HighMemory", "pending"), ("HighMemory", "firing"), ("Errors", "firing")} <= seen
    assert {("HighMemory", "inactive"), ("FewInstances", "firing")} <= seen
    assert remote == local


def test_vigil_server_queries_and_alerts_on_the_remote(
    prometheus_and_local: tuple[str, Path], tmp_path: Path
) -> None:
    """End to end through the CLI flag: vigil stores nothing itself, yet `/api/v1/query`
    answers Prometheus's samples and a rule over them fires."""
    url, _ = prometheus_and_local
    rules = tmp_path / "rules.yml"
    config = tmp_path / "vigil.yml"
    config.write_text(f"rule_files: ['{rules}']\nscrape_configs: []\n")
    port = free_port()
    vigil_url = f"http://127.0.0.1:{port}"
    args = [
        sys.executable,
        "-m",
        "vigil",
        "server",
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--query.remote-url={url}",
        "--agent.disable",
        "--rules.default.disable",
        "--alertmanager.disable",
    ]
    # The data is from 2023 and rules evaluate now: `@` pins the rule's selector to it.
    t = T0 + 600
    rules.write_text(
        "groups:\n  - name: remote\n    interval: 1s\n    rules:\n"
        f"      - alert: RemoteHasData\n        expr: count(mem_used_ratio @ {t}) > 0\n"
    )
    with running(args, f"{vigil_url}/-/ready"):
        wait_ok(f"{vigil_url}/-/healthy")
        params = {"query": "mem_used_ratio", "time": str(t)}
        got = httpx.get(f"{vigil_url}/api/v1/query", params=params, timeout=10).json()
        want = httpx.get(f"{url}/api/v1/query", params=params, timeout=10).json()
        state = _wait_alert(vigil_url, "RemoteHasData")
    assert got == want
    assert len(want["data"]["result"]) == 3
    assert state == "firing"


def _wait_alert(vigil_url: str, name: str, seconds: float = 20) -> str:
    """The alert's state once the rule has been evaluated (bounded poll of /api/v1/alerts)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        alerts = httpx.get(f"{vigil_url}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        found = [a["state"] for a in alerts if a["labels"]["alertname"] == name]
        if found:
            return str(found[0])
        time.sleep(0.2)
    rules = httpx.get(f"{vigil_url}/api/v1/rules", timeout=5).json()
    raise AssertionError(f"{name} never became active; rules: {rules}")
