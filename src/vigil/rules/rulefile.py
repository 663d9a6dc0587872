"""Prometheus rule files (`groups:` of recording and alerting rules), loaded and validated as
Prometheus's rulefmt does; errors say file, line, group, rule and why, as promtool prints them."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from vigil import template
from vigil.config._yaml import ConfigError, Mapping, Node, load_yaml
from vigil.config.duration import Duration
from vigil.model import Labels
from vigil.promql.errors import PromQLError
from vigil.promql.parser import parse

_METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_GROUP_KEYS = ("name", "interval", "query_offset", "limit", "rules", "labels")
_RULE_KEYS = ("record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations")

# Prometheus prepends these to every alert label/annotation template before parsing it.
TEMPLATE_DEFINITIONS = (
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"
)


class RuleFileError(ConfigError):
    """A rule file that cannot be loaded; printed as promtool prints rulefmt errors."""

    def __init__(
        self,
        file: str,
        line: int,
        message: str,
        group: str = "",
        rule: str = "",
        index: int = 0,
        column: int = 0,
    ) -> None:
        super().__init__(file, line, "", message)
        self.group = group
        self.rule = rule
        self.index = index
        self.column = column

    def __str__(self) -> str:
        if self.line and self.column:
            where = f"{self.file}: {self.line}:{self.column}:"
        else:
            where = f"{self.file}:{self.line}:" if self.line else f"{self.file}:"
        if self.group and self.index:
            return f'{where} group "{self.group}", rule {self.index}, "{self.rule}": {self.message}'
        if self.group:
            return f'{where} group "{self.group}": {self.message}'
        return f"{where} {self.message}"


@dataclass(frozen=True, slots=True)
class RecordingRuleSpec:
    record: str
    expr: str
    labels: Labels
    line: int

    @property
    def name(self) -> str:
        return self.record


@dataclass(frozen=True, slots=True)
class AlertingRuleSpec:
    """`labels` and `annotations` values are Go templates, expanded per alert at evaluation."""

    alert: str
    expr: str
    for_ms: int
    keep_firing_for_ms: int
    labels: Labels
    annotations: Labels
    line: int

    @property
    def name(self) -> str:
        return self.alert


RuleSpec = RecordingRuleSpec | AlertingRuleSpec


@dataclass(frozen=True, slots=True)
class GroupSpec:
    """One `groups[]` entry; `interval_ms`/`query_offset_ms` None means the global default."""

    file: str
    name: str
    interval_ms: int | None
    query_offset_ms: int | None
    limit: int
    labels: Labels
    rules: tuple[RuleSpec, ...]
    line: int


@dataclass(frozen=True, slots=True)
class RuleFile:
    path: str
    groups: tuple[GroupSpec, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def rule_count(self) -> int:
        return sum(len(group.rules) for group in self.groups)


ExprCheck = Callable[[str], None]
"""Raises ValueError (or PromQLError) saying why `expr` is not a rule expression."""
TemplateCheck = Callable[[str, str], str | None]
"""Why an alerting rule's (name, label or annotation text) is not a template, or None."""


def check_promql(expr: str) -> None:
    parse(expr)


def template_problem(rule_name: str, text: str) -> str | None:
    """Why `text` does not parse as an alert template (None when it does): Prometheus rejects
    such rules at load time rather than sending `<error expanding template>` later."""
    if "{{" not in text:
        return None
    try:
        template.parse_prometheus_template(f"__alert_{rule_name}", TEMPLATE_DEFINITIONS + text)
    except template.TemplateError as err:
        return str(err)
    return None


