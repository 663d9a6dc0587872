"""`vigil test rules`: promtool's rule unit-test files, run against vigil's rule engine with the
same verdicts and a similar report (`Unit Testing:  FILE` then `SUCCESS` or `FAILED:` + diff).
vigil's addition: `log_rule_files` (Loki-ruler files, LogQL) evaluated over each group's
`input_logs` (see `input_logs.py`) beside the PromQL rules over its `input_series`."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TextIO

from vigil.config._yaml import ConfigError, Node, load_yaml
from vigil.config.duration import Duration
from vigil.logs.logql.engine import LogQLEngine
from vigil.model import METRIC_NAME, Labels, MatchType
from vigil.model.gofloat import format_float
from vigil.model.histogram import FloatHistogram
from vigil.promql import ast
from vigil.promql.engine import Engine, EngineOptions
from vigil.promql.errors import PromQLError
from vigil.promql.parser import parse
from vigil.promql.testing import expand_values, histogram_text, parse_histogram, value_tokens
from vigil.rules.alerting import AlertingRule, AlertState, TemplateContext
from vigil.rules.group import Group, GroupOptions
from vigil.rules.input_logs import InputStream, log_store, parse_input_logs
from vigil.rules.manager import expand_rule_files
from vigil.rules.query import (
    QueryFunc,
    RuleEvaluationError,
    check_logql,
    engine_query_func,
    logql_query_func,
)
from vigil.rules.rulefile import GroupSpec, check_promql, load_rule_file
from vigil.tsdb import MemoryAppender, MemoryStorage

_FILE_KEYS = (
    "rule_files",
    "log_rule_files",
    "evaluation_interval",
    "group_eval_order",
    "tests",
    "fuzzy_compare",
)
_GROUP_KEYS = (
    "interval",
    "input_series",
    "input_logs",
    "alert_rule_test",
    "promql_expr_test",
    "external_labels",
    "external_url",
    "name",
    "start_timestamp",
)
_LOOKBACK_MS = 300_000


class UnitTestError(Exception):
    """A test file that cannot be run (bad YAML, bad series, unloadable rule files)."""


@dataclass(frozen=True, slots=True)
class InputSeries:
    labels: Labels
    values: tuple[float | FloatHistogram | None, ...]


@dataclass(frozen=True, slots=True)
class ExpectedAlert:
    labels: Labels
    annotations: Labels


@dataclass(frozen=True, slots=True)
class AlertTestCase:
    eval_time_ms: int
    alertname: str
    exp_alerts: tuple[ExpectedAlert, ...]


@dataclass(frozen=True, slots=True)
class ExpectedSample:
    labels_text: str
    value: float | FloatHistogram


@dataclass(frozen=True, slots=True)
class ExprTestCase:
    expr: str
    eval_time_ms: int
    exp_samples: tuple[ExpectedSample, ...]


@dataclass(frozen=True, slots=True)
class TestGroup:
    name: str
    interval_ms: int
    start_ms: int
    input_series: tuple[InputSeries, ...]
    alert_tests: tuple[AlertTestCase, ...]
    expr_tests: tuple[ExprTestCase, ...]
    external_labels: Labels
    external_url: str
    input_logs: tuple[InputStream, ...] = ()


@dataclass(frozen=True, slots=True)
class UnitTestFile:
    path: str
    rule_files: tuple[str, ...]
    evaluation_interval_ms: int
    group_eval_order: tuple[str, ...]
    fuzzy_compare: bool
    tests: tuple[TestGroup, ...]
    log_rule_files: tuple[str, ...] = ()


# --- the command -----------------------------------------------------------------------------


def test_rules_command(
    files: Sequence[str],
    out: TextIO,
    err: TextIO,
    run: Sequence[str] = (),
    ignore_unknown_fields: bool = False,
) -> int:
    """promtool test rules: 0 when every selected test group of every file passes, else 1."""
    selector = re.compile("|".join(run)) if run else None
    failed = False
    for path in files:
        print(f"Unit Testing:  {path}", file=out)
        errors = run_test_file(path, selector, ignore_unknown_fields)
        if errors:
            failed = True
            print("  FAILED:", file=err)
            for message in errors:
                print(message, file=err)
        else:
            print("  SUCCESS", file=out)
        print(file=out)
    return 1 if failed else 0


def run_test_file(
    path: str, selector: re.Pattern[str] | None = None, ignore_unknown_fields: bool = False
) -> list[str]:
    """The failures of one test file (empty when it passes)."""
    try:
        spec = load_test_file(path)
    except (ConfigError, UnitTestError) as error:
        return [str(error)]
    groups: list[GroupSpec] = []
    log_files = frozenset(expand_rule_files(spec.log_rule_files))
    try:
        for files, check in ((spec.rule_files, check_promql), (spec.log_rule_files, check_logql)):
            for rule_file in expand_rule_files(files):
                groups.extend(load_rule_file(rule_file, ignore_unknown_fields, check).groups)
    except ConfigError as error:
        return [str(error)]
    try:
        groups = _ordered(groups, spec.group_eval_order)
    except UnitTestError as error:
        return [str(error)]
    errors: list[str] = []
    for test in spec.tests:
        if selector is not None and selector.search(test.name) is None:
            continue
        errors.extend(run_test_group(test, groups, spec, log_files))
    return errors


def _ordered(groups: list[GroupSpec], order: tuple[str, ...]) -> list[GroupSpec]:
    if not order:
        return groups
    rank = {name: index for index, name in enumerate(order)}
    missing = sorted({g.name for g in groups} - set(rank))
    if missing:
        raise UnitTestError(f"groups {missing} are not listed in group_eval_order")
    return sorted(groups, key=lambda g: rank[g.name])


# --- one test group ---------------------------------------------------------------------------


def run_test_group(
    test: TestGroup,
    rule_groups: list[GroupSpec],
    spec: UnitTestFile,
    log_files: frozenset[str] = frozenset(),
) -> list[str]:
    """promtool's testGroup.test: evaluate every group each evaluation interval from the
    start, check alerts at their eval times as evaluation passes them, then the expressions.
    Groups of `log_files` query the group's `input_logs` in LogQL."""
    storage = MemoryStorage()
    for series in test.input_series:
        for index, value in enumerate(series.values):
            if value is not None:
                storage.add(series.labels, test.start_ms + index * test.interval_ms, value)
    engine = Engine(
        storage.queryable,
        EngineOptions(
            lookback_delta_ms=_LOOKBACK_MS,
            timeout_s=None,
            default_subquery_step_ms=spec.evaluation_interval_ms,
        ),
    )
    query = engine_query_func(engine)
    log_query = logql_query_func(LogQLEngine(log_store(test.input_logs, test.start_ms)))
    known: list[Labels] = []
    options = GroupOptions(
        interval_ms=test.interval_ms,
        context=TemplateContext(test.external_labels, test.external_url),
    )
    groups = [
        Group(
            group,
            options,
            log_query if group.file in log_files else query,
            lambda: MemoryAppender(storage, known),
            logger=None,
        )
        for group in rule_groups
    ]
    prefix = f"    name: {test.name},\n" if test.name else ""
    for alert_test in test.alert_tests:
        if not alert_test.alertname:
            return [f"{prefix.strip()} alertname can't be empty".strip()]
    alert_times = sorted({case.eval_time_ms for case in test.alert_tests})
    max_eval = max(
        [0, *alert_times, *(case.eval_time_ms for case in test.expr_tests)],
    )
    errors: list[str] = []
    step = spec.evaluation_interval_ms
    current = 0
    offset = 0
    while offset <= max_eval:
        t_ms = test.start_ms + offset
        eval_errors: list[str] = []
        for group in groups:
            group.evaluate(t_ms)
            eval_errors.extend(
                f"    rule: {rule.name}, time: {_go_duration(offset)}, err: {rule.last_error}"
                for rule in group.rules
                if rule.last_error
            )
        if eval_errors:
            return errors + eval_errors
        while current < len(alert_times) and offset <= alert_times[current] < offset + step:
            at = alert_times[current]
            errors.extend(_check_alerts(test, groups, at, prefix))
            current += 1
        offset += step
    for case in test.expr_tests:
        errors.extend(_check_expr(case, query, test.start_ms, spec.fuzzy_compare))
    return errors


