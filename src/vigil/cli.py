"""Command line: `vigil <command>`, with Prometheus's flag spellings where a flag has a twin."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

import vigil

if TYPE_CHECKING:
    from vigil.agent import AgentOptions
    from vigil.exporter.containers import ContainerOptions
    from vigil.web.webconfig import WebConfigSource

Handler = Callable[[argparse.Namespace], int]


def _add_agent(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("agent", help="serve host metrics on /metrics (node_exporter's job)")
    parser.add_argument(
        "--web.listen-address",
        dest="listen_address",
        default="127.0.0.1:9100",
        help="address to listen on for the web interface and telemetry (default: %(default)s)",
    )
    parser.add_argument(
        "--web.telemetry-path",
        dest="telemetry_path",
        default="/metrics",
        help="path under which to expose metrics (default: %(default)s)",
    )
    _add_web_config_flag(parser)
    _add_collector_flags(parser)
    _add_container_flags(parser)
    parser.set_defaults(handler=_run_agent)


# node_exporter's value flags that have a twin: (flag, ExporterOptions or HostPaths field)
_PATH_FLAGS = (
    ("--path.procfs", "procfs", "procfs mountpoint"),
    ("--path.sysfs", "sysfs", "sysfs mountpoint"),
    ("--path.rootfs", "rootfs", "rootfs mountpoint"),
    ("--path.udev.data", "udev_data", "udev data path"),
)
_COLLECTOR_FLAGS = (
    (
        "--collector.filesystem.mount-points-exclude",
        "filesystem_mount_points_exclude",
        "regexp of mount points to exclude for filesystem collector",
    ),
    (
        "--collector.filesystem.fs-types-exclude",
        "filesystem_fs_types_exclude",
        "regexp of filesystem types to exclude for filesystem collector",
    ),
    (
        "--collector.diskstats.device-exclude",
        "diskstats_device_exclude",
        "regexp of diskstats devices to exclude",
    ),
    (
        "--collector.netdev.device-exclude",
        "netdev_device_exclude",
        "regexp of net devices to exclude",
    ),
    (
        "--collector.netstat.fields",
        "netstat_fields",
        "regexp of fields to return for netstat collector",
    ),
    (
        "--collector.vmstat.fields",
        "vmstat_fields",
        "regexp of fields to return for vmstat collector",
    ),
    (
        "--collector.textfile.directory",
        "textfile_directory",
        "directory to read text files with metrics from",
    ),
)


def _add_collector_flags(parser: argparse.ArgumentParser) -> None:
    """node_exporter's spellings: `--collector.<name>` / `--no-collector.<name>`, `--path.*`."""
    from vigil.exporter import DEFAULT_ENABLED, FACTORIES, ExporterOptions, HostPaths

    paths, exporter = HostPaths(), ExporterOptions()
    for flag, attr, help_text in _PATH_FLAGS:
        parser.add_argument(
            flag,
            dest=f"path_{attr}",
            default=getattr(paths, attr),
            help=f"{help_text} (default: %(default)s)",
        )
    for flag, attr, help_text in _COLLECTOR_FLAGS:
        parser.add_argument(
            flag,
            dest=f"exporter_{attr}",
            default=getattr(exporter, attr),
            help=f"{help_text} (default: %(default)r)",
        )
    parser.add_argument(
        "--collector.disable-defaults",
        dest="collector_disable_defaults",
        action="store_true",
        help="set all collectors to disabled by default",
    )
    for name in sorted(FACTORIES):
        state = "enabled" if name in DEFAULT_ENABLED else "disabled"
        parser.add_argument(
            f"--collector.{name}",
            dest=f"collector_{name}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"enable the {name} collector (default: {state})",
        )


