"""`prometheus.yml`: the whole schema a single-node Prometheus 3 user writes, as frozen types.

Defaults, inheritance from `global` and validation follow Prometheus 3; relative file paths are
resolved against the config file's directory. Every error names file, line and key path.
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import yaml

from vigil.config._yaml import (
    NOT_A_KEY,
    ConfigError,
    Mapping,
    Node,
    load_yaml,
    settings_keys,
)
from vigil.config.duration import Duration
from vigil.config.http import (
    HTTP_CLIENT_KEYS,
    RESERVED_HEADERS,
    HTTPClientConfig,
    Secret,
    TLSConfig,
    join_dir,
    parse_http_client,
    parse_tls_config,
    parse_url,
)
from vigil.config.relabel import (
    DEFAULT_REGEX,
    Action,
    RelabelConfig,
    RelabelConfigError,
    is_valid_label_name,
)
from vigil.config.shown import shown_text
from vigil.config.targetgroup import TargetGroup, parse_target_group
from vigil.model import Labels
from vigil.model.regex import Regex, RegexError

T = TypeVar("T")

_RULE_PATH = re.compile(r"[^*]*(\*[^/]*)?")
_BYTES = re.compile(r"(?:([0-9]+(?:\.[0-9]*)?)([KMGTPE]i?B|B))")
_BYTE_UNITS = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}

SCRAPE_PROTOCOLS = (
    "PrometheusProto",
    "PrometheusText0.0.4",
    "PrometheusText1.0.0",
    "OpenMetricsText0.0.1",
    "OpenMetricsText1.0.0",
)
DEFAULT_SCRAPE_PROTOCOLS = (
    "OpenMetricsText1.0.0",
    "OpenMetricsText0.0.1",
    "PrometheusText1.0.0",
    "PrometheusText0.0.4",
)
PROTO_FIRST_SCRAPE_PROTOCOLS = ("PrometheusProto", *DEFAULT_SCRAPE_PROTOCOLS)
ESCAPING_SCHEMES = ("allow-utf-8", "underscores", "dots", "values")

# Discovery mechanisms Prometheus knows but vigil does not run: accepted so that a user's
# config loads, reported by `vigil check config` as finding no targets.
OTHER_DISCOVERY = (
    "azure",
    "consul",
    "digitalocean",
    "dns",
    "docker",
    "dockerswarm",
    "ec2",
    "ecs",
    "elasticache",
    "eureka",
    "gce",
    "hetzner",
    "ionos",
    "kubernetes",
    "kuma",
    "lightsail",
    "linode",
    "marathon",
    "msk",
    "nerve",
    "nomad",
    "openstack",
    "ovhcloud",
    "puppetdb",
    "rds",
    "scaleway",
    "serverset",
    "stackit",
    "triton",
    "uyuni",
    "vultr",
)
_SD_KEYS = (
    "static_configs",
    "file_sd_configs",
    "http_sd_configs",
    *(f"{name}_sd_configs" for name in OTHER_DISCOVERY),
)


_0S = Duration(0)
_30MS = Duration(30)
_5S = Duration(5000)
_10S = Duration(10000)
_30S = Duration(30000)
_1M = Duration(60000)
_5M = Duration(300000)
_NO_LABELS = Labels()
_NO_SECRET = Secret("")
_NO_HTTP = HTTPClientConfig()
_NO_HTTP2 = HTTPClientConfig(enable_http2=False)
_NO_TLS = TLSConfig()


# --------------------------------------------------------------------------- discovery


@dataclass(frozen=True, slots=True)
class FileSDConfig:
    files: tuple[str, ...]
    refresh_interval: Duration = _5M
    line: int = 0


@dataclass(frozen=True, slots=True)
class HTTPSDConfig:
    url: str
    refresh_interval: Duration = _1M
    http_client: HTTPClientConfig = _NO_HTTP
    line: int = 0


@dataclass(frozen=True, slots=True)
class OtherDiscovery:
    """A `<name>_sd_configs` entry vigil accepts but does not run (it finds no targets)."""

    mechanism: str
    line: int


@dataclass(frozen=True, slots=True)
class Discovery:
    static_configs: tuple[TargetGroup, ...] = ()
    file_sd_configs: tuple[FileSDConfig, ...] = ()
    http_sd_configs: tuple[HTTPSDConfig, ...] = ()
    other: tuple[OtherDiscovery, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.static_configs or self.file_sd_configs or self.http_sd_configs or self.other
        )


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True, slots=True)
class GlobalConfig:
    scrape_interval: Duration = _1M
    scrape_timeout: Duration = _10S
    scrape_protocols: tuple[str, ...] | None = None
    evaluation_interval: Duration = _1M
    rule_query_offset: Duration = _0S
    query_log_file: str = ""
    scrape_failure_log_file: str = ""
    external_labels: Labels = _NO_LABELS
    body_size_limit: int = 0
    sample_limit: int = 0
    target_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    keep_dropped_targets: int = 0
    metric_name_validation_scheme: str = "utf8"
    metric_name_escaping_scheme: str = ""
    scrape_native_histograms: bool = False
    convert_classic_histograms_to_nhcb: bool = False
    always_scrape_classic_histograms: bool = False
    extra_scrape_metrics: bool = False
    scrape_timeout_explicit: bool = field(default=False, compare=False, metadata=NOT_A_KEY)


@dataclass(frozen=True, slots=True)
class ScrapeConfig:
    """One `scrape_configs` entry with the `global` values it inherits already filled in."""

    job_name: str
    scrape_interval: Duration = _1M
    scrape_timeout: Duration = _10S
    metrics_path: str = "/metrics"
    scheme: str = "http"
    params: tuple[tuple[str, tuple[str, ...]], ...] = ()
    honor_labels: bool = False
    honor_timestamps: bool = True
    track_timestamps_staleness: bool = False
    enable_compression: bool = True
    scrape_protocols: tuple[str, ...] = DEFAULT_SCRAPE_PROTOCOLS
    fallback_scrape_protocol: str = ""
    scrape_native_histograms: bool = False
    always_scrape_classic_histograms: bool = False
    convert_classic_histograms_to_nhcb: bool = False
    extra_scrape_metrics: bool = False
    scrape_failure_log_file: str = ""
    body_size_limit: int = 0
    sample_limit: int = 0
    target_limit: int = 0
    label_limit: int = 0
    label_name_length_limit: int = 0
    label_value_length_limit: int = 0
    native_histogram_bucket_limit: int = 0
    native_histogram_min_bucket_factor: float = 0.0
    keep_dropped_targets: int = 0
    metric_name_validation_scheme: str = "utf8"
    metric_name_escaping_scheme: str = "allow-utf-8"
    http_client: HTTPClientConfig = field(default=_NO_HTTP, metadata=NOT_A_KEY)  # inline keys
    discovery: Discovery = field(default=Discovery(), metadata=NOT_A_KEY)  # inline keys
    relabel_configs: tuple[RelabelConfig, ...] = ()
    metric_relabel_configs: tuple[RelabelConfig, ...] = ()
    file: str = field(default="", metadata=NOT_A_KEY)
    line: int = 0
    scrape_timeout_explicit: bool = field(default=False, compare=False, metadata=NOT_A_KEY)

    def param(self, name: str) -> str:
        """The first value of a query parameter ("" when absent), as `__param_<name>` starts."""
        for key, values in self.params:
            if key == name and values:
                return values[0]
        return ""


@dataclass(frozen=True, slots=True)
class SigV4Config:
    region: str = ""
    access_key: str = ""
    secret_key: Secret = _NO_SECRET
    profile: str = ""
    role_arn: str = ""
    use_fips_sts_endpoint: bool = False


@dataclass(frozen=True, slots=True)
class AlertmanagerConfig:
    http_client: HTTPClientConfig = _NO_HTTP
    sigv4: SigV4Config | None = None
    scheme: str = "http"
    path_prefix: str = ""
    timeout: Duration = _10S
    api_version: str = "v2"
    discovery: Discovery = Discovery()
    relabel_configs: tuple[RelabelConfig, ...] = ()
    alert_relabel_configs: tuple[RelabelConfig, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class AlertingConfig:
    alert_relabel_configs: tuple[RelabelConfig, ...] = ()
    alertmanagers: tuple[AlertmanagerConfig, ...] = ()
    present: bool = field(default=False, compare=False)
    line: int = 0


@dataclass(frozen=True, slots=True)
class QueueConfig:
    capacity: int = 10_000
    max_shards: int = 50
    min_shards: int = 1
    max_samples_per_send: int = 2000
    batch_send_deadline: Duration = _5S
    min_backoff: Duration = _30MS
    max_backoff: Duration = _5S
    retry_on_http_429: bool = False
    sample_age_limit: Duration = _0S


@dataclass(frozen=True, slots=True)
class MetadataConfig:
    send: bool = True
    send_interval: Duration = _1M
    max_samples_per_send: int = 2000


@dataclass(frozen=True, slots=True)
class RemoteWriteConfig:
    url: str
    remote_timeout: Duration = _30S
    headers: tuple[tuple[str, str], ...] = ()
    write_relabel_configs: tuple[RelabelConfig, ...] = ()
    name: str = ""
    send_exemplars: bool = False
    send_native_histograms: bool = False
    round_robin_dns: bool = False
    protobuf_message: str = "prometheus.WriteRequest"
    http_client: HTTPClientConfig = _NO_HTTP2
    queue_config: QueueConfig = QueueConfig()
    metadata_config: MetadataConfig = MetadataConfig()
    sigv4: SigV4Config | None = None
    other_auth: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class RemoteReadConfig:
    url: str
    remote_timeout: Duration = _1M
    chunked_read_limit: int = 50_000_000
    headers: tuple[tuple[str, str], ...] = ()
    read_recent: bool = False
    name: str = ""
    http_client: HTTPClientConfig = _NO_HTTP
    required_matchers: Labels = _NO_LABELS
    filter_external_labels: bool = True
    line: int = 0


@dataclass(frozen=True, slots=True)
class TSDBConfig:
    out_of_order_time_window: Duration = _0S
    retention_time: Duration = _0S
    retention_size: int = 0


@dataclass(frozen=True, slots=True)
class StorageConfig:
    tsdb: TSDBConfig = TSDBConfig()
    max_exemplars: int = 100_000


@dataclass(frozen=True, slots=True)
class TracingConfig:
    endpoint: str = ""
    client_type: str = "grpc"
    sampling_fraction: float = 0.0
    insecure: bool = False
    tls_config: TLSConfig = _NO_TLS
    headers: tuple[tuple[str, str], ...] = ()
    compression: str = ""
    timeout: Duration = _0S


@dataclass(frozen=True, slots=True)
class OTLPConfig:
    promote_all_resource_attributes: bool = False
    promote_resource_attributes: tuple[str, ...] = ()
    ignore_resource_attributes: tuple[str, ...] = ()
    translation_strategy: str = "UnderscoreEscapingWithSuffixes"
    keep_identifying_resource_attributes: bool = False
    convert_histograms_to_nhcb: bool = False
    promote_scope_metadata: bool = False


@dataclass(frozen=True, slots=True)
class Config:
    """A loaded `prometheus.yml` (scrape configs from `scrape_config_files` included)."""

    file: str = ""
    global_config: GlobalConfig = GlobalConfig()
    alerting: AlertingConfig = AlertingConfig()
    rule_files: tuple[str, ...] = ()
    scrape_config_files: tuple[str, ...] = ()
    scrape_configs: tuple[ScrapeConfig, ...] = ()
    storage: StorageConfig = StorageConfig()
    tracing: TracingConfig | None = None
    remote_write: tuple[RemoteWriteConfig, ...] = ()
    remote_read: tuple[RemoteReadConfig, ...] = ()
    otlp: OTLPConfig = OTLPConfig()
    gogc: int = 75
    shown: str = field(default="", compare=False, repr=False)
    """The file as every view shows it: secrets `<secret>` (see config.shown)."""

    def job(self, name: str) -> ScrapeConfig | None:
        return next((job for job in self.scrape_configs if job.job_name == name), None)


# --------------------------------------------------------------------------- loading


def load_config(path: str) -> Config:
    """Read, parse and validate `path`; raises ConfigError naming file, line and key path."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(path, 0, "", err.strerror or str(err)) from None
    except UnicodeDecodeError as err:
        line = err.object.count(b"\n", 0, err.start) + 1
        column = err.start - err.object.rfind(b"\n", 0, err.start)
        byte = err.object[err.start]
        message = f"not valid UTF-8: byte 0x{byte:02x} at column {column}"
        raise ConfigError(path, line, "", message) from None
    return parse_config(text, path)