def _check_alerts(test: TestGroup, groups: list[Group], at_ms: int, prefix: str) -> list[str]:
    wanted = [case for case in test.alert_tests if case.eval_time_ms == at_ms]
    got: dict[str, list[ExpectedAlert]] = {}
    names = {case.alertname for case in wanted}
    for group in groups:
        for rule in group.alerting_rules():
            if rule.name in names:
                got.setdefault(rule.name, []).extend(_firing(rule))
    errors = []
    for case in wanted:
        got_alerts = sorted(got.get(case.alertname, []), key=_alert_key)
        exp_alerts = sorted(
            (
                ExpectedAlert(a.labels.with_label("alertname", case.alertname), a.annotations)
                for a in case.exp_alerts
            ),
            key=_alert_key,
        )
        if got_alerts != exp_alerts:
            errors.append(
                f"{prefix}    alertname: {case.alertname}, time: {Duration(at_ms)}, \n"
                f"        exp:{_alerts_text(exp_alerts)}, \n"
                f"        got:{_alerts_text(got_alerts)}"
            )
    return errors


def _firing(rule: AlertingRule) -> list[ExpectedAlert]:
    return [
        ExpectedAlert(alert.labels, alert.annotations)
        for alert in rule.active_alerts()
        if alert.state == AlertState.FIRING
    ]


