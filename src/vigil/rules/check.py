"""`vigil check rules`: promtool check rules' verdicts and output, plus lints promtool lacks
(a `for:` shorter than the evaluation interval, one alert name with conflicting labels)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from vigil.config._yaml import ConfigError
from vigil.model import Labels
from vigil.rules.rulefile import AlertingRuleSpec, RuleFile, load_rule_file

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


def rule_warnings(rule_file: RuleFile, default_interval_ms: int) -> list[str]:
    """Lints beyond promtool: rules that load but cannot behave as written."""
    warnings = []
    alert_labels: dict[str, set[Labels]] = {}
    for group in rule_file.groups:
        interval = group.interval_ms or default_interval_ms
        for rule in group.rules:
            if not isinstance(rule, AlertingRuleSpec):
                continue
            if 0 < rule.for_ms < interval:
                warnings.append(
                    f'group "{group.name}", alert "{rule.alert}" (line {rule.line}): for: '
                    f"{rule.for_ms / 1000:g}s is shorter than the evaluation interval "
                    f"{interval / 1000:g}s, so it acts as {interval / 1000:g}s"
                )
            labels = Labels.from_dict({**dict(group.labels), **dict(rule.labels)})
            alert_labels.setdefault(rule.alert, set()).add(labels)
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


def check_rules_command(
    files: Sequence[str],
    out: TextIO,
    err: TextIO,
    ignore_unknown_fields: bool = False,
    evaluation_interval_ms: int = DEFAULT_EVALUATION_INTERVAL_MS,
) -> int:
    """promtool check rules: exit 1 when any file fails to load; lint findings do not fail."""
    failed = False
    for path in files:
        print(f"Checking {path}", file=out)
        try:
            rule_file = load_rule_file(path, ignore_unknown_fields)
        except ConfigError as error:
            failed = True
            print("  FAILED:", file=err)
            print(error, file=err)
            print(file=out)
            continue
        duplicates = duplicate_rules(rule_file)
        if duplicates:
            print("  FAILED:", file=err)
            print(f"lint error {len(duplicates)} duplicate rule(s) found.", file=err)
            for duplicate in duplicates:
                print(f"Metric: {duplicate.metric}\nLabel(s):", file=err)
                for name, value in duplicate.labels:
                    print(f"\t{name}: {value}", file=err)
            print("Might cause inconsistency while recording expressions", file=err)
        else:
            print(f"  SUCCESS: {rule_file.rule_count} rules found", file=out)
        for warning in rule_warnings(rule_file, evaluation_interval_ms):
            print(f"  WARNING: {warning}", file=out)
        print(file=out)
    return 1 if failed else 0