def parse_config(text: str, file: str = "prometheus.yml") -> Config:
    """Parse config text; relative paths resolve against the directory of `file`."""
    root = load_yaml(text, file)
    base = os.path.dirname(file)
    if root is None:
        return Config(file=file)
    _reject_other_kinds(root)
    top = root.mapping(_TOP_KEYS, "the Prometheus config")
    global_node = top.get("global")
    global_config = _global(global_node, base) if global_node is not None else GlobalConfig()
    legacy = global_config.metric_name_validation_scheme == "legacy"
    rule_files = _file_patterns(top, "rule_files", "rule file", base)
    scrape_config_files = _file_patterns(top, "scrape_config_files", "scrape config file", base)
    jobs: dict[str, ScrapeConfig] = {}
    for item in top.sequence("scrape_configs"):
        job = _scrape_config(item, global_config, base, file)
        _add_job(jobs, job, item)
    for pattern in scrape_config_files:
        for path in sorted(glob.glob(pattern)):
            for job, item in _scrape_config_file(path, global_config):
                _add_job(jobs, job, item)
    config = Config(
        file=file,
        global_config=global_config,
        alerting=_alerting(top.get("alerting"), base, legacy, top.key("alerting").line),
        rule_files=rule_files,
        scrape_config_files=scrape_config_files,
        scrape_configs=tuple(jobs.values()),
        storage=_storage(top.get("storage")),
        tracing=_tracing(top.get("tracing"), base),
        remote_write=_named_unique(
            [
                _remote_write(item, base, legacy)
                for item in _items(top, "remote_write", "remote write config")
            ],
            top.get("remote_write"),
            "remote write",
        ),
        remote_read=_named_unique(
            [_remote_read(item, base) for item in _items(top, "remote_read", "remote read config")],
            top.get("remote_read"),
            "remote read",
        ),
        otlp=_otlp(top.get("otlp")),
        gogc=_runtime(top.get("runtime")),
    )
    return dataclasses.replace(config, shown=shown_text(root))


