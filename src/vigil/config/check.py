"""`vigil check config`: promtool check config's verdicts, plus lints for configs that load but
can never do what they say (alerts that are never sent, jobs without targets, …)."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from vigil.config._yaml import ConfigError, load_yaml
from vigil.config.alerting import AlertmanagerConfig
from vigil.config.discovery import Discovery
from vigil.config.duration import Duration
from vigil.config.http import HTTPClientConfig
from vigil.config.prometheus import Config, load_config, relabel_lists
from vigil.config.relabel import Action, RelabelConfig
from vigil.config.scrape import ScrapeConfig
from vigil.config.targetgroup import TargetGroup, load_sd_file
from vigil.model import Labels

LOOKBACK = Duration(5 * 60_000)


@dataclass(frozen=True, slots=True)
class TargetRules:
    """How discovered targets become labels. That logic lives in `vigil.scrape.relabel`, a later
    stage, so the caller passes it in; each function raises ValueError for an unusable target."""

    scrape: Callable[[Labels, ScrapeConfig], object]
    alertmanager: Callable[[Labels, AlertmanagerConfig], object]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict for one file: `error` is None when it is valid."""

    file: str
    error: str | None
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


class _Failed(Exception):
    pass


def check_config(path: str, rules: TargetRules | None = None) -> CheckResult:
    """Load `path` and run promtool's extra checks (rule files, credential and TLS files,
    file_sd files, static targets after relabeling), then vigil's lints."""
    warnings: list[str] = []
    notes: list[str] = []
    try:
        config = load_config(path)
        alerting_rules = _check_rule_files(config, notes, warnings)
        _check_scrape_configs(config, rules, warnings)
        _check_alertmanagers(config, rules, warnings)
    except (ConfigError, _Failed) as err:
        return CheckResult(path, str(err), tuple(warnings), tuple(notes))
    warnings.extend(lint(config, alerting_rules))
    return CheckResult(path, None, tuple(warnings), tuple(notes))


def _check_rule_files(config: Config, notes: list[str], warnings: list[str]) -> int:
    """Rule files must exist and be YAML with a `groups` list (the rules themselves are parsed by
    the rules stage); returns how many alerting rules they hold, for the lints."""
    alerting = 0
    for pattern in config.rule_files:
        matches = sorted(glob.glob(pattern))
        if "*" not in pattern and not matches:
            raise _Failed(f'rule file "{pattern}" does not exist')
        if not matches:
            warnings.append(f'rule_files pattern "{pattern}" matches no file')
        for rule_file in matches:
            groups, alerts = _rule_file_summary(rule_file)
            alerting += alerts
            notes.append(
                f"rule file {rule_file}: YAML with {groups} group(s), {alerts} alerting rule(s);"
                " rule expressions are not checked yet"
            )
    return alerting


def _rule_file_summary(path: str) -> tuple[int, int]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise _Failed(f'error checking rule file "{path}": {err.strerror}') from None
    root = load_yaml(text, path)
    if root is None:
        return 0, 0
    if not root.raw.tag.endswith(":map"):
        raise root.error("a rule file is a mapping with a groups list")
    groups_node = next((v for k, v in root.items() if k.string() == "groups"), None)
    if groups_node is None or groups_node.is_null:
        return 0, 0
    groups = groups_node.sequence()
    alerts = 0
    for group in groups:
        if not group.raw.tag.endswith(":map"):
            raise group.error("a rule group is a mapping with name and rules")
        for key, rules in group.items():
            if key.string() == "rules" and not rules.is_null:
                for rule in rules.sequence():
                    if rule.raw.tag.endswith(":map"):
                        alerts += any(k.string() == "alert" for k, _ in rule.items())
    return len(groups), alerts


def _check_file(path: str, what: str) -> None:
    if path and not os.path.exists(path):
        raise _Failed(f'{what} "{path}" does not exist')


def _check_http_files(client: HTTPClientConfig) -> None:
    if client.authorization is not None:
        _check_file(
            client.authorization.credentials_file, "authorization credentials or bearer token file"
        )
    _check_file(client.tls_config.cert_file, "client cert file")
    _check_file(client.tls_config.key_file, "client key file")


def _groups(discovery: Discovery, owner: str, warnings: list[str]) -> list[TargetGroup]:
    """Static groups and the groups of existing file_sd files (missing ones are warnings)."""
    groups = list(discovery.static_configs)
    for file_sd in discovery.file_sd_configs:
        for pattern in file_sd.files:
            matches = sorted(glob.glob(pattern))
            if not matches:
                warnings.append(f'file "{pattern}" for file_sd in {owner} does not exist')
            for path in matches:
                groups.extend(load_sd_file(path))
    return groups


