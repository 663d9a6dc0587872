"""Loki's ruler read API over the Loki-ruler (LogQL) rule groups: `/loki/api/v1/rules` (and the
legacy `/api/prom/rules`, which Grafana's alerting reads) as YAML rule groups per namespace, a
namespace being a rule file; `/prometheus/api/v1/rules|alerts` in Prometheus's JSON. Rules are
files here, so the write methods are not served (405)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.config.duration import Duration
from vigil.rules.group import Group
from vigil.rules.rulefile import AlertingRuleSpec, GroupSpec, RuleSpec
from vigil.web.rules import RulesAPI

GroupsSource = Callable[[], list[Group]]


@dataclass(frozen=True, slots=True)
class _Source:
    """A RuleSource of only the log groups, for the Prometheus-shaped routes."""

    log_groups: GroupsSource

    def groups(self) -> list[Group]:
        return self.log_groups()


class LokiRulerAPI:
    def __init__(self, log_groups: GroupsSource) -> None:
        self._groups = log_groups

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for prefix in ("/loki/api/v1/rules", "/api/prom/rules"):
            routes.append(Route(prefix, self.rules, methods=["GET"]))
            routes.append(Route(f"{prefix}/{{rest:path}}", self.rules, methods=["GET"]))
        return [*routes, *RulesAPI(_Source(self._groups)).routes("/prometheus")]

    async def rules(self, request: Request) -> Response:
        """All namespaces, one namespace (`/{namespace}`) or one group
        (`/{namespace}/{group}`); a namespace may hold slashes (it is a file path)."""
        namespaces: dict[str, list[GroupSpec]] = {}
        for group in self._groups():
            namespaces.setdefault(group.file, []).append(group.spec)
        rest = request.path_params.get("rest")
        if rest is None:
            return _namespaces_yaml(namespaces)
        if rest in namespaces:
            return _namespaces_yaml({rest: namespaces[rest]})
        for namespace, specs in namespaces.items():
            if rest.startswith(f"{namespace}/"):
                name = rest[len(namespace) + 1 :]
                for spec in specs:
                    if spec.name == name:
                        return _yaml(group_yaml(spec))
                return PlainTextResponse("group does not exist\n", status_code=404)
        return _namespaces_yaml({})


def group_yaml(spec: GroupSpec) -> dict[str, Any]:
    """A group as Prometheus's rulefmt writes it: unset fields left out."""
    out: dict[str, Any] = {"name": spec.name}
    if spec.interval_ms is not None:
        out["interval"] = str(Duration(spec.interval_ms))
    if spec.query_offset_ms is not None:
        out["query_offset"] = str(Duration(spec.query_offset_ms))
    if spec.limit:
        out["limit"] = spec.limit
    if spec.labels:
        out["labels"] = dict(spec.labels)
    out["rules"] = [_rule_yaml(rule) for rule in spec.rules]
    return out


def _rule_yaml(rule: RuleSpec) -> dict[str, Any]:
    if not isinstance(rule, AlertingRuleSpec):
        out: dict[str, Any] = {"record": rule.record, "expr": rule.expr}
        if rule.labels:
            out["labels"] = dict(rule.labels)
        return out
    out = {"alert": rule.alert, "expr": rule.expr}
    if rule.for_ms:
        out["for"] = str(Duration(rule.for_ms))
    if rule.keep_firing_for_ms:
        out["keep_firing_for"] = str(Duration(rule.keep_firing_for_ms))
    if rule.labels:
        out["labels"] = dict(rule.labels)
    if rule.annotations:
        out["annotations"] = dict(rule.annotations)
    return out


def _namespaces_yaml(namespaces: Mapping[str, Sequence[GroupSpec]]) -> Response:
    """Loki's answer: 404 `no rule groups found` when there are none."""
    if not namespaces:
        return PlainTextResponse("no rule groups found\n", status_code=404)
    return _yaml({ns: [group_yaml(spec) for spec in specs] for ns, specs in namespaces.items()})


def _yaml(body: object) -> Response:
    text = yaml.safe_dump(body, sort_keys=False, allow_unicode=True, width=1_000_000)
    return Response(text, media_type="application/yaml")
