"""`vigil server`'s flags in one table, spelled as Prometheus spells them: the argparse
parser, `ServerOptions` and `/api/v1/status/flags` are all built from it, so a flag is
written once (its default once, on ServerOptions)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vigil.cmd import flagkinds as kinds
from vigil.cmd.flagkinds import Kind
from vigil.cmd.serving import ALLOWED_HOSTS_HELP, WEB_CONFIG_HELP
from vigil.model.healthcheck import DEFAULT_HEALTH_PATHS, DEFAULT_HEALTH_USER_AGENTS

if TYPE_CHECKING:
    from vigil.exporter.containers import ContainerOptions


@dataclass(frozen=True, slots=True)
class SelfScrape:
    """How vigil's default self-scrape gets past its own --web.config.file: over HTTPS when
    TLS is on (its own cert on loopback, unverified), with a per-process token the web guard
    accepts in place of a basic-auth password."""

    token: str = ""
    https: bool = False


@dataclass(frozen=True, slots=True)
class ServerOptions:
    """What `vigil server` runs with; each field set from the command line is in FLAGS."""

    config_file: Path | None = None
    data_dir: Path = Path("data")
    retention_ms: int = 15 * 24 * 3_600_000
    retention_bytes: int = 0
    block_cache_bytes: int = 32 * 1024 * 1024  # decoded samples of persisted blocks, LRU
    max_future_ms: int = 10 * 60 * 1000  # samples newer than now + this are refused
    wal_repair: bool = True  # a corrupt WAL is truncated at start-up rather than refused
    logs_path: Path | None = None  # the log store's dir; None: <data_dir>/logs
    logs_collect: bool = True  # this host's container logs and --logs.files into the store
    logs_docker_containers: Path | None = Path("/var/lib/docker/containers")
    logs_files: tuple[str, ...] = ()
    logs_journal: bool = False  # this host's systemd journal into the store
    logs_journal_path: Path | None = None  # a journal dir/file instead of the system's
    logs_rule_files: tuple[str, ...] = ()  # Loki-ruler files (LogQL rules)
    logs_forward_url: str = ""  # a Loki-push URL the log store's WAL is forwarded to
    logs_retention_ms: int = 7 * 24 * 3_600_000
    logs_ingestion_rate_mb: float = 4.0  # Loki's ingestion_rate_mb (MiB/s, all streams)
    logs_ingestion_burst_mb: float = 6.0  # Loki's ingestion_burst_size_mb
    traces_path: Path | None = None  # the span store's dir; None: <data_dir>/traces
    traces_retention_ms: int = 7 * 24 * 3_600_000
    traces_forward_url: str = ""  # an OTLP/HTTP traces URL the span store's WAL is forwarded to
    spanmetrics_health_user_agents: tuple[str, ...] = DEFAULT_HEALTH_USER_AGENTS
    spanmetrics_health_paths: tuple[str, ...] = DEFAULT_HEALTH_PATHS
    spanmetrics_max_span_names: int = (
        1000  # = spanmetrics_guards.DEFAULT_MAX_SPAN_NAMES (a test holds it)
    )
    spanmetrics_interval_s: float = 15.0  # Tempo's collection_interval
    traces_max_future_ms: int = 10 * 60 * 1000  # spans starting after now + this are refused
    total_retention_bytes: int = 0  # TSDB, log and span stores together (cmd/disk_budget.py)
    listen_address: str = "127.0.0.1:9090"
    loki_listen_address: str = ""  # Loki's API on a port of its own (e.g. :3100); "": off
    syslog_listen_address: str = ""  # "": no syslog listener
    elasticsearch_listen_address: str = ""  # "": Elasticsearch only under /elasticsearch/
    jaeger_listen_address: str = ""  # Jaeger's query API on a port of its own (e.g. :16686)
    tempo_listen_address: str = ""  # Tempo's query API on a port of its own (e.g. :3200)
    elasticsearch_message_fields: tuple[str, ...] = ("message",)
    elasticsearch_stream_fields: tuple[str, ...] = ()
    enable_lifecycle: bool = False
    enable_admin_api: bool = False
    web_config_file: Path | None = None
    allowed_hosts: str = ""
    remote_write_receiver: bool = False
    otlp_receiver: bool = False
    otlp_listen_address: str = "127.0.0.1:4318"  # OTLP/HTTP traces, logs, metrics; "": off
    otlp_grpc_listen_address: str = ""  # OTLP/gRPC, every signal (needs vigil[grpc]); "": off
    zipkin_listen_address: str = ""  # Zipkin's span API on a port of its own (:9411); "": off
    external_url: str = ""
    lookback_delta_ms: int = 300_000
    query_timeout_s: float = 120.0
    query_max_samples: int = 50_000_000
    logs_query_max_entries: int = 5000  # Loki's max_entries_limit_per_query
    query_max_concurrency: int = 20
    query_remote_url: str = ""
    notification_queue_capacity: int = 10_000
    resend_delay_ms: int = 60_000
    host_collectors: bool = True
    alertmanager_config_file: Path | None = None
    heartbeat_url: str = ""
    heartbeat_fail_url: str = ""
    heartbeat_interval_s: float = 60.0
    default_rules: bool = True
    alertmanager_enabled: bool = True
    containers: ContainerOptions | None = None  # the container collectors; None: off
    self_scrape: SelfScrape = SelfScrape()  # what the default config needs past the web guard


@dataclass(frozen=True, slots=True)
class Flag:
    """`--<name>` sets ServerOptions.<field>; a `negated` switch turns the field off."""

    name: str
    field: str
    kind: Kind[Any]
    help: str
    negated: bool = False
    env: str = ""  # an environment variable that, when set, replaces the default


FLAGS = (
    Flag("config.file", "config_file", kinds.PATH, "prometheus.yml (default: scrape this host)"),
    Flag("storage.tsdb.path", "data_dir", kinds.DIR, "data directory"),
    Flag(
        "storage.tsdb.retention.time", "retention_ms", kinds.DURATION_MS, "how long to keep samples"
    ),
    Flag(
        "storage.tsdb.retention.size",
        "retention_bytes",
        kinds.SIZE,
        "most bytes the TSDB keeps, WAL and blocks together (e.g. 512MB; 0: no limit, or half "
        "of --storage.total-retention.size when that is set)",
    ),
    Flag(
        "storage.tsdb.block-cache-size",
        "block_cache_bytes",
        kinds.SIZE,
        "most bytes of decoded block samples kept for repeated queries (dashboards); "
        "0 turns the cache off",
    ),
    Flag(
        "storage.tsdb.max-future",
        "max_future_ms",
        kinds.DURATION_MS,
        "refuse samples (scraped, pushed, imported) newer than now + this: one far-future "
        "sample would push every later one out of bounds; 0 turns the bound off",
    ),
    Flag(
        "storage.tsdb.wal-repair.disable",
        "wal_repair",
        kinds.SWITCH,
        "refuse to start on a corrupt WAL (until `vigil tsdb repair`) instead of truncating it "
        "at the corrupt record, as Prometheus does, and logging and alerting what was dropped",
        negated=True,
    ),
    Flag(
        "logs.storage.path",
        "logs_path",
        kinds.PATH,
        "directory of the log store (Loki push, syslog, OTLP logs) "
        "(default: the logs dir inside --storage.tsdb.path)",
    ),
    Flag(
        "logs.files",
        "logs_files",
        kinds.GLOBS,
        "files of this host to follow into the log store, as comma-separated globs "
        "(e.g. '/var/log/app/*.log')",
    ),
    Flag(
        "logs.docker-containers",
        "logs_docker_containers",
        kinds.PATH,
        "Docker's containers directory: its json-file logs are followed into the log store; "
        "empty for none",
    ),
    Flag(
        "logs.journal",
        "logs_journal",
        kinds.SWITCH,
        "follow this host's systemd journal into the log store (needs journalctl), labelled "
        "unit and service_name",
    ),
    Flag(
        "logs.journal.path",
        "logs_journal_path",
        kinds.PATH,
        "a journal directory or file to read instead of the system's (default: the system journal)",
    ),
    Flag(
        "logs.rule-files",
        "logs_rule_files",
        kinds.GLOBS,
        "Loki-ruler rule files (Prometheus's rule file format with LogQL expressions), as "
        "comma-separated globs; read again on reload, evaluated beside rule_files",
    ),
    Flag(
        "logs.forward.url",
        "logs_forward_url",
        kinds.URL,
        "forward every log line the store takes to this Loki-push URL (Loki, VictoriaLogs, "
        "Grafana Cloud: e.g. http://loki:3100/loki/api/v1/push), from the store's WAL, at "
        "least once and resumed after restarts",
    ),
    Flag(
        "logs.collect.disable",
        "logs_collect",
        kinds.SWITCH,
        "collect no logs of this host (container logs, --logs.files, --logs.journal); pushes "
        "are still taken",
        negated=True,
    ),
    Flag(
        "logs.retention.time",
        "logs_retention_ms",
        kinds.DURATION_MS,
        "how long to keep log lines (whole blocks go; 0: forever)",
    ),
    Flag(
        "logs.ingestion-rate-mb",
        "logs_ingestion_rate_mb",
        kinds.NUMBER,
        "log bytes per second the store takes from all pushes together, in MiB (Loki's "
        "ingestion_rate_mb); pushes over it are answered 429; 0: no limit",
    ),
    Flag(
        "logs.ingestion-burst-size-mb",
        "logs_ingestion_burst_mb",
        kinds.NUMBER,
        "the burst above --logs.ingestion-rate-mb a push may take at once, in MiB (Loki's "
        "ingestion_burst_size_mb)",
    ),
    Flag(
        "traces.storage.path",
        "traces_path",
        kinds.PATH,
        "directory of the span store (OTLP and Zipkin traces) "
        "(default: the traces dir inside --storage.tsdb.path)",
    ),
    Flag(
        "traces.retention.time",
        "traces_retention_ms",
        kinds.DURATION_MS,
        "how long to keep spans (whole blocks go; 0: forever)",
    ),
    Flag(
        "traces.max-future",
        "traces_max_future_ms",
        kinds.DURATION_MS,
        "refuse spans starting after now + this (a client whose clock runs ahead), told to the "
        "exporter and counted in vigil_traces_discarded_spans_total; 0 turns the bound off",
    ),
    Flag(
        "traces.forward.url",
        "traces_forward_url",
        kinds.URL,
        "forward every span the store takes to this OTLP/HTTP traces URL (Tempo, Jaeger, an "
        "OpenTelemetry collector: e.g. http://tempo:4318/v1/traces), from the store's WAL, at "
        "least once and resumed after restarts",
    ),
    Flag(
        "traces.spanmetrics.health-user-agents",
        "spanmetrics_health_user_agents",
        kinds.NAMES,
        "server spans whose user agent starts with one of these are health checks, left out "
        "of span metrics",
    ),
    Flag(
        "traces.spanmetrics.health-paths",
        "spanmetrics_health_paths",
        kinds.NAMES,
        "server spans for these paths (url.path, http.target, http.route) are health checks, "
        "left out of span metrics",
    ),
    Flag(
        "traces.spanmetrics.max-span-names",
        "spanmetrics_max_span_names",
        kinds.INT,
        "distinct span names per service in span metrics; more are counted under "
        "span_name=__cardinality_overflow__",
    ),
    Flag(
        "traces.spanmetrics.interval",
        "spanmetrics_interval_s",
        kinds.DURATION_S,
        "how often span metrics and the service graph are written into the TSDB",
    ),
    Flag(
        "storage.total-retention.size",
        "total_retention_bytes",
        kinds.SIZE,
        "most bytes all stores keep together (e.g. 2GB; 0: no total): the TSDB keeps "
        "--storage.tsdb.retention.size of it (default: half), the log and span stores half "
        "of the rest each",
    ),
    Flag(
        "web.listen-address",
        "listen_address",
        kinds.TEXT,
        "address to listen on for the UI, API and telemetry",
    ),
    Flag(
        "loki.listen-address",
        "loki_listen_address",
        kinds.TEXT,
        "also serve Loki's API (/loki/api/v1/*, /ready) on this address, e.g. :3100, so "
        "Grafana's and logcli's Loki URLs stay unchanged (default: off; it is always under "
        "/loki/ on --web.listen-address)",
    ),
    Flag(
        "otlp.listen-address",
        "otlp_listen_address",
        kinds.TEXT,
        "serve OTLP/HTTP on this address, as an OpenTelemetry collector does: /v1/traces "
        "into the span store, /v1/logs into the log store, /v1/metrics into the TSDB (what "
        "SDKs and agents send to by default); empty turns it off",
        env="VIGIL_OTLP_LISTEN_ADDRESS",
    ),
    Flag(
        "otlp.grpc.listen-address",
        "otlp_grpc_listen_address",
        kinds.TEXT,
        "take OTLP/gRPC traces, logs and metrics on this address, e.g. 127.0.0.1:4317 (needs "
        "pip install 'vigil[grpc]'; default: off)",
    ),
    Flag(
        "zipkin.listen-address",
        "zipkin_listen_address",
        kinds.TEXT,
        "also take Zipkin v2 JSON spans (POST /api/v2/spans, served on the main port too) on "
        "this address, e.g. :9411, so a Zipkin reporter's URL only changes its host "
        "(default: off)",
    ),
    Flag(
        "syslog.listen-address",
        "syslog_listen_address",
        kinds.TEXT,
        "receive syslog (RFC 5424 and 3164) over UDP and TCP (newline or octet-counted "
        "framing) on this address, e.g. :1514, into the log store (default: off)",
    ),
    Flag(
        "elasticsearch.listen-address",
        "elasticsearch_listen_address",
        kinds.TEXT,
        "also serve the Elasticsearch bulk API (served under /elasticsearch/ on the main "
        "port) at the root of this address, e.g. :9200, for shippers that call GET / first",
    ),
    Flag(
        "jaeger.listen-address",
        "jaeger_listen_address",
        kinds.TEXT,
        "also serve Jaeger's query API (/api/services, /api/traces, ...) at the root of this "
        "address, e.g. :16686 (default: off; it is always under /jaeger/ on "
        "--web.listen-address)",
    ),
    Flag(
        "tempo.listen-address",
        "tempo_listen_address",
        kinds.TEXT,
        "also serve Tempo's query API (/api/search, /api/v2/traces/{id}, /ready, ...) at the "
        "root of this address, e.g. :3200 (default: off; it is always under /tempo/ on "
        "--web.listen-address)",
    ),
    Flag(
        "elasticsearch.message-fields",
        "elasticsearch_message_fields",
        kinds.NAMES,
        "document fields whose value is the log line, the first present wins (else the "
        "document as JSON)",
    ),
    Flag(
        "elasticsearch.stream-fields",
        "elasticsearch_stream_fields",
        kinds.NAMES,
        "document fields that become stream labels beside index (e.g. host.name,service.name);"
        " other fields are structured metadata",
    ),
    Flag(
        "web.enable-lifecycle", "enable_lifecycle", kinds.SWITCH, "allow POST /-/reload and /-/quit"
    ),
    Flag(
        "web.enable-admin-api",
        "enable_admin_api",
        kinds.SWITCH,
        "allow /api/v1/admin/tsdb/* (snapshot)",
    ),
    Flag("web.config.file", "web_config_file", kinds.PATH, WEB_CONFIG_HELP),
    Flag("web.allowed-hosts", "allowed_hosts", kinds.TEXT, ALLOWED_HOSTS_HELP),
    Flag(
        "web.enable-remote-write-receiver",
        "remote_write_receiver",
        kinds.SWITCH,
        "accept Prometheus remote-write pushes on POST /api/v1/write",
    ),
    Flag(
        "web.enable-otlp-receiver",
        "otlp_receiver",
        kinds.SWITCH,
        "accept OpenTelemetry metrics (OTLP/HTTP, protobuf or JSON) on "
        "POST /api/v1/otlp/v1/metrics and /otlp/v1/metrics, translated as the config's otlp "
        "section says",
    ),
    Flag("web.external-url", "external_url", kinds.TEXT, "URL vigil is reachable at"),
    Flag(
        "query.lookback-delta",
        "lookback_delta_ms",
        kinds.DURATION_MS,
        "how far back a selector looks for a sample",
    ),
    Flag("query.timeout", "query_timeout_s", kinds.DURATION_S, "most time a query may take"),
    Flag(
        "query.max-samples",
        "query_max_samples",
        kinds.INT,
        "most samples a query may hold in memory",
    ),
    Flag(
        "logs.query.max-entries",
        "logs_query_max_entries",
        kinds.INT,
        "most log lines a LogQL log query may return (its limit; Loki's "
        "max_entries_limit_per_query); LogQL queries also take --query.timeout",
    ),
    Flag(
        "query.max-concurrency",
        "query_max_concurrency",
        kinds.INT,
        "most queries evaluated at once; more wait their turn",
    ),
    Flag(
        "query.remote-url",
        "query_remote_url",
        kinds.URL,
        "run PromQL (rules and /api/v1/query, query_range) on this external "
        "Prometheus-compatible API (VictoriaMetrics, Mimir, Thanos Query, Prometheus) instead "
        "of the local TSDB",
    ),
    Flag(
        "alertmanager.notification-queue-capacity",
        "notification_queue_capacity",
        kinds.INT,
        "most alerts waiting to be sent to Alertmanager",
    ),
    Flag(
        "rules.alert.resend-delay",
        "resend_delay_ms",
        kinds.DURATION_MS,
        "least time before an alert still firing is sent to Alertmanager again",
    ),
    Flag(
        "agent.disable",
        "host_collectors",
        kinds.SWITCH,
        "do not serve this host's metrics on /metrics",
        negated=True,
    ),
    Flag(
        "alertmanager.config.file",
        "alertmanager_config_file",
        kinds.PATH,
        "alertmanager.yml for the in-process Alertmanager (routes, receivers, inhibitions); "
        "without it alerts are grouped and shown but sent nowhere",
    ),
    Flag(
        "heartbeat.url",
        "heartbeat_url",
        kinds.TEXT,
        "dead man's switch: POST here every --heartbeat.interval while rules and "
        "notifications work (a healthchecks-style ping URL or an Alertmanager webhook)",
    ),
    Flag(
        "heartbeat.fail-url",
        "heartbeat_fail_url",
        kinds.TEXT,
        "while vigil cannot vouch for itself (its storage cannot write, rules run late, the "
        "notification queue is full), POST the reason here every --heartbeat.interval instead "
        "of pinging --heartbeat.url (a healthchecks-style <ping URL>/fail); without it the "
        "pings just stop",
    ),
    Flag(
        "heartbeat.interval",
        "heartbeat_interval_s",
        kinds.DURATION_S,
        "how often to ping --heartbeat.url",
    ),
    Flag(
        "rules.default.disable",
        "default_rules",
        kinds.SWITCH,
        "do not evaluate vigil's default alert pack (host, containers, apps, vigil itself)",
        negated=True,
    ),
    Flag(
        "alertmanager.disable",
        "alertmanager_enabled",
        kinds.SWITCH,
        "no in-process Alertmanager: alerts go only to those prometheus.yml names",
        negated=True,
    ),
)


def add_flags(parser: argparse.ArgumentParser) -> None:
    defaults = ServerOptions()
    for flag in FLAGS:
        default = getattr(defaults, flag.field)
        if flag.kind is kinds.SWITCH:
            parser.add_argument(
                f"--{flag.name}",
                dest=flag.field,
                action="store_false" if flag.negated else "store_true",
                default=default,
                help=flag.help,
            )
            continue
        shown = flag.kind.show(default)
        help_text = f"{flag.help} (default: {shown})" if shown else flag.help
        if flag.env:
            help_text += f"; ${flag.env}, when set, is the default"
            if flag.env in os.environ:
                default = flag.kind.parse(os.environ[flag.env])
        parser.add_argument(
            f"--{flag.name}",
            dest=flag.field,
            type=flag.kind.parse,
            default=default,
            metavar=flag.kind.metavar,
            help=help_text,
        )


def options(args: argparse.Namespace, **rest: Any) -> ServerOptions:
    """ServerOptions from parsed flags; `rest` sets what no flag spells (containers, …)."""
    return ServerOptions(**{flag.field: getattr(args, flag.field) for flag in FLAGS}, **rest)


def shown(server_options: ServerOptions) -> Mapping[str, str]:
    """`/api/v1/status/flags`: every flag's value as text, as Prometheus lists them."""
    values = {}
    for flag in FLAGS:
        value = getattr(server_options, flag.field)
        values[flag.name] = flag.kind.show(not value if flag.negated else value)
    return values