def _reject_other_kinds(root: Node) -> None:
    """Name the kind of file a user passed by mistake (rule file, rule test file)."""
    if not isinstance(root.raw, yaml.MappingNode):
        return
    for key, _ in root.items():
        hint = {"groups": "a rule file", "tests": "a rule test file"}.get(key.string())
        if hint:
            raise key.error(f"unknown key in the Prometheus config (this looks like {hint})")


_TOP_KEYS = (
    "global",
    "runtime",
    "alerting",
    "rule_files",
    "scrape_config_files",
    "scrape_configs",
    "storage",
    "tracing",
    "remote_write",
    "remote_read",
    "otlp",
)


def _add_job(jobs: dict[str, ScrapeConfig], job: ScrapeConfig, item: Node) -> None:
    first = jobs.get(job.job_name)
    if first is not None:
        where = f"line {first.line}" if first.file == job.file else f"{first.file}:{first.line}"
        node = item.mapping(_SCRAPE_KEYS).key("job_name")
        raise node.error(f'duplicate job name "{job.job_name}" (first defined at {where})')
    jobs[job.job_name] = job


def _scrape_config_file(path: str, global_config: GlobalConfig) -> list[tuple[ScrapeConfig, Node]]:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as err:
        raise ConfigError(path, 0, "", err.strerror or str(err)) from None
    root = load_yaml(text, path)
    if root is None:
        return []
    top = root.mapping(("scrape_configs",), "a scrape config file")
    base = os.path.dirname(path)
    return [
        (_scrape_config(item, global_config, base, path), item)
        for item in top.sequence("scrape_configs")
    ]


def _items(top: Mapping, key: str, what: str) -> list[Node]:
    items = top.sequence(key)
    for item in items:
        if item.is_null:
            raise item.error(f"empty or null {what}")
    return items


def _file_patterns(top: Mapping, key: str, what: str, base: str) -> tuple[str, ...]:
    out = []
    for item in top.sequence(key):
        pattern = item.string()
        if _RULE_PATH.fullmatch(pattern) is None:
            raise item.error(f'invalid {what} path "{pattern}": "*" only in the last path segment')
        out.append(join_dir(base, pattern))
    return tuple(out)


def _named_unique(configs: list[T], node: Node | None, what: str) -> tuple[T, ...]:
    seen: set[str] = set()
    for index, config in enumerate(configs):
        name: str = getattr(config, "name")  # noqa: B009
        if name and name in seen:
            assert node is not None
            raise node.sequence()[index].error(f'duplicate {what} name "{name}"')
        seen.add(name)
    return tuple(configs)