def agent_options(args: argparse.Namespace) -> AgentOptions:
    """The parsed `vigil agent` flags as options: an explicit `--[no-]collector.<name>` wins,
    otherwise node_exporter's default (unless `--collector.disable-defaults`)."""
    from vigil.agent import AgentOptions
    from vigil.exporter import DEFAULT_ENABLED, FACTORIES, ExporterOptions, HostPaths

    enabled = set()
    for name in FACTORIES:
        explicit = getattr(args, f"collector_{name}")
        default = name in DEFAULT_ENABLED and not args.collector_disable_defaults
        if explicit if explicit is not None else default:
            enabled.add(name)
    paths = HostPaths(**{attr: getattr(args, f"path_{attr}") for _, attr, _ in _PATH_FLAGS})
    exporter = ExporterOptions(
        paths=paths,
        **{attr: getattr(args, f"exporter_{attr}") for _, attr, _ in _COLLECTOR_FLAGS},
    )
    return AgentOptions(
        args.listen_address,
        args.telemetry_path,
        frozenset(enabled),
        exporter,
        containers=container_options(args),
    )


def _process_match(spec: str) -> str:
    from vigil.exporter.containers.processes import parse_process_match

    try:
        parse_process_match(spec)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return spec


def _add_container_flags(parser: argparse.ArgumentParser) -> None:
    """The container half of the agent: cgroups, Docker, OOM kills, processes by name."""
    parser.add_argument(
        "--collector.containers",
        dest="containers",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="enable the container, Docker, OOM-kill and process collectors (default: enabled)",
    )
    parser.add_argument(
        "--path.cgroupfs",
        dest="path_cgroupfs",
        default="/sys/fs/cgroup",
        help="cgroup v1 or v2 mountpoint (default: %(default)s)",
    )
    parser.add_argument(
        "--path.kmsg",
        dest="path_kmsg",
        default="/dev/kmsg",
        help="kernel log device, read for OOM-kill victims (default: %(default)s)",
    )
    parser.add_argument(
        "--collector.docker.socket",
        dest="docker_socket",
        default="/var/run/docker.sock",
        help="Docker engine API socket; empty to not ask Docker (default: %(default)s)",
    )
    parser.add_argument(
        "--collector.processes.match",
        dest="process_match",
        action="append",
        default=[],
        type=_process_match,
        metavar="[NAME=]REGEX",
        help="watch processes whose command line matches REGEX (repeatable)",
    )


def container_options(args: argparse.Namespace) -> ContainerOptions | None:
    """None when `--no-collector.containers`."""
    from pathlib import Path

    from vigil.exporter.containers import ContainerOptions

    if not args.containers:
        return None
    return ContainerOptions(
        cgroupfs=Path(args.path_cgroupfs),
        procfs=Path(args.path_procfs),
        kmsg=Path(args.path_kmsg),
        docker_socket=Path(args.docker_socket) if args.docker_socket else None,
        process_patterns=tuple(args.process_match),
    )


def _run_agent(args: argparse.Namespace) -> int:
    from vigil.agent import build_app

    web = _web_config("agent", args.web_config_file)

    def build() -> Any:
        return build_app(agent_options(args))

    return _serve("agent", args.listen_address, build, web=web, allowed_hosts=args.allowed_hosts)


def _serve(
    command: str,
    listen_address: str,
    build: Callable[[], Any],
    serving: Callable[[Any], None] | None = None,
    web: WebConfigSource | None = None,
    external_url: str = "",
    internal_token: str = "",
    allowed_hosts: str = "",
) -> int:
    """Build the ASGI app and serve it on --web.listen-address until stopped; `serving` gets
    the uvicorn server (setting its `should_exit` stops it). uvicorn's "auto" takes the C HTTP
    parser (httptools) and event loop (uvloop) when they import, else h11 and asyncio.
    The app is always behind WebGuard (CSRF; with `web`, basic auth and headers); `web`'s
    tls_server_config turns on HTTPS; `internal_token` is the bearer token vigil's own
    self-scrape shows the guard instead of a password."""
    import uvicorn

    from vigil.web.listen import parse_listen_address

    try:
        host, port = parse_listen_address(listen_address)
    except ValueError as err:
        print(f"vigil {command}: {err}", file=sys.stderr)
        return 2
    from vigil.web.guard import WebGuard
    from vigil.web.hosts import AllowedHosts
    from vigil.web.webconfig import WebConfig, reloading_context

    current = web.current if web is not None else WebConfig
    context = reloading_context(current)
    hosts = AllowedHosts.parse(allowed_hosts, host, external_url)
    app = WebGuard(
        build(), current, external_url, internal_token=internal_token, allowed_hosts=hosts
    )
    scheme = "https" if context is not None else "http"
    logging.getLogger("vigil").info("%s listening on %s://%s:%d", command, scheme, host, port)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        http="auto",
        loop="auto",
        ssl_context_factory=None if context is None else lambda _config, _default: context,
    )
    server = uvicorn.Server(config)
    if serving is not None:
        serving(server)
    server.run()
    return 0


