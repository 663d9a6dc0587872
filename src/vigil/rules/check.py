"""`vigil check rules`: promtool check rules' verdicts, output and `--lint`/`--lint-fatal`, plus
lints promtool lacks (a `for:` shorter than the evaluation interval, one alert name with
conflicting labels, a selected metric that no series at `--lint.metrics-from` has)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from vigil.config._yaml import ConfigError
from vigil.model import Labels
from vigil.rules.lint import missing_metrics, recorded_names
from vigil.rules.rulefile import (
    AlertingRuleSpec,
    ExprCheck,
    RuleFile,
    check_promql,
    load_rule_file,
)

DEFAULT_EVALUATION_INTERVAL_MS = 60_000


@dataclass(frozen=True, slots=True)
class DuplicateRule:
    """Two rules writing the same series: promtool's `duplicate rule(s)` lint."""

    metric: str
    labels: Labels


def duplicate_rules(rule_file: RuleFile) -> list[DuplicateRule]:
    """promtool's checkDuplicates: same name and same labels (group labels included), anywhere
    in the file, each reported once."""
    keys = sorted(
        (rule.name, Labels.from_dict({**dict(group.labels), **dict(rule.labels)}))
        for group in rule_file.groups
        for rule in group.rules
    )
    out: list[DuplicateRule] = []
    for previous, current in itertools.pairwise(keys):
        if previous == current and (not out or (out[-1].metric, out[-1].labels) != current):
            out.append(DuplicateRule(*current))
    return out


def short_for_warnings(rule_file: RuleFile, default_interval_ms: int) -> list[str]:
    """A `for:` shorter than its group's interval: the alert waits a whole interval anyway."""
    warnings = []
    for group in rule_file.groups:
        interval = group.interval_ms or default_interval_ms
        for rule in group.rules:
            if isinstance(rule, AlertingRuleSpec) and 0 < rule.for_ms < interval:
                warnings.append(
                    f'group "{group.name}", alert "{rule.alert}" (line {rule.line}): for: '
                    f"{rule.for_ms / 1000:g}s is shorter than the evaluation interval "
                    f"{interval / 1000:g}s, so it acts as {interval / 1000:g}s"
                )
    return warnings


def conflicting_alert_labels(rule_file: RuleFile) -> list[str]:
    """One alert name defined with different static labels (group labels included)."""
    alert_labels: dict[str, set[Labels]] = {}
    for group in rule_file.groups:
        for rule in group.rules:
            if isinstance(rule, AlertingRuleSpec):
                labels = Labels.from_dict({**dict(group.labels), **dict(rule.labels)})
                alert_labels.setdefault(rule.alert, set()).add(labels)
    warnings = []
    for name, label_sets in alert_labels.items():
        if len(label_sets) < 2:
            continue
        conflicting = sorted(
            {
                key
                for labels in label_sets
                for key, value in labels
                if any(other.get(key, "\x00") != value for other in label_sets)
            }
        )
        if conflicting:
            warnings.append(
                f'alert "{name}" is defined {len(label_sets)} times with conflicting labels '
                f"({', '.join(conflicting)}): its alerts differ only by those labels"
            )
    return warnings


LINT_DUPLICATE_RULES = "duplicate-rules"
LINT_SHORT_FOR = "short-for"
LINT_ALERT_LABELS = "conflicting-alert-labels"
LINT_MISSING_METRICS = "missing-metrics"
LINT_OPTIONS = (LINT_DUPLICATE_RULES, LINT_SHORT_FOR, LINT_ALERT_LABELS, LINT_MISSING_METRICS)
LINT_ERROR_EXIT = 3  # promtool's lintErrExitCode


@dataclass(frozen=True, slots=True)
class LintSettings:
    """`--lint` (promtool's names `all`, `duplicate-rules`, `none`, plus vigil's own) and
    `--lint-fatal`; `metric_names` is what `--lint.metrics-from` read from a server."""

    enabled: frozenset[str] = frozenset(LINT_OPTIONS)
    fatal: bool = False
    metric_names: frozenset[str] | None = None
    metrics_from: str = ""

    @classmethod
    def parse(cls, text: str, fatal: bool = False) -> tuple[LintSettings, list[str]]:
        """Comma-separated options as promtool reads them: an unknown one is warned about and
        ignored (promtool exits as if it were absent)."""
        enabled: set[str] = set()
        unknown = []
        for option in text.split(","):
            if option == "all":
                enabled.update(LINT_OPTIONS)
            elif option in LINT_OPTIONS:
                enabled.add(option)
            elif option != "none":
                unknown.append(
                    f"unknown lint option {option} (valid: all, none, {', '.join(LINT_OPTIONS)})"
                )
        return cls(frozenset(enabled), fatal), unknown


def _lint_warnings(
    rule_file: RuleFile, lint: LintSettings, recorded: frozenset[str], interval_ms: int
) -> list[str]:
    warnings = []
    if LINT_SHORT_FOR in lint.enabled:
        warnings.extend(short_for_warnings(rule_file, interval_ms))
    if LINT_ALERT_LABELS in lint.enabled:
        warnings.extend(conflicting_alert_labels(rule_file))
    if LINT_MISSING_METRICS in lint.enabled and lint.metric_names is not None:
        known = lint.metric_names | recorded
        warnings.extend(
            m.message(lint.metrics_from) for m in missing_metrics(rule_file.groups, known)
        )
    return warnings


def check_rules_command(
    files: Sequence[str],
    out: TextIO,
    err: TextIO,
    ignore_unknown_fields: bool = False,
    evaluation_interval_ms: int = DEFAULT_EVALUATION_INTERVAL_MS,
    lint: LintSettings = LintSettings(),
    check: ExprCheck = check_promql,
) -> int:
    """promtool check rules: exit 1 when any file fails to load; lint findings go to stderr
    and exit 3 only under `--lint-fatal` (promtool's codes). `check` validates expressions:
    PromQL, or `check_logql` for Loki-ruler files."""
    loaded: list[tuple[str, RuleFile | ConfigError]] = []
    for path in files:
        try:
            loaded.append((path, load_rule_file(path, ignore_unknown_fields, check)))
        except ConfigError as error:
            loaded.append((path, error))
    recorded = recorded_names(g for _, f in loaded if isinstance(f, RuleFile) for g in f.groups)
    failed = linted = False
    for path, rule_file in loaded:
        print(f"Checking {path}", file=out)
        if not isinstance(rule_file, RuleFile):
            failed = True
            print("  FAILED:", file=err)
            print(rule_file, file=err)
            print(file=out)
            continue
        duplicates = duplicate_rules(rule_file) if LINT_DUPLICATE_RULES in lint.enabled else []
        if duplicates:
            linted = True
            print("  FAILED:", file=err)
            print(f"lint error {len(duplicates)} duplicate rule(s) found.", file=err)
            for duplicate in duplicates:
                print(f"Metric: {duplicate.metric}\nLabel(s):", file=err)
                for name, value in duplicate.labels:
                    print(f"\t{name}: {value}", file=err)
            print("Might cause inconsistency while recording expressions", file=err)
        else:
            print(f"  SUCCESS: {rule_file.rule_count} rules found", file=out)
        for warning in _lint_warnings(rule_file, lint, recorded, evaluation_interval_ms):
            linted = True
            print(f"  WARNING: {path}: {warning}", file=err)
        print(file=out)
    if failed:
        return 1
    return LINT_ERROR_EXIT if linted and lint.fatal else 0