def _global(node: Node, base: str) -> GlobalConfig:
    fields = node.mapping(settings_keys(GlobalConfig), "global")
    default = GlobalConfig()
    validation = _choice(fields, "metric_name_validation_scheme", ("utf8", "legacy"), "utf8")
    legacy = validation == "legacy"
    external = []
    labels_node = fields.get("external_labels")
    if labels_node is not None:
        for key, value in labels_node.items():
            name = key.string()
            if not is_valid_label_name(name, legacy):
                raise key.error(f'"{name}" is not a valid label name')
            external.append((name, _expand_env(value.string())))
    interval = fields.duration("scrape_interval", Duration(0)) or default.scrape_interval
    timeout = fields.duration("scrape_timeout", Duration(0))
    if timeout > interval:
        raise fields.key("scrape_timeout").error(
            f"global scrape_timeout {timeout} is longer than scrape_interval {interval}"
        )
    protocols = _protocols(fields)
    escaping = _choice(fields, "metric_name_escaping_scheme", ESCAPING_SCHEMES, "")
    return GlobalConfig(
        scrape_interval=interval,
        scrape_timeout=timeout or min(default.scrape_timeout, interval),
        scrape_protocols=protocols,
        evaluation_interval=fields.duration("evaluation_interval", Duration(0))
        or default.evaluation_interval,
        rule_query_offset=fields.duration("rule_query_offset", Duration(0)),
        query_log_file=join_dir(base, fields.string("query_log_file")),
        scrape_failure_log_file=join_dir(base, fields.string("scrape_failure_log_file")),
        external_labels=Labels.from_pairs(external),
        body_size_limit=_bytes(fields.get("body_size_limit")),
        sample_limit=fields.uint("sample_limit"),
        target_limit=fields.uint("target_limit"),
        label_limit=fields.uint("label_limit"),
        label_name_length_limit=fields.uint("label_name_length_limit"),
        label_value_length_limit=fields.uint("label_value_length_limit"),
        keep_dropped_targets=fields.uint("keep_dropped_targets"),
        metric_name_validation_scheme=validation,
        metric_name_escaping_scheme=escaping,
        scrape_native_histograms=fields.boolean("scrape_native_histograms", False),
        convert_classic_histograms_to_nhcb=fields.boolean(
            "convert_classic_histograms_to_nhcb", False
        ),
        always_scrape_classic_histograms=fields.boolean("always_scrape_classic_histograms", False),
        extra_scrape_metrics=fields.boolean("extra_scrape_metrics", False),
        scrape_timeout_explicit=bool(timeout),
    )


