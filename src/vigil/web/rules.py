"""`/api/v1/rules` and `/api/v1/alerts`: the rule manager's groups, rules and alerts in
Prometheus's JSON (Grafana's alerting views and Prometheus's own UI read these fields)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.model.gofloat import format_float
from vigil.rules.alerting import Alert, AlertingRule, AlertState
from vigil.rules.group import Group, Rule
from vigil.rules.lint import missing_metrics, recorded_names
from vigil.web.api import APIError, failure, success

_ZERO_TIME = "0001-01-01T00:00:00Z"


class RuleSource(Protocol):
    """What the routes read; `vigil.rules.RuleManager` is one."""

    def groups(self) -> list[Group]: ...


def _rfc3339(t_ms: int | None) -> str:
    """Go's RFC3339Nano in UTC (fraction without trailing zeros); Go's zero time for never."""
    if t_ms is None:
        return _ZERO_TIME
    stamp = datetime.fromtimestamp(t_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return stamp.rstrip("0").rstrip(".") + "Z"


def alert_json(alert: Alert) -> dict[str, Any]:
    body: dict[str, Any] = {
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "state": str(alert.state),
        "activeAt": _rfc3339(alert.active_at_ms),
        "value": format_float(alert.value, "e"),
    }
    if alert.keep_firing_since_ms:
        body["keepFiringSince"] = _rfc3339(alert.keep_firing_since_ms)
    return body


def rule_json(rule: Rule, with_alerts: bool = True) -> dict[str, Any]:
    common: dict[str, Any] = {
        "name": rule.name,
        "query": rule.expr,
        "labels": dict(rule.labels),
        "health": str(rule.health),
        "evaluationTime": rule.evaluation_seconds,
        "lastEvaluation": _rfc3339(rule.last_evaluation_ms),
    }
    if rule.last_error:
        common["lastError"] = rule.last_error
    if not isinstance(rule, AlertingRule):
        return {**common, "type": "recording"}
    alerts = [alert_json(a) for a in rule.active_alerts()] if with_alerts else []
    return {
        "state": str(rule.state()),
        "name": rule.name,
        "query": rule.expr,
        "duration": rule.spec.for_ms / 1000,
        "keepFiringFor": rule.spec.keep_firing_for_ms / 1000,
        "labels": dict(rule.labels),
        "annotations": dict(rule.annotations),
        "alerts": alerts,
        **{k: v for k, v in common.items() if k not in ("name", "query", "labels")},
        "type": "alerting",
    }


class RulesAPI:
    """The read-only routes over a RuleSource; with `metric_names` (every metric name the
    storage holds series for), also vigil's `/api/v1/rules/lint`."""

    def __init__(
        self, source: RuleSource, metric_names: Callable[[], frozenset[str]] | None = None
    ) -> None:
        self._source = source
        self._metric_names = metric_names

    def routes(self, prefix: str = "") -> list[BaseRoute]:
        """Under `prefix`: Loki's ruler serves the same JSON under `/prometheus`."""
        routes: list[BaseRoute] = [
            Route(f"{prefix}/api/v1/rules", self.rules, methods=["GET", "POST"]),
            Route(f"{prefix}/api/v1/alerts", self.alerts, methods=["GET"]),
        ]
        if self._metric_names is not None:
            routes.append(Route(f"{prefix}/api/v1/rules/lint", self.lint, methods=["GET"]))
        return routes

    async def lint(self, _: Request) -> Response:
        """`vigil check rules --lint=missing-metrics` against this server's own storage: each
        rule selecting a metric that has no series and that no loaded rule records. Rules are
        found by group file, group name and `index` in the group (names may repeat)."""
        assert self._metric_names is not None
        specs = [group.spec for group in self._source.groups()]
        known = await run_in_threadpool(self._metric_names)
        findings = missing_metrics(specs, known | recorded_names(specs))
        return success(
            {
                "findings": [
                    {
                        "file": f.file,
                        "group": f.group,
                        "index": f.index,
                        "rule": f.rule,
                        "type": "alerting" if f.kind == "alert" else "recording",
                        "line": f.line,
                        "metric": f.metric,
                    }
                    for f in findings
                ]
            }
        )

    async def rules(self, request: Request) -> Response:
        params = request.query_params
        if request.method == "POST":
            params = type(params)([*params.multi_items(), *(await request.form()).multi_items()])
        kind = params.get("type", "").lower()
        if kind not in ("", "alert", "record"):
            return failure(APIError("bad_data", f'unsupported type "{kind}"'))
        names = set(params.getlist("rule_name[]"))
        group_names = set(params.getlist("group_name[]"))
        files = set(params.getlist("file[]"))
        exclude_alerts = params.get("exclude_alerts", "").lower() == "true"
        groups = []
        for group in self._source.groups():
            if group_names and group.name not in group_names:
                continue
            if files and group.file not in files:
                continue
            rules = [
                rule_json(rule, not exclude_alerts)
                for rule in group.rules
                if _wanted(rule, kind, names)
            ]
            if not rules and (kind or names):
                continue
            groups.append(_group_json(group, rules))
        return success({"groups": groups})

    async def alerts(self, _: Request) -> Response:
        alerts = [
            alert_json(alert)
            for group in self._source.groups()
            for rule in group.alerting_rules()
            for alert in rule.active_alerts()
            if alert.state in (AlertState.PENDING, AlertState.FIRING)
        ]
        return success({"alerts": alerts})


def _wanted(rule: Rule, kind: str, names: set[str]) -> bool:
    if kind == "alert" and not isinstance(rule, AlertingRule):
        return False
    if kind == "record" and isinstance(rule, AlertingRule):
        return False
    return not names or rule.name in names


def _group_json(group: Group, rules: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": group.name,
        "file": group.file,
        "rules": list(rules),
        "interval": group.interval_ms / 1000,
        "limit": group.spec.limit,
        "evaluationTime": group.evaluation_seconds,
        "lastEvaluation": _rfc3339(group.last_evaluation_ms),
    }
