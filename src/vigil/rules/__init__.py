"""Recording and alerting rules: rule files, groups evaluated on slotted intervals, the alert
state machine (pending → firing → resolved, `for`, `keep_firing_for`), and promtool's
`check rules` / `test rules` twins."""

from vigil.rules.alerting import Alert, AlertingRule, AlertState, TemplateContext
from vigil.rules.group import Group, GroupOptions, RuleMetrics, evaluate_group
from vigil.rules.manager import RuleManager, RuleManagerOptions, restore_for_state
from vigil.rules.query import QueryFunc, RuleEvaluationError, RuleHealth, engine_query_func
from vigil.rules.recording import RecordingRule
from vigil.rules.rulefile import (
    AlertingRuleSpec,
    GroupSpec,
    RecordingRuleSpec,
    RuleFile,
    RuleFileError,
    load_rule_file,
    parse_rule_file,
)

__all__ = [
    "Alert",
    "AlertState",
    "AlertingRule",
    "AlertingRuleSpec",
    "Group",
    "GroupOptions",
    "GroupSpec",
    "QueryFunc",
    "RecordingRule",
    "RecordingRuleSpec",
    "RuleEvaluationError",
    "RuleFile",
    "RuleFileError",
    "RuleHealth",
    "RuleManager",
    "RuleManagerOptions",
    "RuleMetrics",
    "TemplateContext",
    "engine_query_func",
    "evaluate_group",
    "load_rule_file",
    "parse_rule_file",
    "restore_for_state",
]
