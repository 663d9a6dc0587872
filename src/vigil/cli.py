"""Command line: `vigil <command>`, with Prometheus's flag spellings where a flag has a twin."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

import vigil

Handler = Callable[[argparse.Namespace], int]


def _add_agent(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("agent", help="serve host metrics on /metrics (node_exporter's job)")
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default=":9100",
        help="address to listen on for the web interface and telemetry (default: %(default)s)",
    )
    parser.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        help="path under which to expose metrics (default: %(default)s)",
    )
    parser.set_defaults(handler=_run_agent)


def _run_agent(args: argparse.Namespace) -> int:
    import uvicorn

    from vigil.agent import AgentOptions, build_app
    from vigil.web.listen import parse_listen_address

    try:
        host, port = parse_listen_address(args.listen_address)
    except ValueError as err:
        print(f"vigil agent: {err}", file=sys.stderr)
        return 2
    app = build_app(AgentOptions(args.listen_address, args.telemetry_path))
    logging.getLogger("vigil").info("listening on %s:%d", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
    return 0


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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


def _run_check_metrics(args: argparse.Namespace) -> int:
    from vigil.exposition.check import check_metrics_command

    return check_metrics_command(
        args.files, args.format, args.lint == "all", sys.stdin.buffer, sys.stdout
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="The observability stack of a small VM in one process: host metrics, "
        "TSDB, PromQL, rules and alerting.",
    )
    parser.add_argument("--version", action="version", version=f"vigil {vigil.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_agent(sub)
    _add_check(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)
