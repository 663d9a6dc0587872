"""`vigil check metrics|config|rules|alertmanager-config`: promtool's and amtool's checks,
plus lints for configs that can never do what they say."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def run(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("check", help="check files (promtool check's twin)")
    checks = parser.add_subparsers(dest="check", metavar="WHAT", required=True)
    metrics = checks.add_parser(
        "metrics",
        help="check exposition bodies (files, or stdin when none is given)",
        description="Parse each FILE (or stdin) as Prometheus text or OpenMetrics; print "
        "'FILE: OK' or where and why it fails, and promtool's lint warnings.",
    )
    metrics.add_argument("files", nargs="*", metavar="FILE")
    metrics.add_argument(
        "--format",
        choices=["auto", "text", "openmetrics"],
        default="auto",
        help="auto: OpenMetrics when the body ends with '# EOF' (default: %(default)s)",
    )
    metrics.add_argument(
        "--lint", choices=["all", "none"], default="all", help="lint warnings to report"
    )
    metrics.set_defaults(handler=_run_check_metrics)
    config = checks.add_parser(
        "config",
        help="check prometheus.yml files (promtool check config's twin)",
        description="Load each FILE as a Prometheus config; print warnings for settings that "
        "can never work, then 'FILE: SUCCESS' or 'FILE: FAILED: <error>'.",
    )
    config.add_argument("files", nargs="+", metavar="FILE")
    _add_alert_rule_flags(config)
    config.set_defaults(handler=_run_check_config)
    _add_check_rules(checks)
    parser.set_defaults(run_command=run)
    am_config = checks.add_parser(
        "alertmanager-config",
        help="check alertmanager.yml files (amtool check-config's twin)",
        description="Load each FILE as an Alertmanager config; print warnings for settings "
        "that can never work, then 'FILE: SUCCESS' or 'FILE: FAILED: <error>'.",
    )
    am_config.add_argument("files", nargs="+", metavar="FILE")
    _add_alert_rule_flags(am_config)
    am_config.set_defaults(handler=_run_check_alertmanager_config)


def _add_alert_rule_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="FILE",
        help="alerting rule files (globs) to cross-check an alertmanager.yml's inhibit rules with",
    )
    parser.add_argument(
        "--prometheus.config",
        dest="prometheus_config",
        default=None,
        metavar="FILE",
        help="prometheus.yml whose rule_files to cross-check an alertmanager.yml with",
    )
    parser.add_argument(
        "--explain",
        action="append",
        default=[],
        metavar="LABELS",
        help="also show what an alertmanager.yml does with an alert with these labels "
        "('alertname=X,severity=critical'): routes, group, inhibitions, timeline (repeatable)",
    )


def _explain_alerts(path: str, args: argparse.Namespace) -> int:
    from vigil.alerting.explain import explain_command
    from vigil.notify.kinds import KINDS

    status = 0
    for labels in args.explain:
        print(file=sys.stdout)
        status |= explain_command(path, KINDS, labels, None, sys.stdout, sys.stderr)
    return status


def _alert_rule_files(args: argparse.Namespace) -> list[str]:
    from vigil.alerting.lint import prometheus_rule_files

    files = list(args.rules)
    if args.prometheus_config:
        files.extend(prometheus_rule_files(args.prometheus_config))
    return files


def _run_check_config(args: argparse.Namespace) -> int:
    """Alertmanager configs (top-level route/receivers) are checked as amtool would."""
    from vigil.alerting.lint import check_command
    from vigil.config.alertmanager import looks_like_alertmanager
    from vigil.config.check import TargetRules, check_config_command
    from vigil.notify.kinds import KINDS
    from vigil.scrape.relabel import alertmanager_labels, populate_labels

    status = 0
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as handle:
                is_alertmanager = looks_like_alertmanager(handle.read())
        except (OSError, UnicodeDecodeError):
            is_alertmanager = False
        if is_alertmanager:
            checked = check_command([path], KINDS, sys.stdout, _alert_rule_files(args))
            status |= checked or _explain_alerts(path, args)
        else:
            rules = TargetRules(populate_labels, alertmanager_labels)
            status |= check_config_command([path], sys.stdout, rules)
    return status


def _run_check_alertmanager_config(args: argparse.Namespace) -> int:
    from vigil.alerting.lint import check_command
    from vigil.notify.kinds import KINDS

    status = check_command(args.files, KINDS, sys.stdout, _alert_rule_files(args))
    for path in args.files if status == 0 else ():
        status |= _explain_alerts(path, args)
    return status


def _run_check_metrics(args: argparse.Namespace) -> int:
    from vigil.exposition.check import check_metrics_command

    return check_metrics_command(
        args.files, args.format, args.lint == "all", sys.stdin.buffer, sys.stdout
    )


def _add_check_rules(checks: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rules = checks.add_parser(
        "rules",
        help="check rule files (promtool check rules' twin)",
        description="Load each FILE as a Prometheus rule file; print 'SUCCESS: N rules found' "
        "or 'FAILED:' with the file, line, group, rule and error. Lint findings go to stderr "
        "and change the exit status (to 3) only with --lint-fatal, as promtool's do. "
        "Loki-ruler files (LogQL expressions) need --logql: it is not detected, since a "
        "LogQL stream selector is also valid PromQL.",
    )
    rules.add_argument("files", nargs="+", metavar="FILE")
    rules.add_argument(
        "--ignore-unknown-fields",
        action="store_true",
        help="ignore unknown fields in the rule files",
    )
    rules.add_argument(
        "--logql",
        action="store_true",
        help="the FILEs are Loki-ruler rule files (vigil server --logs.rule-files): check each "
        "expr as a LogQL metric query; the missing-metrics lint does not apply",
    )
    rules.add_argument(
        "--lint",
        default="all",
        metavar="OPTIONS",
        help="comma-separated lints: all (default), none, or promtool's duplicate-rules and "
        "vigil's short-for, conflicting-alert-labels, missing-metrics",
    )
    rules.add_argument(
        "--lint-fatal", action="store_true", help="make lint findings exit with status 3"
    )
    rules.add_argument(
        "--lint.metrics-from",
        dest="lint_metrics_from",
        metavar="URL",
        help="a Prometheus-compatible server (vigil or Prometheus): warn about rules selecting "
        "a metric it has no series of and no rule in the FILEs records",
    )
    rules.set_defaults(handler=_run_check_rules)


def _run_check_rules(args: argparse.Namespace) -> int:
    import dataclasses

    from vigil.rules.check import LINT_MISSING_METRICS, LintSettings, check_rules_command
    from vigil.rules.lint import MetricNamesUnavailableError, fetch_metric_names
    from vigil.rules.query import check_logql
    from vigil.rules.rulefile import check_promql

    lint, unknown = LintSettings.parse(args.lint, args.lint_fatal)
    for problem in unknown:
        print(f"WARNING: {problem}", file=sys.stderr)
    if args.logql:
        lint = dataclasses.replace(lint, enabled=lint.enabled - {LINT_MISSING_METRICS})
    url = args.lint_metrics_from
    if url and LINT_MISSING_METRICS in lint.enabled:
        try:
            names = fetch_metric_names(url)
        except MetricNamesUnavailableError as err:
            print(f"vigil check rules: --lint.metrics-from: {err}", file=sys.stderr)
            return 1
        lint = dataclasses.replace(lint, metric_names=names, metrics_from=url)
    elif not url and not args.logql and LINT_MISSING_METRICS in args.lint.split(","):
        print(
            "vigil check rules: --lint=missing-metrics needs --lint.metrics-from=URL",
            file=sys.stderr,
        )
        return 2
    check = check_logql if args.logql else check_promql
    return check_rules_command(
        args.files, sys.stdout, sys.stderr, args.ignore_unknown_fields, lint=lint, check=check
    )