def _expand_env(value: str) -> str:
    """Prometheus 3 expands `$VAR`/`${VAR}` in external label values (`$$` is a literal `$`)."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        return "$" if name == "$" else os.environ.get(name, "")

    return re.sub(r"\$(?:\{([^}]*)\}|(\$)|([A-Za-z0-9_]+))", replace, value)


def _choice(fields: Mapping, key: str, allowed: Sequence[str], default: str) -> str:
    node = fields.get(key)
    if node is None:
        return default
    value = node.string()
    if value == "" and "" not in allowed:
        return default
    if value not in allowed:
        raise node.error(f'"{value}" is not one of {", ".join(allowed)}')
    return value


def _protocols(fields: Mapping) -> tuple[str, ...] | None:
    node = fields.get("scrape_protocols")
    if node is None:
        return None
    protocols = node.strings()
    if not protocols:
        raise node.error("scrape_protocols cannot be empty")
    seen: set[str] = set()
    for item, protocol in zip(node.sequence(), protocols, strict=True):
        if protocol not in SCRAPE_PROTOCOLS:
            raise item.error(
                f'unknown scrape protocol "{protocol}" (one of {", ".join(SCRAPE_PROTOCOLS)})'
            )
        if protocol.lower() in seen:
            raise item.error(f'duplicated protocol "{protocol}" in scrape_protocols')
        seen.add(protocol.lower())
    return protocols


def _bytes(node: Node | None) -> int:
    """A size like `10MB` or `512KiB` (powers of 1024, as Prometheus's units.Base2Bytes)."""
    if node is None:
        return 0
    if node.raw.tag == "tag:yaml.org,2002:int":
        return node.uint()
    text = node.string()
    if text == "0":
        return 0
    total = 0.0
    position = 0
    for match in _BYTES.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * 1024 ** _BYTE_UNITS[match.group(2)[0]]
        position = match.end()
    if position != len(text) or not text:
        raise node.error(f'"{text}" is not a size (e.g. 512KB, 10MB, 1GiB)')
    return int(total)


# --------------------------------------------------------------------------- scrape configs

_SCRAPE_KEYS = (*settings_keys(ScrapeConfig), *HTTP_CLIENT_KEYS, *_SD_KEYS)
_JOB = ScrapeConfig(job_name="")


def _scrape_config(node: Node, glob_cfg: GlobalConfig, base: str, file: str) -> ScrapeConfig:
    if node.is_null:
        raise node.error("empty or null scrape config section")
    fields = node.mapping(_SCRAPE_KEYS, "a scrape config")
    job_name = fields.string("job_name")
    if not job_name:
        raise fields.key("job_name").error("job_name is empty")
    http_client = parse_http_client(fields, base)
    relabel_node = fields.get("relabel_configs")
    discovery = _discovery(fields, base, check_addresses=relabel_node is None)
    interval = fields.duration("scrape_interval", Duration(0)) or glob_cfg.scrape_interval
    timeout = fields.duration("scrape_timeout", Duration(0))
    if timeout > interval:
        raise fields.key("scrape_timeout").error(
            f"scrape_timeout {timeout} is longer than scrape_interval {interval}"
            f' for job "{job_name}"'
        )
    native = fields.optional_boolean("scrape_native_histograms")
    native = glob_cfg.scrape_native_histograms if native is None else native
    protocols = _protocols(fields) or glob_cfg.scrape_protocols
    if protocols is None:
        protocols = PROTO_FIRST_SCRAPE_PROTOCOLS if native else DEFAULT_SCRAPE_PROTOCOLS
    fallback = fields.string("fallback_scrape_protocol")
    if fallback and fallback not in SCRAPE_PROTOCOLS:
        raise fields.key("fallback_scrape_protocol").error(
            f'unknown scrape protocol "{fallback}" (one of {", ".join(SCRAPE_PROTOCOLS)})'
        )
    validation, escaping = _name_schemes(fields, glob_cfg)
    legacy = validation == "legacy"
    classic = fields.optional_boolean("always_scrape_classic_histograms")
    nhcb = fields.optional_boolean("convert_classic_histograms_to_nhcb")
    extra = fields.optional_boolean("extra_scrape_metrics")
    failure_log = fields.string("scrape_failure_log_file")
    return ScrapeConfig(
        job_name=job_name,
        scrape_interval=interval,
        scrape_timeout=timeout or min(glob_cfg.scrape_timeout, interval),
        metrics_path=fields.string("metrics_path", _JOB.metrics_path),
        scheme=fields.string("scheme", _JOB.scheme),
        params=_params(fields.get("params")),
        honor_labels=fields.boolean("honor_labels", _JOB.honor_labels),
        honor_timestamps=fields.boolean("honor_timestamps", _JOB.honor_timestamps),
        track_timestamps_staleness=fields.boolean(
            "track_timestamps_staleness", _JOB.track_timestamps_staleness
        ),
        enable_compression=fields.boolean("enable_compression", _JOB.enable_compression),
        scrape_protocols=protocols,
        fallback_scrape_protocol=fallback,
        scrape_native_histograms=native,
        always_scrape_classic_histograms=glob_cfg.always_scrape_classic_histograms
        if classic is None
        else classic,
        convert_classic_histograms_to_nhcb=glob_cfg.convert_classic_histograms_to_nhcb
        if nhcb is None
        else nhcb,
        extra_scrape_metrics=glob_cfg.extra_scrape_metrics if extra is None else extra,
        scrape_failure_log_file=join_dir(base, failure_log) or glob_cfg.scrape_failure_log_file,
        body_size_limit=_bytes(fields.get("body_size_limit")) or glob_cfg.body_size_limit,
        sample_limit=fields.uint("sample_limit") or glob_cfg.sample_limit,
        target_limit=fields.uint("target_limit") or glob_cfg.target_limit,
        label_limit=fields.uint("label_limit") or glob_cfg.label_limit,
        label_name_length_limit=fields.uint("label_name_length_limit")
        or glob_cfg.label_name_length_limit,
        label_value_length_limit=fields.uint("label_value_length_limit")
        or glob_cfg.label_value_length_limit,
        native_histogram_bucket_limit=fields.uint("native_histogram_bucket_limit"),
        native_histogram_min_bucket_factor=fields.number("native_histogram_min_bucket_factor"),
        keep_dropped_targets=fields.uint("keep_dropped_targets") or glob_cfg.keep_dropped_targets,
        metric_name_validation_scheme=validation,
        metric_name_escaping_scheme=escaping,
        http_client=http_client,
        discovery=discovery,
        relabel_configs=_relabel_configs(relabel_node, legacy, "target relabeling rule"),
        metric_relabel_configs=_relabel_configs(
            fields.get("metric_relabel_configs"), legacy, "metric relabeling rule"
        ),
        file=file,
        line=node.line,
        scrape_timeout_explicit=bool(timeout),
    )


def _name_schemes(fields: Mapping, glob_cfg: GlobalConfig) -> tuple[str, str]:
    """Per-job metric name validation and escaping, inheriting global as Prometheus 3 does."""
    local = _choice(fields, "metric_name_validation_scheme", ("utf8", "legacy"), "")
    validation = local or glob_cfg.metric_name_validation_scheme
    escaping = _choice(fields, "metric_name_escaping_scheme", ESCAPING_SCHEMES, "")
    if not escaping:
        global_escaping = glob_cfg.metric_name_escaping_scheme or (
            "underscores" if glob_cfg.metric_name_validation_scheme == "legacy" else "allow-utf-8"
        )
        if not local:
            escaping = global_escaping
        else:
            escaping = "underscores" if validation == "legacy" else "allow-utf-8"
    if escaping == "allow-utf-8" and validation != "utf8":
        raise fields.key("metric_name_escaping_scheme").error(
            "allow-utf-8 escaping needs metric_name_validation_scheme utf8"
        )
    return validation, escaping


def _params(node: Node | None) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if node is None:
        return ()
    return tuple(
        (key.string(), value.strings() if not value.is_null else ()) for key, value in node.items()
    )


def _discovery(fields: Mapping, base: str, check_addresses: bool) -> Discovery:
    static = []
    for index, item in enumerate(fields.sequence("static_configs")):
        if item.is_null:
            raise item.error("empty or null section in static_configs")
        group = parse_target_group(item, str(index))
        if check_addresses:
            for target, target_node in zip(
                group.targets, item.mapping(("targets", "labels")).sequence("targets"), strict=True
            ):
                if "/" in target:
                    raise target_node.error(
                        f'"{target}" is not a valid hostname (a target is host:port, not a URL)'
                    )
        static.append(group)
    files = [_file_sd(item, base) for item in fields.sequence("file_sd_configs")]
    http = [_http_sd(item, base) for item in fields.sequence("http_sd_configs")]
    other = []
    for mechanism in OTHER_DISCOVERY:
        for item in fields.sequence(f"{mechanism}_sd_configs"):
            if not item.is_null:
                item.mapping(_AnyKeys(), f"{mechanism}_sd_configs")
            other.append(OtherDiscovery(mechanism, item.line))
    return Discovery(tuple(static), tuple(files), tuple(http), tuple(other))


class _AnyKeys(tuple[str, ...]):
    """A key set that admits every key: for discovery blocks vigil keeps but does not read."""

    def __contains__(self, key: object) -> bool:
        return True


_FILE_SD_NAME = re.compile(r"[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)")


def _file_sd(node: Node, base: str) -> FileSDConfig:
    fields = node.mapping(("files", "refresh_interval"), "file_sd_configs")
    files = fields.strings("files")
    if not files:
        raise node.error("file_sd_configs needs at least one path in files")
    for item, name in zip(fields.sequence("files"), files, strict=True):
        if _FILE_SD_NAME.fullmatch(name) is None:
            raise item.error(
                f'path "{name}" is not valid for file discovery (*.json, *.yml or *.yaml)'
            )
    return FileSDConfig(
        tuple(join_dir(base, name) for name in files),
        fields.duration("refresh_interval", Duration(5 * 60_000)),
        node.line,
    )


def _http_sd(node: Node, base: str) -> HTTPSDConfig:
    fields = node.mapping(("url", "refresh_interval", *HTTP_CLIENT_KEYS), "http_sd_configs")
    url = fields.url("url")
    if not url:
        raise fields.key("url").error("http_sd_configs needs a url")
    parts = parse_url(fields.key("url"), url)
    if parts.scheme not in ("http", "https"):
        raise fields.key("url").error("URL scheme must be 'http' or 'https'")
    if not parts.hostname:
        raise fields.key("url").error("host is missing in URL")
    return HTTPSDConfig(
        url,
        fields.duration("refresh_interval", Duration(60_000)),
        parse_http_client(fields, base),
        node.line,
    )


# --------------------------------------------------------------------------- relabeling

_RELABEL_KEYS = (
    "source_labels",
    "separator",
    "target_label",
    "regex",
    "modulus",
    "replacement",
    "action",
)


def _relabel_configs(node: Node | None, legacy: bool, what: str) -> tuple[RelabelConfig, ...]:
    if node is None:
        return ()
    out = []
    for item in node.sequence():
        if item.is_null:
            raise item.error(f"empty or null {what}")
        out.append(parse_relabel_config(item, legacy))
    return tuple(out)


def parse_relabel_config(node: Node, legacy: bool = False) -> RelabelConfig:
    """One relabel rule from YAML; errors point at the offending key's line."""
    fields = node.mapping(_RELABEL_KEYS, "a relabel rule")
    action_text = fields.string("action", "replace")
    try:
        action = Action(action_text.lower())
    except ValueError:
        raise fields.key("action").error(
            f'unknown relabel action "{action_text}" (one of {", ".join(a.value for a in Action)})'
        ) from None
    regex = DEFAULT_REGEX
    regex_node = fields.get("regex")
    if regex_node is not None:
        text = regex_node.string()
        try:
            regex = Regex(text)
        except RegexError as err:
            raise regex_node.error(f'"{text}" is not a valid regular expression: {err}') from None
    elif "regex" in fields.entries:
        regex = Regex("")
    source_node = fields.get("source_labels")
    try:
        config = RelabelConfig(
            source_labels=fields.strings("source_labels"),
            separator=fields.string("separator", ";") if "separator" in fields else ";",
            target_label=fields.string("target_label"),
            regex=regex,
            modulus=fields.uint("modulus"),
            replacement=fields.string("replacement", "$1")
            if "replacement" in fields.entries
            else "$1",
            action=action,
            source_labels_set=source_node is not None,
        )
        if legacy:
            config.validate(legacy_names=True)
    except RelabelConfigError as err:
        raise fields.key(err.field).error(err.message) from None
    return config


# --------------------------------------------------------------------------- alerting


_ALERTMANAGER_KEYS = (
    "scheme",
    "path_prefix",
    "timeout",
    "api_version",
    "sigv4",
    "relabel_configs",
    "alert_relabel_configs",
    *HTTP_CLIENT_KEYS,
    *_SD_KEYS,
)


def _alerting(node: Node | None, base: str, legacy: bool, line: int) -> AlertingConfig:
    if node is None:
        return AlertingConfig()
    fields = node.mapping(("alert_relabel_configs", "alertmanagers"), "alerting")
    managers = []
    for item in fields.sequence("alertmanagers"):
        if item.is_null:
            raise item.error("empty or null alertmanager config")
        managers.append(_alertmanager(item, base, legacy))
    return AlertingConfig(
        _relabel_configs(fields.get("alert_relabel_configs"), legacy, "alert relabeling rule"),
        tuple(managers),
        present=True,
        line=line,
    )


def _alertmanager(node: Node, base: str, legacy: bool) -> AlertmanagerConfig:
    fields = node.mapping(_ALERTMANAGER_KEYS, "an alertmanager config")
    http_client = parse_http_client(fields, base)
    sigv4 = _sigv4(fields.get("sigv4"))
    if sigv4 is not None and (
        http_client.basic_auth or http_client.authorization or http_client.oauth2
    ):
        raise fields.key("sigv4").error(
            "at most one of basic_auth, authorization, oauth2 and sigv4"
        )
    api_version = _choice(fields, "api_version", ("v2",), "v2")
    relabel_node = fields.get("relabel_configs")
    return AlertmanagerConfig(
        http_client=http_client,
        sigv4=sigv4,
        scheme=fields.string("scheme", "http"),
        path_prefix=fields.string("path_prefix"),
        timeout=fields.duration("timeout", Duration(10_000)),
        api_version=api_version,
        discovery=_discovery(fields, base, check_addresses=relabel_node is None),
        relabel_configs=_relabel_configs(
            relabel_node, legacy, "Alertmanager target relabeling rule"
        ),
        alert_relabel_configs=_relabel_configs(
            fields.get("alert_relabel_configs"), legacy, "Alertmanager alert relabeling rule"
        ),
        line=node.line,
    )


def _sigv4(node: Node | None) -> SigV4Config | None:
    if node is None:
        return None
    keys = ("region", "access_key", "secret_key", "profile", "role_arn", "use_fips_sts_endpoint")
    fields = node.mapping(keys, "sigv4")
    sigv4 = SigV4Config(
        fields.string("region"),
        fields.string("access_key"),
        Secret(fields.secret("secret_key")),
        fields.string("profile"),
        fields.string("role_arn"),
        fields.boolean("use_fips_sts_endpoint", False),
    )
    if bool(sigv4.access_key) != bool(sigv4.secret_key):
        raise node.error("sigv4 access_key and secret_key go together")
    return sigv4


# --------------------------------------------------------------------------- remote storage

_QUEUE_KEYS = (
    "capacity",
    "max_shards",
    "min_shards",
    "max_samples_per_send",
    "batch_send_deadline",
    "min_backoff",
    "max_backoff",
    "retry_on_http_429",
    "sample_age_limit",
)
_REMOTE_WRITE_KEYS = (
    "url",
    "remote_timeout",
    "headers",
    "write_relabel_configs",
    "name",
    "send_exemplars",
    "send_native_histograms",
    "round_robin_dns",
    "protobuf_message",
    "queue_config",
    "metadata_config",
    "sigv4",
    "azuread",
    "google_iam",
    *HTTP_CLIENT_KEYS,
)
_PROTOBUF_MESSAGES = ("prometheus.WriteRequest", "io.prometheus.write.v2.Request")


def _headers(node: Node | None) -> tuple[tuple[str, str], ...]:
    if node is None:
        return ()
    out = []
    for key, value in node.items():
        name = key.string()
        if name.lower() == "authorization":
            raise key.error(
                "set the authorization header with basic_auth, authorization, oauth2 or sigv4"
            )
        if name.lower() in RESERVED_HEADERS:
            raise key.error(f"{name} is a reserved header; it must not be changed")
        out.append((name, value.string()))
    return tuple(out)


def _remote_url(fields: Mapping, what: str) -> str:
    url = fields.url("url")
    if not url:
        raise fields.node.error(f"url for {what} is empty")
    parse_url(fields.key("url"), url)
    return url


def _remote_write(node: Node, base: str, legacy: bool) -> RemoteWriteConfig:
    fields = node.mapping(_REMOTE_WRITE_KEYS, "a remote_write config")
    url = _remote_url(fields, "remote_write")
    http_client = parse_http_client(fields, base, _NO_HTTP2)
    sigv4 = _sigv4(fields.get("sigv4"))
    other_auth = ""
    for key in ("azuread", "google_iam"):
        other = fields.get(key)
        if other is not None:
            oauth = other.mapping(_AnyKeys(), key).get("oauth")
            if oauth is not None:
                oauth.mapping(_AnyKeys(), "oauth").secret("client_secret")
            other_auth = key
    configured = [
        name
        for name, present in (
            ("basic_auth", http_client.basic_auth is not None),
            ("authorization", http_client.authorization is not None),
            ("oauth2", http_client.oauth2 is not None),
            ("sigv4", sigv4 is not None),
            ("azuread", "azuread" in fields),
            ("google_iam", "google_iam" in fields),
        )
        if present
    ]
    if len(configured) > 1:
        raise node.error(
            f"at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam; got {', '.join(configured)}"
        )
    return RemoteWriteConfig(
        url=url,
        remote_timeout=fields.duration("remote_timeout", Duration(30_000)),
        headers=_headers(fields.get("headers")),
        write_relabel_configs=_relabel_configs(
            fields.get("write_relabel_configs"), legacy, "relabeling rule in remote write config"
        ),
        name=fields.string("name"),
        send_exemplars=fields.boolean("send_exemplars", False),
        send_native_histograms=fields.boolean("send_native_histograms", False),
        round_robin_dns=fields.boolean("round_robin_dns", False),
        protobuf_message=_choice(
            fields, "protobuf_message", _PROTOBUF_MESSAGES, _PROTOBUF_MESSAGES[0]
        ),
        http_client=http_client,
        queue_config=_queue(fields.get("queue_config")),
        metadata_config=_metadata(fields.get("metadata_config")),
        sigv4=sigv4,
        other_auth=other_auth,
        line=node.line,
    )


def _queue(node: Node | None) -> QueueConfig:
    if node is None:
        return QueueConfig()
    fields = node.mapping(_QUEUE_KEYS, "queue_config")
    d = QueueConfig()
    return QueueConfig(
        capacity=fields.integer("capacity", d.capacity),
        max_shards=fields.integer("max_shards", d.max_shards),
        min_shards=fields.integer("min_shards", d.min_shards),
        max_samples_per_send=fields.integer("max_samples_per_send", d.max_samples_per_send),
        batch_send_deadline=fields.duration("batch_send_deadline", d.batch_send_deadline),
        min_backoff=fields.duration("min_backoff", d.min_backoff),
        max_backoff=fields.duration("max_backoff", d.max_backoff),
        retry_on_http_429=fields.boolean("retry_on_http_429", False),
        sample_age_limit=fields.duration("sample_age_limit", d.sample_age_limit),
    )


def _metadata(node: Node | None) -> MetadataConfig:
    if node is None:
        return MetadataConfig()
    fields = node.mapping(("send", "send_interval", "max_samples_per_send"), "metadata_config")
    return MetadataConfig(
        fields.boolean("send", True),
        fields.duration("send_interval", Duration(60_000)),
        fields.integer("max_samples_per_send", 2000),
    )


_REMOTE_READ_KEYS = (
    "url",
    "remote_timeout",
    "chunked_read_limit",
    "headers",
    "read_recent",
    "name",
    "required_matchers",
    "filter_external_labels",
    *HTTP_CLIENT_KEYS,
)


def _remote_read(node: Node, base: str) -> RemoteReadConfig:
    fields = node.mapping(_REMOTE_READ_KEYS, "a remote_read config")
    return RemoteReadConfig(
        url=_remote_url(fields, "remote_read"),
        remote_timeout=fields.duration("remote_timeout", Duration(60_000)),
        chunked_read_limit=fields.uint("chunked_read_limit", 50_000_000),
        headers=_headers(fields.get("headers")),
        read_recent=fields.boolean("read_recent", False),
        name=fields.string("name"),
        http_client=parse_http_client(fields, base),
        required_matchers=Labels.from_pairs(fields.string_map("required_matchers")),
        filter_external_labels=fields.boolean("filter_external_labels", True),
        line=node.line,
    )


# --------------------------------------------------------------------------- the rest


def _storage(node: Node | None) -> StorageConfig:
    if node is None:
        return StorageConfig()
    fields = node.mapping(("tsdb", "exemplars"), "storage")
    tsdb = TSDBConfig()
    tsdb_node = fields.get("tsdb")
    if tsdb_node is not None:
        tsdb_fields = tsdb_node.mapping(("out_of_order_time_window", "retention"), "storage.tsdb")
        retention = tsdb_fields.get("retention")
        retention_fields = retention.mapping(("time", "size"), "retention") if retention else None
        tsdb = TSDBConfig(
            tsdb_fields.duration("out_of_order_time_window", Duration(0)),
            retention_fields.duration("time", Duration(0)) if retention_fields else Duration(0),
            _bytes(retention_fields.get("size")) if retention_fields else 0,
        )
    exemplars = fields.get("exemplars")
    max_exemplars = 100_000
    if exemplars is not None:
        max_exemplars = exemplars.mapping(("max_exemplars",), "exemplars").integer("max_exemplars")
    return StorageConfig(tsdb, max_exemplars)


def _tracing(node: Node | None, base: str) -> TracingConfig | None:
    if node is None:
        return None
    keys = (
        "client_type",
        "endpoint",
        "sampling_fraction",
        "insecure",
        "tls_config",
        "headers",
        "compression",
        "timeout",
    )
    fields = node.mapping(keys, "tracing")
    config = TracingConfig(
        endpoint=fields.string("endpoint"),
        client_type=_choice(fields, "client_type", ("grpc", "http"), "grpc"),
        sampling_fraction=fields.number("sampling_fraction"),
        insecure=fields.boolean("insecure", False),
        tls_config=parse_tls_config(fields.get("tls_config"), base),
        headers=_headers(fields.get("headers")),
        compression=_choice(fields, "compression", ("gzip",), ""),
        timeout=fields.duration("timeout", Duration(0)),
    )
    if not config.endpoint:
        raise node.error("tracing endpoint must be set")
    return config


_TRANSLATION_STRATEGIES = (
    "UnderscoreEscapingWithSuffixes",
    "UnderscoreEscapingWithoutSuffixes",
    "NoUTF8EscapingWithSuffixes",
    "NoTranslation",
)


def _otlp(node: Node | None) -> OTLPConfig:
    if node is None:
        return OTLPConfig()
    keys = (
        "promote_all_resource_attributes",
        "promote_resource_attributes",
        "ignore_resource_attributes",
        "translation_strategy",
        "keep_identifying_resource_attributes",
        "convert_histograms_to_nhcb",
        "promote_scope_metadata",
    )
    fields = node.mapping(keys, "otlp")
    config = OTLPConfig(
        promote_all_resource_attributes=fields.boolean("promote_all_resource_attributes", False),
        promote_resource_attributes=fields.strings("promote_resource_attributes"),
        ignore_resource_attributes=fields.strings("ignore_resource_attributes"),
        translation_strategy=_choice(
            fields, "translation_strategy", _TRANSLATION_STRATEGIES, _TRANSLATION_STRATEGIES[0]
        ),
        keep_identifying_resource_attributes=fields.boolean(
            "keep_identifying_resource_attributes", False
        ),
        convert_histograms_to_nhcb=fields.boolean("convert_histograms_to_nhcb", False),
        promote_scope_metadata=fields.boolean("promote_scope_metadata", False),
    )
    if config.promote_all_resource_attributes and config.promote_resource_attributes:
        raise fields.key("promote_resource_attributes").error(
            "cannot be set together with promote_all_resource_attributes"
        )
    return config


def _runtime(node: Node | None) -> int:
    if node is None:
        return 75
    return node.mapping(("gogc",), "runtime").integer("gogc", 75) or 75


def relabel_lists(config: Config) -> list[tuple[str, tuple[RelabelConfig, ...]]]:
    """(where, rules) for every relabel list in `config`, for lints that look at all of them."""
    out: list[tuple[str, tuple[RelabelConfig, ...]]] = []
    for job in config.scrape_configs:
        out.append((f'job "{job.job_name}" relabel_configs', job.relabel_configs))
        out.append((f'job "{job.job_name}" metric_relabel_configs', job.metric_relabel_configs))
    out.append(("alerting.alert_relabel_configs", config.alerting.alert_relabel_configs))
    for index, manager in enumerate(config.alerting.alertmanagers):
        out.append((f"alerting.alertmanagers[{index}].relabel_configs", manager.relabel_configs))
    for index, remote in enumerate(config.remote_write):
        out.append((f"remote_write[{index}].write_relabel_configs", remote.write_relabel_configs))
    return out