def _add_web_config_flag(parser: argparse.ArgumentParser) -> None:
    """exporter-toolkit's flag: TLS, response headers and basic-auth users from one file; and
    the Host names state-changing requests may use."""
    parser.add_argument(
        "--web.config.file",
        dest="web_config_file",
        default="",
        metavar="FILE",
        help="web config (exporter-toolkit's format): TLS, basic_auth_users, headers",
    )
    parser.add_argument(
        "--web.allowed-hosts",
        dest="allowed_hosts",
        default="",
        metavar="NAMES",
        help="comma-separated Host names POST/PUT/DELETE requests may use (* for any; IP "
        "addresses always pass); default: localhost, the listen address, this machine's "
        "names and --web.external-url's host (refuses DNS-rebinding pages)",
    )


def _web_config(command: str, path: str) -> WebConfigSource | None:
    """--web.config.file, checked before anything starts: an unusable file exits 1."""
    if not path:
        return None
    from vigil.web.webconfig import ConfigError, WebConfigSource

    try:
        return WebConfigSource.open(path)
    except ConfigError as err:
        print(f"vigil {command}: --web.config.file: {err}", file=sys.stderr)
        raise SystemExit(1) from None


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


def _add_alertmanager(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    _add_web_config_flag(parser)
    parser.add_argument(
        "--web.external-url", dest="external_url", default="", help="URL users reach it at"
    )
    parser.add_argument(
        "--web.route-prefix", dest="route_prefix", default="", help="prefix of every route"
    )
    parser.add_argument(
        "--data.retention",
        dest="retention",
        type=_duration_ms,
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
    parser.set_defaults(handler=_run_alertmanager)
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
        "--config.file", dest="config_file", default="alertmanager.yml", help="alertmanager.yml"
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

    return explain_command(
        args.config_file, KINDS, args.labels, args.alertmanager_url, sys.stdout, sys.stderr
    )


def _run_alertmanager(args: argparse.Namespace) -> int:
    from pathlib import Path

    from vigil.alertmanager_app import (
        AlertmanagerOptions,
        AlertmanagerService,
        ServiceConfigError,
        alertmanager_app,
        load_service_config,
        storage_error,
    )
    from vigil.config import ConfigError
    from vigil.model.clock import SystemClock

    logging.getLogger().setLevel(args.log_level.upper())
    if args.cluster_listen_address or args.cluster_peer:
        logging.getLogger("vigil").warning(
            "vigil's Alertmanager does not cluster: ignoring --cluster.*"
        )
    web = _web_config("alertmanager", args.web_config_file)
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

    return _serve(
        "alertmanager",
        args.listen_address,
        build,
        web=web,
        external_url=options.external_url,
        allowed_hosts=args.allowed_hosts,
    )


def _default_external_url(listen_address: str, prefix: str = "") -> str:
    """Alertmanager's and Prometheus's default: http://<this host's name>:<port><prefix>."""
    import socket

    port = listen_address.rsplit(":", 1)[-1]
    return f"http://{socket.gethostname()}:{port}{prefix}"


def _run_test_receiver(args: argparse.Namespace) -> int:
    import asyncio
    from pathlib import Path

    from vigil.alertmanager_app import ServiceConfigError, load_service_config
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
        "and change the exit status (to 3) only with --lint-fatal, as promtool's do.",
    )
    rules.add_argument("files", nargs="+", metavar="FILE")
    rules.add_argument(
        "--ignore-unknown-fields",
        action="store_true",
        help="ignore unknown fields in the rule files",
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

    lint, unknown = LintSettings.parse(args.lint, args.lint_fatal)
    for problem in unknown:
        print(f"WARNING: {problem}", file=sys.stderr)
    url = args.lint_metrics_from
    if url and LINT_MISSING_METRICS in lint.enabled:
        try:
            names = fetch_metric_names(url)
        except MetricNamesUnavailableError as err:
            print(f"vigil check rules: --lint.metrics-from: {err}", file=sys.stderr)
            return 1
        lint = dataclasses.replace(lint, metric_names=names, metrics_from=url)
    elif not url and LINT_MISSING_METRICS in args.lint.split(","):
        print(
            "vigil check rules: --lint=missing-metrics needs --lint.metrics-from=URL",
            file=sys.stderr,
        )
        return 2
    return check_rules_command(
        args.files, sys.stdout, sys.stderr, args.ignore_unknown_fields, lint=lint
    )


def _add_test(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("test", help="run unit tests (promtool test's twin)")
    tests = parser.add_subparsers(dest="test", metavar="WHAT", required=True)
    rules = tests.add_parser(
        "rules",
        help="run promtool-format rule unit tests",
        description="Run each FILE in promtool's rule unit-test format; print 'SUCCESS' or "
        "'FAILED:' with the differences; exit 1 when any test fails.",
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
    rules.set_defaults(handler=_run_test_rules)


def _run_test_rules(args: argparse.Namespace) -> int:
    from vigil.rules.unittest import test_rules_command

    return test_rules_command(
        args.files, sys.stdout, sys.stderr, args.run, args.ignore_unknown_fields
    )


def _add_tsdb(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`vigil tsdb import|dump|analyze` (promtool tsdb's twins) on a data dir's blocks."""
    from pathlib import Path

    parser = sub.add_parser("tsdb", help="work with a data dir's blocks (promtool tsdb's twin)")
    tsdb = parser.add_subparsers(dest="tsdb", metavar="WHAT", required=True)
    imp = tsdb.add_parser(
        "import",
        help="write 2h-aligned blocks from a file (promtool tsdb create-blocks-from)",
    )
    imp.add_argument("kind", choices=["openmetrics"], help="input format")
    imp.add_argument("file", type=Path, metavar="FILE")
    imp.add_argument("data_dir", type=Path, nargs="?", default=Path("data"), metavar="DATA_DIR")
    imp.set_defaults(
        handler=lambda a: _tsdb_importer().import_command(
            a.kind, a.file, a.data_dir, sys.stdout, sys.stderr
        )
    )
    dump = tsdb.add_parser("dump", help="print the samples of the blocks in a data dir")
    dump.add_argument("data_dir", type=Path, nargs="?", default=Path("data"), metavar="DATA_DIR")
    dump.add_argument("--match", default=None, help="series selector (default: every series)")
    dump.add_argument("--min-time", type=int, default=-(2**63), help="ms, inclusive")
    dump.add_argument("--max-time", type=int, default=2**63 - 1, help="ms, inclusive")
    dump.set_defaults(
        handler=lambda a: _tsdb_importer().dump_command(
            a.data_dir, a.match, a.min_time, a.max_time, sys.stdout, sys.stderr
        )
    )
    analyze = tsdb.add_parser("analyze", help="cardinality of a block: top metrics and labels")
    analyze.add_argument("data_dir", type=Path, nargs="?", default=Path("data"), metavar="DATA_DIR")
    analyze.add_argument("block_id", nargs="?", default=None, help="default: the newest block")
    analyze.add_argument("--limit", type=int, default=20, help="rows per table")
    analyze.set_defaults(
        handler=lambda a: _tsdb_importer().analyze_command(
            a.data_dir, a.block_id, a.limit, sys.stdout, sys.stderr
        )
    )
    repair = tsdb.add_parser(
        "repair",
        help="truncate a corrupt WAL at its first unreadable record (asks for --yes)",
        description="Find the first unreadable WAL record in DATA_DIR/wal and report what "
        "truncating there would drop; with --yes, truncate (the server must be stopped).",
    )
    repair.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    repair.add_argument("--yes", action="store_true", help="really truncate the WAL")
    repair.set_defaults(handler=_run_tsdb_repair)


def _tsdb_importer() -> ModuleType:
    """Imported when a tsdb command runs, so `vigil agent` never loads numpy or zstandard."""
    from vigil.tsdb import importer

    return importer


def _run_tsdb_repair(args: argparse.Namespace) -> int:
    from vigil.tsdb.db import repair_command

    return repair_command(args.data_dir, args.yes, sys.stdout, sys.stderr)


def _duration_ms(text: str) -> int:
    from vigil.config.duration import Duration, DurationError

    try:
        return Duration.parse(text).milliseconds
    except DurationError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def _http_url(text: str) -> str:
    """--query.remote-url: an http(s) URL with a host (its path is the API's prefix)."""
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if text and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http:// or https:// URL (e.g. http://vm.example:8428)"
        )
    return text


_SIZE_UNITS = {"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30, "TB": 1 << 40, "PB": 1 << 50}


def _size_bytes(text: str) -> int:
    """Prometheus's `--storage.tsdb.retention.size` units (base 1024): `512MB`, `10GB`."""
    upper = text.strip().upper()
    for unit in sorted(_SIZE_UNITS, key=len, reverse=True):
        number = upper[: -len(unit)]
        if upper.endswith(unit) and number.isdigit():
            return int(number) * _SIZE_UNITS[unit]
    if upper.isdigit():
        return int(upper)
    raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 512MB, 10GB)")


def _add_server(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "server",
        help="scrape, store, query (Prometheus's job); takes Prometheus's flags",
        description="Scrapes the targets of --config.file (without one: this host, through "
        "vigil's own /metrics), stores samples under --storage.tsdb.path and serves "
        "Prometheus's HTTP API.",
    )
    add = parser.add_argument
    add(
        "--config.file",
        dest="config_file",
        default=None,
        help="prometheus.yml (default: scrape this host)",
    )
    add(
        "--storage.tsdb.path",
        dest="data_dir",
        default="data",
        help="data directory (default: %(default)s)",
    )
    add(
        "--storage.tsdb.retention.time",
        dest="retention",
        type=_duration_ms,
        default=None,
        help="how long to keep samples (default: 15d)",
    )
    add(
        "--storage.tsdb.retention.size",
        dest="retention_size",
        type=_size_bytes,
        default=0,
        help="most bytes to keep, WAL and blocks together (e.g. 512MB; default: no limit)",
    )
    add(
        "--storage.tsdb.block-cache-size",
        dest="block_cache_size",
        type=_size_bytes,
        default=32 * 1024 * 1024,
        help="most bytes of decoded block samples kept for repeated queries (dashboards); "
        "0 turns the cache off (default: 32MB)",
    )
    add(
        "--web.listen-address",
        dest="listen_address",
        default="127.0.0.1:9090",
        help="address to listen on for the UI, API and telemetry (default: %(default)s)",
    )
    add(
        "--web.enable-lifecycle",
        dest="enable_lifecycle",
        action="store_true",
        help="allow POST /-/reload and /-/quit",
    )
    add(
        "--web.enable-admin-api",
        dest="enable_admin_api",
        action="store_true",
        help="allow /api/v1/admin/tsdb/* (snapshot)",
    )
    _add_web_config_flag(parser)
    add(
        "--web.enable-remote-write-receiver",
        dest="remote_write_receiver",
        action="store_true",
        help="accept Prometheus remote-write pushes on POST /api/v1/write",
    )
    add("--web.external-url", dest="external_url", default="", help="URL vigil is reachable at")
    add(
        "--query.lookback-delta",
        dest="lookback",
        type=_duration_ms,
        default=300_000,
        help="how far back a selector looks for a sample (default: 5m)",
    )
    add(
        "--query.timeout",
        dest="query_timeout",
        type=_duration_ms,
        default=120_000,
        help="most time a query may take (default: 2m)",
    )
    add(
        "--query.max-samples",
        dest="max_samples",
        type=int,
        default=50_000_000,
        help="most samples a query may hold in memory (default: %(default)s)",
    )
    add(
        "--query.max-concurrency",
        dest="max_concurrency",
        type=int,
        default=20,
        help="most queries evaluated at once; more wait their turn (default: %(default)s)",
    )
    add(
        "--query.remote-url",
        dest="query_remote_url",
        type=_http_url,
        default="",
        help="run PromQL (rules and /api/v1/query, query_range) on this external "
        "Prometheus-compatible API (VictoriaMetrics, Mimir, Thanos Query, Prometheus) instead "
        "of the local TSDB",
    )
    add(
        "--alertmanager.notification-queue-capacity",
        dest="notification_queue_capacity",
        type=int,
        default=10_000,
        help="most alerts waiting to be sent to Alertmanager (default: %(default)s)",
    )
    add(
        "--rules.alert.resend-delay",
        dest="resend_delay",
        type=_duration_ms,
        default=60_000,
        help="least time before an alert still firing is sent to Alertmanager again (default: 1m)",
    )
    add(
        "--agent.disable",
        dest="agent_disable",
        action="store_true",
        help="do not serve this host's metrics on /metrics",
    )
    add(
        "--alertmanager.config.file",
        dest="alertmanager_config_file",
        default=None,
        help="alertmanager.yml for the in-process Alertmanager (routes, receivers, inhibitions); "
        "without it alerts are grouped and shown but sent nowhere",
    )
    add(
        "--heartbeat.url",
        dest="heartbeat_url",
        default="",
        help="dead man's switch: POST here every --heartbeat.interval while rules and "
        "notifications work (a healthchecks-style ping URL or an Alertmanager webhook)",
    )
    add(
        "--heartbeat.interval",
        dest="heartbeat_interval",
        type=_duration_ms,
        default=60_000,
        help="how often to ping --heartbeat.url (default: 1m)",
    )
    add(
        "--rules.default.disable",
        dest="default_rules_disable",
        action="store_true",
        help="do not evaluate vigil's default alert pack (host, containers, apps, vigil itself)",
    )
    add(
        "--alertmanager.disable",
        dest="alertmanager_disable",
        action="store_true",
        help="no in-process Alertmanager: alerts go only to those prometheus.yml names",
    )
    _add_container_flags(parser)
    parser.set_defaults(handler=_run_server, path_procfs="/proc")


def _run_server(args: argparse.Namespace) -> int:
    import secrets
    from pathlib import Path

    from vigil.alertmanager_app import ServiceConfigError
    from vigil.app import SelfScrape, Server, ServerOptions
    from vigil.config import ConfigError
    from vigil.tsdb.db import DataDirError
    from vigil.web.listen import parse_listen_address

    try:
        parse_listen_address(args.listen_address)  # before the data dir is locked
    except ValueError as err:
        print(f"vigil server: {err}", file=sys.stderr)
        return 2
    web = _web_config("server", args.web_config_file)
    self_scrape = SelfScrape()
    if web is not None:
        # The default config scrapes vigil itself: through its own TLS and basic auth.
        self_scrape = SelfScrape(secrets.token_urlsafe(32), web.current().tls is not None)
    flags = {
        "config.file": args.config_file or "",
        "storage.tsdb.path": args.data_dir,
        "storage.tsdb.retention.time": "15d" if args.retention is None else f"{args.retention}ms",
        "storage.tsdb.retention.size": str(args.retention_size),
        "storage.tsdb.block-cache-size": str(args.block_cache_size),
        "web.listen-address": args.listen_address,
        "web.enable-lifecycle": str(args.enable_lifecycle).lower(),
        "web.enable-admin-api": str(args.enable_admin_api).lower(),
        "web.config.file": args.web_config_file,
        "web.enable-remote-write-receiver": str(args.remote_write_receiver).lower(),
        "query.lookback-delta": f"{args.lookback}ms",
        "query.timeout": f"{args.query_timeout}ms",
        "query.max-samples": str(args.max_samples),
        "query.max-concurrency": str(args.max_concurrency),
        "query.remote-url": args.query_remote_url,
        "alertmanager.notification-queue-capacity": str(args.notification_queue_capacity),
        "rules.alert.resend-delay": f"{args.resend_delay}ms",
    }
    options = ServerOptions(
        config_file=Path(args.config_file) if args.config_file else None,
        data_dir=Path(args.data_dir),
        listen_address=args.listen_address,
        retention_ms=15 * 86_400_000 if args.retention is None else args.retention,
        retention_bytes=args.retention_size,
        block_cache_bytes=args.block_cache_size,
        lookback_delta_ms=args.lookback,
        query_timeout_s=args.query_timeout / 1000,
        query_max_samples=args.max_samples,
        query_max_concurrency=args.max_concurrency,
        enable_lifecycle=args.enable_lifecycle,
        enable_admin_api=args.enable_admin_api,
        host_collectors=not args.agent_disable,
        containers=container_options(args),
        external_url=args.external_url,
        notification_queue_capacity=args.notification_queue_capacity,
        resend_delay_ms=args.resend_delay,
        alertmanager_config_file=(
            Path(args.alertmanager_config_file) if args.alertmanager_config_file else None
        ),
        alertmanager_enabled=not args.alertmanager_disable,
        default_rules=not args.default_rules_disable,
        heartbeat_url=args.heartbeat_url,
        heartbeat_interval_s=args.heartbeat_interval / 1000,
        query_remote_url=args.query_remote_url,
        remote_write_receiver=args.remote_write_receiver,
        flags=flags,
        self_scrape=self_scrape,
    )
    http: list[Any] = []

    def stop(_: str) -> None:
        for running in http:
            running.should_exit = True

    try:
        server = Server(options, on_fatal=stop, on_quit=lambda: stop("quit"))
    except (ConfigError, DataDirError, OSError, ServiceConfigError) as err:
        print(f"vigil server: {err}", file=sys.stderr)
        return 1
    logging.getLogger("vigil").info("data in %s", options.data_dir)
    code = _serve(
        "server",
        args.listen_address,
        server.app,
        http.append,
        web,
        args.external_url,
        internal_token=self_scrape.token,
        allowed_hosts=args.allowed_hosts,
    )
    if server.failure is not None:
        print(f"vigil server: {server.failure}", file=sys.stderr)
        return 1
    return code


def _add_query(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`vigil query instant|range|series|labels` (promtool query's twin)."""
    from vigil import query_cli

    query_cli.add_parser(sub)


def _add_dashboards(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`vigil dashboards import|list|export|delete` (issue 11)."""
    from vigil.dashboards import cli as dashboards_cli

    dashboards_cli.add_parser(sub)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vigil",
        description="The observability stack of a small VM in one process: host metrics, "
        "TSDB, PromQL, rules and alerting.",
    )
    parser.add_argument("--version", action="version", version=f"vigil {vigil.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_server(sub)
    _add_agent(sub)
    _add_check(sub)
    _add_test(sub)
    _add_tsdb(sub)
    _add_query(sub)
    _add_alertmanager(sub)
    _add_dashboards(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per scrape is noise
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)
