"""`vigil check config alertmanager.yml`: amtool check-config's verdict, plus warnings for what
loads but can never happen — an inhibition whose `equal` contradicts its matchers, a route no
alert reaches, a receiver no route uses — cross-checked against alerting rules when given."""

from __future__ import annotations

import glob
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TextIO

from vigil.alerting.route import Route, build_tree, matchers_string
from vigil.config._yaml import ConfigError, Node, load_yaml
from vigil.config.alertmanager import Config, InhibitRule, Kinds, load_config
from vigil.config.matchers import MatcherParseError, parse_matchers
from vigil.config.prometheus import load_config as load_prometheus_config
from vigil.model.matchers import Matcher, MatchType

ALERTNAME = "alertname"
_SERIES_LABELS = frozenset({"alertname", "instance", "job"})


@dataclass(frozen=True, slots=True)
class AlertRule:
    """What a rule file says about the alerts it fires: the name and the static labels
    (templated values are unknown until the rule runs, so they are left out)."""

    name: str
    labels: tuple[tuple[str, str], ...]
    file: str
    line: int

    def could_match(self, matchers: Iterable[Matcher]) -> bool:
        """False only when the rule's name or static labels rule the matchers out."""
        known = dict(self.labels)
        known[ALERTNAME] = self.name
        return all(m.matches(known[m.name]) for m in matchers if m.name in known)


def load_alert_rules(patterns: Sequence[str]) -> list[AlertRule]:
    """The alerting rules of Prometheus rule files (globs allowed); a missing file is an error."""
    rules: list[AlertRule] = []
    for pattern in patterns:
        paths = sorted(glob.glob(pattern)) or [pattern]
        for path in paths:
            try:
                with open(path, encoding="utf-8") as handle:
                    root = load_yaml(handle.read(), path)
            except OSError as err:
                raise ConfigError(path, 0, "", err.strerror or str(err)) from None
            if root is not None:
                rules.extend(_alert_rules(root, path))
    return rules


def _alert_rules(root: Node, path: str) -> Iterable[AlertRule]:
    for key, groups in root.items():
        if key.string() != "groups" or groups.is_null:
            continue
        for group in groups.sequence():
            for gkey, rules in group.items():
                if gkey.string() != "rules" or rules.is_null:
                    continue
                for rule in rules.sequence():
                    fields = dict((k.string(), v) for k, v in rule.items())
                    if "alert" not in fields:
                        continue
                    labels = fields.get("labels")
                    pairs = (
                        ()
                        if labels is None or labels.is_null
                        else tuple(
                            (k.string(), v.string())
                            for k, v in labels.items()
                            if "{{" not in v.string()
                        )
                    )
                    yield AlertRule(fields["alert"].string(), pairs, path, rule.line)


def lint(config: Config, rules: Sequence[AlertRule] | None = None) -> list[str]:
    """Warnings for settings that load but cannot work as written."""
    out: list[str] = []
    for index, rule in enumerate(config.inhibit_rules):
        out.extend(_inhibit_warnings(f"inhibit_rules[{index}] (line {rule.line})", rule, rules))
    tree = build_tree(config)
    out.extend(_shadowed(tree))
    used = {route.receiver for route in tree.walk()}
    for receiver in config.receivers:
        if receiver.name not in used:
            out.append(
                f'receiver "{receiver.name}" (line {receiver.line}) is used by no route:'
                " it never gets a notification"
            )
    return out


def _pinned(matchers: Iterable[Matcher], name: str) -> set[str] | None:
    """The only values `name` may have under these matchers, when an equality pins it."""
    values = {m.value for m in matchers if m.name == name and m.type is MatchType.EQUAL}
    return values or None


