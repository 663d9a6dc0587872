"""`vigil alertmanager`: vigil's Alertmanager alone (a drop-in, Alertmanager's own flags)
and amtool's tools (`config routes test`, `test-receiver`, `explain`)."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from vigil.cmd.flagkinds import duration_ms
from vigil.cmd.serving import add_web_config_flag, serve, web_config


def run(args: argparse.Namespace) -> int:
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`vigil alertmanager config routes test` (amtool config routes test's twin)."""
    parser = sub.add_parser(
        "alertmanager",
        help="run vigil's Alertmanager alone (a drop-in), or its tools (amtool's twins)",
        description="Without WHAT: serve Alertmanager's API v2 with routing, grouping, "
        "inhibition, silences and receivers, taking Alertmanager's own flags.",
    )
    parser.add_argument(
        "--config.file", dest="config_file", default="alertmanager.yml", help="alertmanager.yml"
    )
    parser.add_argument(
        "--storage.path", dest="storage_path", default="data/", help="silences and notification log"
    )
    parser.add_argument(
        "--web.listen-address", dest="listen_address", default=":9093", help="host:port to serve"
    )
    add_web_config_flag(parser)
    parser.add_argument(
        "--web.external-url", dest="external_url", default="", help="URL users reach it at"
    )
    parser.add_argument(
        "--web.route-prefix", dest="route_prefix", default="", help="prefix of every route"
    )
    parser.add_argument(
        "--data.retention",
        dest="retention",
        type=duration_ms,
        default=120 * 3_600_000,
        help="how long silences and notification log entries are kept (default 120h)",
    )
    parser.add_argument(
        "--cluster.listen-address",
        dest="cluster_listen_address",
        default="",
        help="accepted for compatibility; vigil's Alertmanager does not cluster",
    )
    parser.add_argument("--cluster.peer", dest="cluster_peer", action="append", default=[])
    parser.add_argument("--log.level", dest="log_level", default="info")
    parser.set_defaults(run_command=run, handler=_run_alertmanager)
    commands = parser.add_subparsers(dest="alertmanager", metavar="WHAT", required=False)
    receiver = commands.add_parser(
        "test-receiver",
        help="send a test notification through a receiver and report what it answered",
        description="Send one clearly marked test notification through every integration of "
        "receiver NAME, with its real templates, and print each HTTP status or SMTP reply.",
    )
    receiver.add_argument("name", metavar="NAME")
    receiver.add_argument(
        "--config.file", dest="config_file", default="alertmanager.yml", help="alertmanager.yml"
    )
    receiver.add_argument("--web.external-url", dest="external_url", default="")
    receiver.set_defaults(handler=_run_test_receiver)
    config = commands.add_parser("config", help="work with an alertmanager.yml")
    config_commands = config.add_subparsers(dest="config_command", metavar="WHAT", required=True)
    routes = config_commands.add_parser("routes", help="the routing tree")
    routes_commands = routes.add_subparsers(dest="routes_command", metavar="WHAT", required=True)
    test = routes_commands.add_parser(
        "test",
        help="print the receivers an alert with LABEL=VALUE... is routed to",
        description="Route a label set through the tree of --config.file and print the "
        "receivers it reaches, comma-separated, as amtool does.",
    )
    test.add_argument(
        "--config.file", dest="config_file", required=True, help="alertmanager.yml to test"
    )
    test.add_argument(
        "--verify.receivers",
        dest="verify_receivers",
        default=None,
        help="fail unless the label set routes to exactly these receivers (comma-separated)",
    )
    test.add_argument("labels", nargs="*", metavar="LABEL=VALUE")
    test.set_defaults(handler=_run_routes_test)
    explain = commands.add_parser(
        "explain",
        help="what Alertmanager does with an alert: routes, group, inhibitions, timeline",
        description="Print the routes an alert with --labels takes, its group key, the inhibit "
        "rules that could mute it and when notifications would go out; with "
        "--alertmanager.url, also what silences or inhibits it there now.",
    )
    explain.add_argument(
        "--config.file",
        dest="config_file",
        default="",
        help="alertmanager.yml (default: vigil server's built-in one, which has no receiver)",
    )
    explain.add_argument(
        "--labels", required=True, help="the alert's labels: 'alertname=X,severity=critical'"
    )
    explain.add_argument(
        "--alertmanager.url",
        dest="alertmanager_url",
        default=None,
        help="a running Alertmanager (or vigil) to ask for silences and firing alerts",
    )
    explain.set_defaults(handler=_run_explain)