def _check_scrape_configs(config: Config, rules: TargetRules | None, warnings: list[str]) -> None:
    for job in config.scrape_configs:
        _check_http_files(job.http_client)
        for group in _groups(job.discovery, f'scrape job "{job.job_name}"', warnings):
            if rules is None:
                continue
            for index, labels in enumerate(group.discovered()):
                try:
                    rules.scrape(labels, job)
                except ValueError as err:
                    raise _Failed(
                        f'job "{job.job_name}": instance {index} in group {group.source}: {err}'
                    ) from None


def _check_alertmanagers(config: Config, rules: TargetRules | None, warnings: list[str]) -> None:
    for index, manager in enumerate(config.alerting.alertmanagers):
        for group in _groups(manager.discovery, "alertmanager config", warnings):
            if rules is None:
                continue
            for labels in group.discovered():
                try:
                    rules.alertmanager(labels, manager)
                except ValueError as err:
                    raise _Failed(f"alerting.alertmanagers[{index}]: {err}") from None


def lint(config: Config, alerting_rules: int = 0) -> list[str]:
    """Warnings for settings that load but can never work as written."""
    out: list[str] = []
    alerting = config.alerting
    if alerting.present and not alerting.alertmanagers:
        out.append(f"alerting (line {alerting.line}) has no alertmanagers: alerts are never sent")
    elif alerting_rules and not alerting.alertmanagers:
        out.append(f"{alerting_rules} alerting rule(s) but no alertmanagers: alerts are never sent")
    for index, manager in enumerate(alerting.alertmanagers):
        where = f"alerting.alertmanagers[{index}] (line {manager.line})"
        if not manager.discovery:
            out.append(
                f"{where} has no static_configs, file_sd_configs or http_sd_configs: no Alertmanager is ever found"
            )
        if manager.scheme not in ("http", "https"):
            out.append(
                f'{where} has scheme "{manager.scheme}": only http and https can send alerts'
            )
        out.extend(_other_discovery(manager.discovery, where))
    glob_cfg = config.global_config
    for job in config.scrape_configs:
        where = f'job "{job.job_name}" (line {job.line})'
        if not job.discovery:
            out.append(
                f"{where} has no static_configs, file_sd_configs or http_sd_configs: it never scrapes anything"
            )
        if job.scheme not in ("http", "https"):
            out.append(f'{where} has scheme "{job.scheme}": only http and https can be scraped')
        if job.scrape_interval > LOOKBACK:
            out.append(
                f"{where} scrape_interval {job.scrape_interval} is longer than the {LOOKBACK} query"
                " lookback: its series look missing between scrapes"
            )
        if (
            not job.scrape_timeout_explicit
            and glob_cfg.scrape_timeout_explicit
            and glob_cfg.scrape_timeout > job.scrape_interval
        ):
            out.append(
                f"{where} scrape_interval {job.scrape_interval} is shorter than the global"
                f" scrape_timeout {glob_cfg.scrape_timeout}: its timeout is cut to {job.scrape_timeout}"
            )
        out.extend(_other_discovery(job.discovery, where))
    for where, configs in relabel_lists(config):
        out.extend(_always_drops(where, configs))
    if config.otlp.convert_histograms_to_nhcb:
        out.append(
            "otlp.convert_histograms_to_nhcb: vigil does not store native histograms yet; "
            "OTLP histograms are stored as classic _bucket, _sum and _count series"
        )
    return out


def _other_discovery(discovery: Discovery, where: str) -> list[str]:
    mechanisms = sorted({other.mechanism for other in discovery.other})
    return [
        f"{where} uses {name}_sd_configs, which vigil does not run: it finds no targets there"
        for name in mechanisms
    ]


def _always_drops(where: str, configs: Sequence[RelabelConfig]) -> list[str]:
    """A keep/drop rule without source_labels tests "" every time: it keeps or drops everything."""
    for index, config in enumerate(configs):
        if config.source_labels or config.action not in (Action.KEEP, Action.DROP):
            continue
        matches_empty = config.regex.matches("")
        if (config.action is Action.DROP) == matches_empty:
            return [f"{where}[{index}]: {config.action} without source_labels drops everything"]
    return []


def check_config_command(
    files: Sequence[str], out: TextIO, rules: TargetRules | None = None
) -> int:
    """Print `FILE: SUCCESS` or `FILE: FAILED: <error>` (after any warnings) for each file;
    exit status 0 when every file is valid, 1 otherwise."""
    status = 0
    for path in files:
        result = check_config(path, rules)
        for warning in result.warnings:
            print(f"{path}: WARNING: {warning}", file=out)
        for note in result.notes:
            print(f"{path}: {note}", file=out)
        if result.ok:
            print(f"{path}: SUCCESS", file=out)
        else:
            print(f"{path}: FAILED: {result.error}", file=out)
            status = 1
    return status
