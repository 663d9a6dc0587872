"""`vigil server`: scrape, store, query, rules and alerting in one process, taking
Prometheus's flags (the table is in `server_flags`; the process in `server_process`)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from vigil.cmd import server_flags
from vigil.cmd.agent import add_container_flags, container_options
from vigil.cmd.serving import serve, web_config


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "server",
        help="scrape, store, query (Prometheus's job); takes Prometheus's flags",
        description="Scrapes the targets of --config.file (without one: this host, through "
        "vigil's own /metrics), stores samples under --storage.tsdb.path and serves "
        "Prometheus's HTTP API.",
    )
    server_flags.add_flags(parser)
    add_container_flags(parser)
    parser.set_defaults(run_command=run, path_procfs="/proc")


def run(args: argparse.Namespace) -> int:
    import secrets

    from vigil.cmd.alertmanager_service import ServiceConfigError
    from vigil.cmd.allocator import bound_free_memory
    from vigil.cmd.server_flags import SelfScrape
    from vigil.cmd.server_process import Server
    from vigil.config import ConfigError
    from vigil.tsdb.db import DataDirError
    from vigil.web.listen import parse_listen_address

    try:
        parse_listen_address(args.listen_address)  # before the data dir is locked
        if args.syslog_listen_address:
            parse_listen_address(args.syslog_listen_address, "--syslog.listen-address")
    except ValueError as err:
        print(f"vigil server: {err}", file=sys.stderr)
        return 2
    bound_free_memory()  # before the server's threads allocate
    path = args.web_config_file
    web = web_config("server", "" if path is None else str(path))
    self_scrape = SelfScrape()
    if web is not None:
        # The default config scrapes vigil itself: through its own TLS and basic auth.
        self_scrape = SelfScrape(secrets.token_urlsafe(32), web.current().tls is not None)
    options = server_flags.options(
        args, containers=container_options(args), self_scrape=self_scrape
    )
    http: list[Any] = []

    def stop(_: str) -> None:
        for running in http:
            running.should_exit = True

    try:
        server = Server(options, on_fatal=stop, on_quit=lambda: stop("quit"))
    except (ConfigError, DataDirError, OSError, ServiceConfigError, ValueError) as err:
        print(f"vigil server: {err}", file=sys.stderr)
        return 1
    logging.getLogger("vigil").info("data in %s", options.data_dir)
    code = serve(
        "server",
        options.listen_address,
        server.app,
        http.append,
        web,
        options.external_url,
        internal_token=self_scrape.token,
        allowed_hosts=options.allowed_hosts,
        listeners=server.listeners(),
        on_shutdown=server.cancel_queries,
    )
    if server.failure is not None:
        print(f"vigil server: {server.failure}", file=sys.stderr)
        return 1
    return code
