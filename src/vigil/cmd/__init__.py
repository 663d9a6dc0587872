"""vigil's commands, one module each: `register(subparsers)` adds its parser and
`run(args) -> int` does its work; `main` is the `vigil` entry point. Each module imports
the stages it runs inside `run`, so `vigil agent` never loads the TSDB or PromQL."""

from __future__ import annotations

import argparse
import gc
import logging
from collections.abc import Callable, Sequence

import vigil
from vigil.cmd import agent, alertmanager, check, dashboards, logs, query, server, test, tsdb

COMMANDS = (server, agent, check, test, tsdb, query, logs, alertmanager, dashboards)
SERVING = frozenset({"server", "agent", "alertmanager"})
"""The commands that end in `serving.serve`, which turns the garbage collector back on."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="The observability stack of a small VM in one process: host metrics, "
        "TSDB, PromQL, rules and alerting.",
    )
    parser.add_argument("--version", action="version", version=f"vigil {vigil.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per scrape is noise
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run_command
    if args.command not in SERVING:
        return run(args)
    # Start-up builds long-lived objects (modules, classes, stages), no garbage: collecting
    # while it runs costs a tenth of its CPU for nothing.
    gc.disable()
    try:
        return run(args)
    finally:
        gc.enable()
