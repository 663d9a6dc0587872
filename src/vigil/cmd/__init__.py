"""vigil's commands, one module each: `register(subparsers)` adds its parser and
`run(args) -> int` does its work; `main` is the `vigil` entry point. Each module imports
the stages it runs inside `run`, so `vigil agent` never loads the TSDB or PromQL; and `main`
imports only the command it runs (a command's parser and flag types are memory the other
commands never use)."""

from __future__ import annotations

import argparse
import gc
import importlib
import logging
import sys
from collections.abc import Callable, Sequence

import vigil

COMMANDS = (
    "server",
    "agent",
    "check",
    "test",
    "tsdb",
    "query",
    "logs",
    "alertmanager",
    "dashboards",
)
"""Each is the module `vigil.cmd.<name>` with `register` and `run`, in `--help`'s order."""
SERVING = frozenset({"server", "agent", "alertmanager"})
"""The commands that end in `serving.serve`, which turns the garbage collector back on."""


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """Every command's parser; only that of `argv`'s command when it names one."""
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="The observability stack of a small VM in one process: host metrics, "
        "TSDB, PromQL, rules and alerting.",
    )
    parser.add_argument("--version", action="version", version=f"vigil {vigil.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = (argv[0],) if argv and argv[0] in COMMANDS else COMMANDS
    for name in chosen:
        importlib.import_module(f"vigil.cmd.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per scrape is noise
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv).parse_args(argv)
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
