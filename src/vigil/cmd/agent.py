"""`vigil agent`: node_exporter's flags (`--[no-]collector.<name>`, `--path.*`) and the
container half's (`--collector.containers`, `--path.cgroupfs`, …), which `vigil server` also
takes; the app it serves is in `agent_app`."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from vigil.cmd.flagkinds import duration_ms
from vigil.cmd.serving import add_web_config_flag, serve, web_config

if TYPE_CHECKING:
    from vigil.cmd.agent_app import AgentOptions, LogShipping
    from vigil.exporter.containers import ContainerOptions
    from vigil.exporter.logs.stages import Drop


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    add_web_config_flag(parser)
    _add_collector_flags(parser)
    add_container_flags(parser)
    add_log_flags(parser)
    parser.set_defaults(run_command=run)


# node_exporter's value flags that have a twin: (flag, ExporterOptions or HostPaths field)


_PATH_FLAGS = (
    ("--path.procfs", "procfs", "procfs mountpoint"),
    ("--path.sysfs", "sysfs", "sysfs mountpoint"),
    ("--path.rootfs", "rootfs", "rootfs mountpoint"),
    ("--path.udev.data", "udev_data", "udev data path"),
)


_COLLECTOR_FLAGS = (
    (
        "--collector.arp.device-include",
        "arp_device_include",
        "regexp of arp devices to include (mutually exclusive to device-exclude)",
    ),
    (
        "--collector.arp.device-exclude",
        "arp_device_exclude",
        "regexp of arp devices to exclude (mutually exclusive to device-include)",
    ),
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
        "--collector.netclass.ignored-devices",
        "netclass_ignored_devices",
        "regexp of net devices to ignore for netclass collector",
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
        "--collector.netclass.ignore-invalid-speed",
        dest="exporter_netclass_ignore_invalid_speed",
        action="store_true",
        help="ignore devices where the speed is invalid",
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
    from vigil.cmd.agent_app import AgentOptions
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
        netclass_ignore_invalid_speed=args.exporter_netclass_ignore_invalid_speed,
        **{attr: getattr(args, f"exporter_{attr}") for _, attr, _ in _COLLECTOR_FLAGS},
    )
    return AgentOptions(
        args.listen_address,
        args.telemetry_path,
        frozenset(enabled),
        exporter,
        containers=container_options(args),
        logs=log_shipping(args),
    )


def _drop_rule(spec: str) -> Drop:
    """`NAME=REGEX` drops lines matching REGEX; `NAME:FIELD=REGEX` drops lines whose JSON or
    logfmt FIELD matches it."""
    from vigil.exporter.logs.stages import Drop
    from vigil.model.regex import RegexError

    head, eq, expression = spec.partition("=")
    name, _, field = head.partition(":")
    if not eq or not name:
        raise argparse.ArgumentTypeError(f"{spec!r}: want NAME=REGEX or NAME:FIELD=REGEX")
    try:
        return Drop(name, expression, source=field)
    except RegexError as err:
        raise argparse.ArgumentTypeError(f"{spec!r}: {err}") from None


def add_log_flags(parser: argparse.ArgumentParser) -> None:
    """Log shipping: container logs and files, pushed to a Loki-push URL (Promtail's job)."""
    parser.add_argument(
        "--logs.push-url",
        dest="logs_push_url",
        default="",
        metavar="URL",
        help="Loki push URL to ship logs to, e.g. http://vigil:9090/loki/api/v1/push "
        "(default: no log shipping)",
    )
    parser.add_argument(
        "--logs.docker-containers",
        dest="logs_docker_containers",
        default="/var/lib/docker/containers",
        help="Docker's containers directory, whose json-file logs are shipped; empty for "
        "none (default: %(default)s)",
    )
    parser.add_argument(
        "--logs.files",
        dest="logs_files",
        action="append",
        default=[],
        metavar="GLOB",
        help="ship files matching GLOB, e.g. '/var/log/app/*.log' (repeatable)",
    )
    parser.add_argument(
        "--logs.journal",
        dest="logs_journal",
        action="store_true",
        help="ship the systemd journal (needs journalctl), labelled unit and service_name",
    )
    parser.add_argument(
        "--logs.journal.path",
        dest="logs_journal_path",
        default="",
        metavar="PATH",
        help="a journal directory or file to read instead of the system's, e.g. the host's "
        "/var/log/journal mounted into a container (default: the system journal)",
    )
    parser.add_argument(
        "--logs.journal.max-age",
        dest="logs_journal_max_age",
        default="7h",
        type=duration_ms,
        metavar="DURATION",
        help="how far back a first start reads the journal (default: %(default)s)",
    )
    parser.add_argument(
        "--logs.positions-file",
        dest="logs_positions_file",
        default="data/agent-log-positions.json",
        help="where shipped positions are kept across restarts (default: %(default)s)",
    )
    parser.add_argument(
        "--logs.drop",
        dest="logs_drop",
        action="append",
        default=[],
        type=_drop_rule,
        metavar="NAME[:FIELD]=REGEX",
        help="drop lines (or lines whose JSON/logfmt FIELD) matching REGEX, counted in "
        "vigil_logs_dropped_total{rule=NAME} (repeatable)",
    )
    parser.add_argument(
        "--logs.extract",
        dest="logs_extract",
        default="",
        metavar="FIELD,...",
        help="JSON/logfmt fields copied into structured metadata (default: none)",
    )
    parser.add_argument(
        "--logs.client-ip-field",
        dest="logs_client_ip_field",
        default="",
        metavar="FIELD",
        help="JSON/logfmt field holding X-Forwarded-For; sets metadata client_ip to its "
        "right-most address that is not a trusted proxy (default: off)",
    )
    parser.add_argument(
        "--logs.trusted-proxies",
        dest="logs_trusted_proxies",
        default="",
        metavar="CIDR,...",
        help="proxies whose X-Forwarded-For hops are trusted (default: Tomcat's "
        "internalProxies: private, loopback and link-local networks)",
    )
    parser.add_argument(
        "--logs.multiline.start",
        dest="logs_multiline_start",
        default="",
        metavar="REGEX",
        help="a line matching REGEX starts an entry, any other continues it (default: "
        "JVM stack trace lines continue the entry before them)",
    )


def log_shipping(args: argparse.Namespace) -> LogShipping | None:
    """None without `--logs.push-url`."""
    from pathlib import Path

    from vigil.cmd.agent_app import LogShipping
    from vigil.exporter.logs import ClientIP, Extract, Level, LogCollectionOptions, MultilineRule
    from vigil.exporter.logs.journal import JournalOptions
    from vigil.exporter.logs.stages import Stage
    from vigil.model.forwarded import TOMCAT_INTERNAL_PROXIES
    from vigil.model.regex import Anchor, Regex, RegexError

    if not args.logs_push_url:
        return None
    stages: list[Stage] = [*args.logs_drop]
    if args.logs_extract:
        stages.append(Extract(fields=tuple(f.strip() for f in args.logs_extract.split(","))))
    if args.logs_client_ip_field:
        trusted = tuple(c.strip() for c in args.logs_trusted_proxies.split(",") if c.strip())
        try:
            stages.append(ClientIP(args.logs_client_ip_field, trusted or TOMCAT_INTERNAL_PROXIES))
        except ValueError as err:
            raise SystemExit(f"vigil agent: --logs.trusted-proxies: {err}") from None
    stages.append(Level())
    if args.logs_multiline_start:
        try:
            Regex(args.logs_multiline_start, Anchor.SEARCH)
        except RegexError as err:
            raise SystemExit(f"vigil agent: --logs.multiline.start: {err}") from None
    multiline = (
        MultilineRule(continuation="", start=args.logs_multiline_start)
        if args.logs_multiline_start
        else MultilineRule()
    )
    containers = args.logs_docker_containers
    journal = (
        JournalOptions(
            path=Path(args.logs_journal_path) if args.logs_journal_path else None,
            max_age_s=args.logs_journal_max_age / 1000,
        )
        if args.logs_journal
        else None
    )
    return LogShipping(
        args.logs_push_url,
        LogCollectionOptions(
            docker_containers=Path(containers) if containers else None,
            files=tuple(args.logs_files),
            journal=journal,
            positions_file=Path(args.logs_positions_file),
            stages=tuple(stages),
            multiline=multiline,
        ),
    )


def _process_match(spec: str) -> str:
    from vigil.exporter.containers.processes import parse_process_match

    try:
        parse_process_match(spec)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return spec


def add_container_flags(parser: argparse.ArgumentParser) -> None:
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


def run(args: argparse.Namespace) -> int:
    from vigil.cmd.agent_app import build_app
    from vigil.cmd.allocator import bound_free_memory

    # the tailing and pushing threads would each take a glibc arena and keep what they freed
    bound_free_memory()
    web = web_config("agent", args.web_config_file)

    def build() -> Any:
        return build_app(agent_options(args))

    return serve(
        "agent", args.listen_address, build, web=web, allowed_hosts=args.allowed_hosts, lean=True
    )
