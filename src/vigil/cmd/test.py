"""`vigil test rules`: promtool's rule unit tests."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("test", help="run unit tests (promtool test's twin)")
    tests = parser.add_subparsers(dest="test", metavar="WHAT", required=True)
    rules = tests.add_parser(
        "rules",
        help="run promtool-format rule unit tests",
        description="Run each FILE in promtool's rule unit-test format; print 'SUCCESS' or "
        "'FAILED:' with the differences; exit 1 when any test fails. Beyond promtool: "
        "log_rule_files (Loki-ruler files, LogQL) evaluated over a test group's input_logs "
        '(streams: {stream: \'{container="app"}\', values: [[30s, "ERROR boom"], ...]}), '
        "their alerts checked by alert_rule_test as any other.",
    )
    rules.add_argument("files", nargs="+", metavar="FILE")
    rules.add_argument(
        "--run",
        action="append",
        default=[],
        metavar="REGEX",
        help="only run test groups whose name matches REGEX (repeatable)",
    )
    rules.add_argument(
        "--ignore-unknown-fields",
        action="store_true",
        help="ignore unknown fields in the rule files the tests load",
    )
    rules.set_defaults(run_command=run)


def run(args: argparse.Namespace) -> int:
    from vigil.rules.unittest import test_rules_command

    return test_rules_command(
        args.files, sys.stdout, sys.stderr, args.run, args.ignore_unknown_fields
    )