def _run_explain(args: argparse.Namespace) -> int:
    from vigil.alerting.explain import explain_command
    from vigil.notify.kinds import KINDS

    config_file = args.config_file
    if not config_file:
        from vigil.cmd.defaults import DEFAULT_ALERTMANAGER_CONFIG

        config_file = str(DEFAULT_ALERTMANAGER_CONFIG)
        print(
            "vigil alertmanager explain: no --config.file: vigil server's built-in "
            "alertmanager.yml",
            file=sys.stderr,
        )
    return explain_command(
        config_file, KINDS, args.labels, args.alertmanager_url, sys.stdout, sys.stderr
    )


def _run_alertmanager(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vigil.cmd.alertmanager_service import (
        AlertmanagerOptions,
        AlertmanagerService,
        ServiceConfigError,
        alertmanager_app,
        load_service_config,
        storage_error,
    )
    from vigil.config import ConfigError
    from vigil.model.clock import SystemClock
    from vigil.web.alertmanager_api import MAX_BODY_BYTES

    logging.getLogger().setLevel(args.log_level.upper())
    if args.cluster_listen_address or args.cluster_peer:
        logging.getLogger("vigil").warning(
            "vigil's Alertmanager does not cluster: ignoring --cluster.*"
        )
    web = web_config("alertmanager", args.web_config_file)
    storage = Path(args.storage_path)
    problem = storage_error(storage)
    if problem:
        print(f"vigil alertmanager: {problem}", file=sys.stderr)
        return 1
    path = Path(args.config_file)
    try:
        config, text = load_service_config(path)
    except (ConfigError, OSError, ServiceConfigError) as err:
        print(f"vigil alertmanager: {err}", file=sys.stderr)
        return 1
    prefix = args.route_prefix.rstrip("/")
    options = AlertmanagerOptions(
        storage_path=storage,
        config_file=path,
        external_url=args.external_url or _default_external_url(args.listen_address, prefix),
        retention=args.retention / 1000,
    )

    def build() -> Any:
        return alertmanager_app(AlertmanagerService(config, text, options, SystemClock()), prefix)

    return serve(
        "alertmanager",
        args.listen_address,
        build,
        web=web,
        external_url=options.external_url,
        allowed_hosts=args.allowed_hosts,
        lean=True,
        max_body_bytes=MAX_BODY_BYTES,
    )


def _default_external_url(listen_address: str, prefix: str = "") -> str:
    """Alertmanager's and Prometheus's default: http://<this host's name>:<port><prefix>."""
    import socket

    port = listen_address.rsplit(":", 1)[-1]
    return f"http://{socket.gethostname()}:{port}{prefix}"


def _run_test_receiver(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from vigil.cmd.alertmanager_service import ServiceConfigError, load_service_config
    from vigil.config import ConfigError
    from vigil.model.clock import SystemClock
    from vigil.notify.receivers import test_receiver

    try:
        config, _ = load_service_config(Path(args.config_file))
        results = asyncio.run(
            test_receiver(config, args.name, SystemClock(), external_url=args.external_url)
        )
    except (ConfigError, OSError, ServiceConfigError, KeyError) as err:
        print(f"vigil alertmanager test-receiver: {err}", file=sys.stderr)
        return 1
    for result in results:
        print(
            f"{args.name}/{result.integration}: {'OK' if result.ok else 'FAILED'}: {result.detail}"
        )
    return 0 if results and all(r.ok for r in results) else 1


def _run_routes_test(args: argparse.Namespace) -> int:
    from vigil.alerting.lint import routes_test_command
    from vigil.notify.kinds import KINDS

    return routes_test_command(
        args.config_file, KINDS, args.labels, args.verify_receivers, sys.stdout, sys.stderr
    )