def _alert_key(alert: ExpectedAlert) -> tuple[Labels, Labels]:
    return (alert.labels, alert.annotations)


def _alerts_text(alerts: list[ExpectedAlert]) -> str:
    if not alerts:
        return "[]"
    lines = ["["]
    for index, alert in enumerate(alerts):
        lines.append(f"            {index}:")
        lines.append(f"              Labels:{_labels_text(alert.labels)}")
        lines.append(f"              Annotations:{_labels_text(alert.annotations)}")
    lines.append("            ]")
    return "\n".join(lines)


def _labels_text(labels: Labels) -> str:
    return "{" + ", ".join(f"{k}={_go_quote(v)}" for k, v in labels) + "}"


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _check_expr(case: ExprTestCase, query: QueryFunc, start_ms: int, fuzzy: bool) -> list[str]:
    where = f'    expr: "{case.expr}", time: {Duration(case.eval_time_ms)}'
    try:
        result = query(case.expr, start_ms + case.eval_time_ms)
    except (PromQLError, RuleEvaluationError) as error:
        return [f"{where}, err: {error}"]
    got = sorted(
        ((s.labels, s.value if s.histogram is None else s.histogram) for s in result),
        key=lambda item: item[0],
    )
    expected: list[tuple[Labels, float | FloatHistogram]] = []
    for sample in case.exp_samples:
        try:
            expected.append((parse_metric(sample.labels_text), sample.value))
        except UnitTestError as error:
            return [f'{where}, err: labels "{sample.labels_text}": {error}']
    expected.sort(key=lambda item: item[0])
    same = len(got) == len(expected) and all(
        gl == el and _float_equal(gv, ev, fuzzy)
        for (gl, gv), (el, ev) in zip(got, expected, strict=True)
    )
    if same:
        return []
    return [f"{where},\n        exp: {_samples_text(expected)}\n        got: {_samples_text(got)}"]


def _float_equal(got: float | FloatHistogram, want: float | FloatHistogram, fuzzy: bool) -> bool:
    if isinstance(got, FloatHistogram) and isinstance(want, FloatHistogram):
        return got.equals(want)
    if isinstance(got, FloatHistogram) or isinstance(want, FloatHistogram):
        return False
    if got == want:
        return True
    if not fuzzy:
        return False
    return math.nextafter(got, -math.inf) == want or math.nextafter(got, math.inf) == want


def _samples_text(samples: list[tuple[Labels, float | FloatHistogram]]) -> str:
    if not samples:
        return "nil"
    return "\n".join(
        f"{_labels_text(labels)} "
        + (format_float(value, "E") if isinstance(value, float) else histogram_text(value))
        for labels, value in samples
    )


def _go_duration(ms: int) -> str:
    """Go's time.Duration.String for whole milliseconds: `0s`, `1m0s`, `1h0m0s`, `1.5s`."""
    if ms == 0:
        return "0s"
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{minutes}m{seconds}"
    return seconds


# --- loading ----------------------------------------------------------------------------------


def parse_metric(text: str) -> Labels:
    """promql's ParseMetric: `name{a="b"}`, `{a="b"}` or `name`; only `=` matchers."""
    stripped = text.strip()
    if stripped in ("", "{}"):
        return Labels()
    try:
        expr = parse(stripped)
    except PromQLError as error:
        raise UnitTestError(str(error)) from None
    if not isinstance(expr, ast.VectorSelector) or expr.offset_ms or expr.at is not None:
        raise UnitTestError(f"{text!r} is not a series description")
    if len(expr.matcher_groups) != 1:
        raise UnitTestError(f"{text!r} is not a series description")
    pairs: dict[str, str] = {}
    for matcher in expr.matcher_groups[0]:
        if matcher.type != MatchType.EQUAL:
            raise UnitTestError(f"{text!r}: only = matchers describe a series")
        pairs[matcher.name] = matcher.value
    if expr.name:
        pairs[METRIC_NAME] = expr.name
    return Labels.from_dict(pairs)