def load_rule_file(
    path: str,
    ignore_unknown_fields: bool = False,
    check: ExprCheck = check_promql,
    templates: TemplateCheck = template_problem,
) -> RuleFile:
    """Read and validate one rule file (expressions by `check`: PromQL unless told, LogQL
    for Loki-ruler files; label and annotation templates by `templates`, `template_problem`
    unless told); raises RuleFileError (a ConfigError)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise RuleFileError(path, 0, err.strerror or str(err)) from None
    return parse_rule_file(text, path, ignore_unknown_fields, check, templates)


def parse_rule_file(
    text: str,
    path: str,
    ignore_unknown_fields: bool = False,
    check: ExprCheck = check_promql,
    templates: TemplateCheck = template_problem,
) -> RuleFile:
    try:
        root = load_yaml(text, path)
    except ConfigError as err:
        raise RuleFileError(path, err.line, err.message) from None
    if root is None:
        return RuleFile(path, ())
    try:
        top = _mapping(root, ("groups",), "a rule file", ignore_unknown_fields)
        groups: list[GroupSpec] = []
        seen: set[str] = set()
        for item in top.sequence("groups"):
            group = _group(item, path, ignore_unknown_fields, check, templates)
            if group.name in seen:
                raise RuleFileError(
                    path, item.line, f'groupname: "{group.name}" is repeated in the same file'
                )
            seen.add(group.name)
            groups.append(group)
    except RuleFileError:
        raise
    except ConfigError as err:
        raise RuleFileError(path, err.line, f"{err.path}: {err.message}") from None
    return RuleFile(path, tuple(groups))


def _mapping(node: Node, keys: tuple[str, ...], what: str, ignore_unknown: bool) -> Mapping:
    if ignore_unknown and hasattr(node.raw, "value") and isinstance(node.raw.value, list):
        present = tuple(str(key.value) for key, _ in node.raw.value if hasattr(key, "value"))
        keys = keys + present
    return node.mapping(keys, what)


def _group(
    node: Node, path: str, ignore_unknown: bool, check: ExprCheck, templates: TemplateCheck
) -> GroupSpec:
    fields = _mapping(node, _GROUP_KEYS, "a rule group", ignore_unknown)
    name = fields.string("name")
    if not name:
        raise RuleFileError(path, node.line, "Groupname must not be empty")
    interval = fields.get("interval")
    offset = fields.get("query_offset")
    rules = tuple(
        _rule(item, path, name, index, ignore_unknown, check, templates)
        for index, item in enumerate(fields.sequence("rules"), start=1)
    )
    return GroupSpec(
        file=path,
        name=name,
        interval_ms=interval.duration().milliseconds if interval is not None else None,
        query_offset_ms=offset.duration().milliseconds if offset is not None else None,
        limit=fields.integer("limit"),
        labels=_labels(fields.get("labels"), path, name, "", 0, "label"),
        rules=rules,
        line=node.line,
    )


def _rule(
    node: Node,
    path: str,
    group: str,
    index: int,
    ignore_unknown: bool,
    check: ExprCheck,
    templates: TemplateCheck,
) -> RuleSpec:
    fields = _mapping(node, _RULE_KEYS, "a rule", ignore_unknown)
    record, alert = fields.string("record"), fields.string("alert")
    name = record or alert

    def fail(message: str, at: Node | None = None) -> RuleFileError:
        line = (at or node).line
        return RuleFileError(path, line, message, group, name, index)

    if record and alert:
        raise fail("only one of 'record' and 'alert' must be set")
    if not record and not alert:
        raise fail("one of 'record' or 'alert' must be set")
    expr_node = fields.get("expr")
    expr = expr_node.string() if expr_node is not None else ""
    if not expr or expr_node is None:
        raise fail("field 'expr' must be set in rule")
    try:
        check(expr)
    except (PromQLError, ValueError) as err:
        column = int(expr_node.raw.start_mark.column) + 1
        message = f"could not parse expression: {err}"
        raise RuleFileError(path, expr_node.line, message, group, name, index, column) from None
    labels = _labels(fields.get("labels"), path, group, name, index, "label")
    if record:
        if "annotations" in fields:
            raise fail("invalid field 'annotations' in recording rule")
        if fields.duration("for", Duration(0)):
            raise fail("invalid field 'for' in recording rule")
        if fields.duration("keep_firing_for", Duration(0)):
            raise fail("invalid field 'keep_firing_for' in recording rule")
        if _METRIC_NAME.match(record) is None:
            raise fail(f"invalid recording rule name: {record}")
        return RecordingRuleSpec(record, expr, labels, node.line)
    annotations = _labels(fields.get("annotations"), path, group, name, index, "annotation")
    for kind, pairs in (("label", labels), ("annotation", annotations)):
        for key, text in pairs:
            problem = templates(alert, text)
            if problem is not None:
                raise RuleFileError(path, 0, f'{kind} "{key}": {problem}', group, name, index)
    return AlertingRuleSpec(
        alert=alert,
        expr=expr,
        for_ms=fields.duration("for", Duration(0)).milliseconds,
        keep_firing_for_ms=fields.duration("keep_firing_for", Duration(0)).milliseconds,
        labels=labels,
        annotations=annotations,
        line=node.line,
    )


def _labels(node: Node | None, path: str, group: str, rule: str, index: int, kind: str) -> Labels:
    if node is None:
        return Labels()
    pairs: dict[str, str] = {}
    for key, value in node.items():
        name = key.string()
        if _LABEL_NAME.match(name) is None or (kind == "label" and name == "__name__"):
            raise RuleFileError(path, key.line, f"invalid {kind} name: {name}", group, rule, index)
        pairs[name] = value.string()
    return Labels.from_dict(pairs)