def _inhibit_warnings(
    where: str, rule: InhibitRule, rules: Sequence[AlertRule] | None
) -> list[str]:
    out: list[str] = []
    for name in rule.equal:
        source, target = _pinned(rule.source_matchers, name), _pinned(rule.target_matchers, name)
        if source is not None and target is not None and not source & target:
            out.append(
                f"{where}: equal requires the same {name} but source matchers want"
                f" {name}={'|'.join(sorted(source))} and target matchers"
                f" {name}={'|'.join(sorted(target))}: this inhibition can never happen"
            )
            return out
    if rules is None:
        return out
    sources = [r for r in rules if r.could_match(rule.source_matchers)]
    targets = [r for r in rules if r.could_match(rule.target_matchers)]
    if ALERTNAME in rule.equal and sources and targets:
        common = {r.name for r in sources} & {r.name for r in targets}
        if not common:
            out.append(
                f"{where}: equal requires the same alertname but the source alerts"
                f" ({', '.join(sorted({r.name for r in sources}))}) and the target alerts"
                f" ({', '.join(sorted({r.name for r in targets}))}) of the rule files are named"
                " differently: this inhibition can never happen"
            )
    set_by_rules = {name for r in rules for name, _ in r.labels}
    for name in rule.equal:
        if name not in set_by_rules and name not in _SERIES_LABELS:
            out.append(
                f'{where}: equal label "{name}" is set by no alerting rule: unless the alert'
                " series carry it, both sides lack it and it compares nothing (a typo?)"
            )
    if rules and not sources:
        out.append(f"{where}: no alerting rule can fire a source alert for this inhibition")
    return out


def _shadowed(route: Route) -> list[str]:
    """A child whose every alert an earlier sibling without `continue` already takes."""
    out: list[str] = []
    for index, child in enumerate(route.routes):
        for earlier in route.routes[:index]:
            if not earlier.continue_matching and set(earlier.matchers) <= set(child.matchers):
                out.append(
                    f"route {matchers_string(child.matchers)} (line {child.line}) is never reached:"
                    f" the earlier sibling {matchers_string(earlier.matchers)} (line {earlier.line})"
                    " takes all its alerts and has no continue: true"
                )
                break
        out.extend(_shadowed(child))
    return out


@dataclass(frozen=True, slots=True)
class CheckResult:
    file: str
    error: str | None
    warnings: tuple[str, ...] = ()


def check(path: str, kinds: Kinds, rule_files: Sequence[str] = ()) -> CheckResult:
    try:
        config = load_config(path, kinds)
        rules = load_alert_rules(rule_files) if rule_files else None
    except ConfigError as err:
        return CheckResult(path, str(err))
    return CheckResult(path, None, tuple(lint(config, rules)))


def check_command(
    files: Sequence[str], kinds: Kinds, out: TextIO, rule_files: Sequence[str] = ()
) -> int:
    """Print warnings then `FILE: SUCCESS` or `FILE: FAILED: <error>`; 1 when any file fails."""
    status = 0
    for path in files:
        result = check(path, kinds, rule_files)
        for warning in result.warnings:
            print(f"{path}: WARNING: {warning}", file=out)
        if result.error is None:
            print(f"{path}: SUCCESS", file=out)
        else:
            print(f"{path}: FAILED: {result.error}", file=out)
            status = 1
    return status


def routes_test_command(
    config_file: str,
    kinds: Kinds,
    labels: Sequence[str],
    verify: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """`amtool config routes test`'s twin: print the receivers an alert with these labels goes
    to, comma-separated; with `verify`, fail when they differ from it."""
    label_set: dict[str, str] = {}
    for arg in labels:
        try:
            matchers = parse_matchers(arg)
        except MatcherParseError as error:
            print(f"vigil: error: Failed to parse labels: {error}", file=err)
            return 1
        if len(matchers) != 1 or matchers[0].type is not MatchType.EQUAL:
            print(
                "vigil: error: Failed to parse labels: labels must be specified as key=value pairs",
                file=err,
            )
            return 1
        label_set[matchers[0].name] = matchers[0].value
    try:
        config = load_config(config_file, kinds)
    except ConfigError as error:
        print(f"vigil: error: {error}", file=err)
        return 1
    receivers = ",".join(route.receiver for route in build_tree(config).match(label_set))
    print(receivers, file=out)
    if verify is not None and verify != receivers:
        print("WARNING: Expected receivers did not match resolved receivers.", file=out)
        return 1
    return 0


def prometheus_rule_files(path: str) -> list[str]:
    """The rule file patterns a prometheus.yml names (joined to its directory)."""
    return list(load_prometheus_config(path).rule_files)
