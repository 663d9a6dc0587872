"""Loki's ruler read API over a RuleManager holding PromQL and LogQL groups: YAML groups per
namespace (a rule file) at /loki/api/v1/rules and Grafana's /api/prom/rules, Prometheus JSON
of the LogQL groups only at /prometheus/api/v1/rules|alerts."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import numpy as np
import orjson
from starlette.applications import Starlette

from vigil.config.prometheus import parse_config
from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.logs.logql.engine import LogQLEngine
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine, EngineOptions
from vigil.rules import RuleManager, engine_query_func, evaluate_group
from vigil.rules.query import logql_query_func
from vigil.tsdb import MemoryAppender, MemoryStorage
from vigil.web.loki_api import LokiAPI, LokiContext

LOG_RULES = """\
groups:
  - name: app-logs
    interval: 10s
    rules:
      - alert: ErrorBurst
        expr: sum by (container) (count_over_time({container="app"} |= "ERROR" [1m])) > 5
        for: 20s
        labels: {severity: warning}
        annotations: {summary: "{{ $labels.container }} logs errors"}
      - record: app:lines:rate1m
        expr: sum(rate({container="app"}[1m]))
  - name: jvm
    rules:
      - alert: OOM
        expr: count_over_time({container="app"} |= "OutOfMemoryError" [5m]) > 0
"""
PROM_RULES = """\
groups:
  - name: host
    rules:
      - alert: NodeDown
        expr: up == 0
"""
T0 = 1_700_000_000


GROUP_YAML = """\
- name: app-logs
  interval: 10s
  rules:
  - alert: ErrorBurst
    expr: sum by (container) (count_over_time({container="app"} |= "ERROR" [1m])) > 5
    for: 20s
    labels:
      severity: warning
    annotations:
      summary: '{{ $labels.container }} logs errors'
  - record: app:lines:rate1m
    expr: sum(rate({container="app"}[1m]))
"""
JVM_YAML = """\
- name: jvm
  rules:
  - alert: OOM
    expr: count_over_time({container="app"} |= "OutOfMemoryError" [5m]) > 0
"""
JVM_GROUP_YAML = """\
name: jvm
rules:
- alert: OOM
  expr: count_over_time({container="app"} |= "OutOfMemoryError" [5m]) > 0
"""
YAML = "application/yaml"
TEXT = "text/plain; charset=utf-8"
# (path, status, content type, body); {ns} is the log rule file, the namespace.
CASES = [
    ("/loki/api/v1/rules", 200, YAML, "{ns}:\n" + GROUP_YAML + JVM_YAML),
    ("/api/prom/rules", 200, YAML, "{ns}:\n" + GROUP_YAML + JVM_YAML),
    ("/loki/api/v1/rules/{ns}", 200, YAML, "{ns}:\n" + GROUP_YAML + JVM_YAML),
    ("/api/prom/rules/{ns}/jvm", 200, YAML, JVM_GROUP_YAML),
    ("/loki/api/v1/rules/{ns}/nope", 404, TEXT, "group does not exist\n"),
    ("/loki/api/v1/rules/prom.yml", 404, TEXT, "no rule groups found\n"),
]


async def _get(ctx: LokiContext, paths: list[str]) -> list[tuple[int, str, str]]:
    transport = httpx.ASGITransport(app=Starlette(routes=LokiAPI(ctx).routes()))
    async with httpx.AsyncClient(transport=transport, base_url="http://vigil") as client:
        responses = [await client.get(path) for path in paths]
    return [(r.status_code, r.headers["content-type"], r.text) for r in responses]


async def _answers(tmp_path: Path, paths: list[str]) -> list[tuple[int, str, str]]:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "app.yml").write_text(LOG_RULES)
    (tmp_path / "prom.yml").write_text(PROM_RULES)
    config = parse_config(f"rule_files: [{tmp_path / 'prom.yml'}]\n", str(tmp_path / "p.yml"))
    store, metrics, clock = MemoryLogStore(), MemoryStorage(), ManualClock(T0)
    stamps = np.array([(T0 * 1000 + i) * 1_000_000 for i in range(8)], dtype=np.int64)
    store.push([Entries(Labels.from_dict({"container": "app"}), stamps, Lines.of(["ERROR x"] * 8))])
    manager = RuleManager(
        engine_query_func(Engine(metrics.queryable, EngineOptions(timeout_s=None))),
        lambda: MemoryAppender(metrics, []),
        metrics.queryable,
        clock,
        log_query=logql_query_func(LogQLEngine(store, clock=clock)),
        log_rule_files=[str(tmp_path / "logs" / "*.yml")],
    )
    manager.replace(manager.load(config))
    try:
        for group in manager.log_groups():
            evaluate_group(group, (T0 + 2) * 1000)
        return await _get(LokiContext(store, rule_groups=manager.log_groups), paths)
    finally:
        await manager.stop()


def test_ruler_yaml_lists_the_log_groups_per_namespace(tmp_path: Path) -> None:
    ns = str(tmp_path / "logs" / "app.yml")
    answers = asyncio.run(_answers(tmp_path, [case[0].replace("{ns}", ns) for case in CASES]))
    assert answers == [(status, kind, body.replace("{ns}", ns)) for _, status, kind, body in CASES]


def test_prometheus_shaped_rules_and_alerts_hold_only_the_log_groups(tmp_path: Path) -> None:
    ns = str(tmp_path / "logs" / "app.yml")
    paths = ["/prometheus/api/v1/rules", "/prometheus/api/v1/alerts"]
    (rules, alerts) = asyncio.run(_answers(tmp_path, paths))
    groups = orjson.loads(rules[2])["data"]["groups"]
    assert [
        (
            g["name"],
            g["file"],
            [(r["name"], r["type"], r["health"], r.get("state")) for r in g["rules"]],
        )
        for g in groups
    ] == [
        (
            "app-logs",
            ns,
            [
                ("ErrorBurst", "alerting", "ok", "pending"),
                ("app:lines:rate1m", "recording", "ok", None),
            ],
        ),
        ("jvm", ns, [("OOM", "alerting", "ok", "inactive")]),
    ]
    assert [
        (a["labels"], a["state"], a["value"]) for a in orjson.loads(alerts[2])["data"]["alerts"]
    ] == [
        ({"alertname": "ErrorBurst", "container": "app", "severity": "warning"}, "pending", "8e+00")
    ]


def test_no_log_rules_is_loki_404() -> None:
    paths = ["/loki/api/v1/rules", "/api/prom/rules/x.yml/g", "/prometheus/api/v1/rules"]
    answers = asyncio.run(_get(LokiContext(MemoryLogStore()), paths))
    assert [(status, body) for status, _, body in answers] == [
        (404, "no rule groups found\n"),
        (404, "no rule groups found\n"),
        (200, '{"status":"success","data":{"groups":[]}}'),
    ]