def load_test_file(path: str) -> UnitTestFile:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as error:
        raise UnitTestError(f"{path}: {error.strerror or error}") from None
    root = load_yaml(text, path)
    if root is None:
        return UnitTestFile(path, (), 60_000, (), False, ())
    top = root.mapping(_FILE_KEYS, "a rule test file")
    base = os.path.dirname(path)
    interval = top.duration("evaluation_interval", Duration(60_000)).milliseconds or 60_000
    tests = tuple(_test_group(item, interval) for item in top.sequence("tests"))
    return UnitTestFile(
        path=path,
        rule_files=_beside(base, top.strings("rule_files")),
        evaluation_interval_ms=interval,
        group_eval_order=top.strings("group_eval_order"),
        fuzzy_compare=top.boolean("fuzzy_compare", False),
        tests=tests,
        log_rule_files=_beside(base, top.strings("log_rule_files")),
    )


def _beside(base: str, files: tuple[str, ...]) -> tuple[str, ...]:
    """Rule file paths relative to the test file's directory, as promtool reads them."""
    return tuple(f if os.path.isabs(f) else os.path.join(base, f) for f in files)


def _test_group(node: Node, evaluation_interval_ms: int) -> TestGroup:
    fields = node.mapping(_GROUP_KEYS, "a test group")
    interval = fields.duration("interval", Duration(0)).milliseconds or evaluation_interval_ms
    series = []
    for item in fields.sequence("input_series"):
        entry = item.mapping(("series", "values"), "an input series")
        labels_node = entry.get("series")
        try:
            labels = parse_metric(labels_node.string() if labels_node is not None else "")
            values = tuple(expand_values(value_tokens(entry.string("values"))))
        except UnitTestError as error:
            raise item.error(str(error)) from None
        except ValueError as error:
            raise item.error(f"invalid series values: {error}") from None
        series.append(InputSeries(labels, values))
    alert_tests = []
    for item in fields.sequence("alert_rule_test"):
        entry = item.mapping(("eval_time", "alertname", "exp_alerts"), "an alert test")
        expected = []
        for alert in entry.sequence("exp_alerts"):
            parts = alert.mapping(("exp_labels", "exp_annotations"), "an expected alert")
            expected.append(
                ExpectedAlert(
                    Labels.from_pairs(parts.string_map("exp_labels")),
                    Labels.from_pairs(parts.string_map("exp_annotations")),
                )
            )
        alert_tests.append(
            AlertTestCase(
                entry.duration("eval_time", Duration(0)).milliseconds,
                entry.string("alertname"),
                tuple(expected),
            )
        )
    expr_tests = []
    for item in fields.sequence("promql_expr_test"):
        entry = item.mapping(("expr", "eval_time", "exp_samples"), "a PromQL test")
        samples = []
        for sample in entry.sequence("exp_samples"):
            parts = sample.mapping(("labels", "value", "histogram"), "an expected sample")
            if "histogram" in parts:
                try:
                    value: float | FloatHistogram = parse_histogram(parts.string("histogram"))
                except ValueError as error:
                    raise sample.error(f"invalid histogram: {error}") from None
            else:
                value = parts.number("value")
            samples.append(ExpectedSample(parts.string("labels"), value))
        expr_tests.append(
            ExprTestCase(
                entry.string("expr"),
                entry.duration("eval_time", Duration(0)).milliseconds,
                tuple(samples),
            )
        )
    return TestGroup(
        name=fields.string("name"),
        interval_ms=interval,
        start_ms=_start_ms(fields.get("start_timestamp")),
        input_series=tuple(series),
        alert_tests=tuple(alert_tests),
        expr_tests=tuple(expr_tests),
        external_labels=Labels.from_pairs(fields.string_map("external_labels")),
        external_url=fields.string("external_url"),
        input_logs=tuple(parse_input_logs(fields.sequence("input_logs"))),
    )


def _start_ms(node: Node | None) -> int:
    """`start_timestamp`: Unix seconds or an RFC 3339 time (default: the epoch)."""
    if node is None:
        return 0
    text = node.string()
    try:
        return round(float(text) * 1000)
    except ValueError:
        pass
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise node.error(f"{text!r} is neither Unix seconds nor an RFC 3339 time") from None
    if stamp.tzinfo is None:
        raise node.error(f"{text!r} has no time zone") from None
    return round(stamp.timestamp() * 1000)
