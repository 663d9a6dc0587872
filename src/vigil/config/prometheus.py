"""`prometheus.yml`: the whole schema a single-node Prometheus 3 user writes, as frozen types.

This module holds the document (`Config`), `global`, loading, and the small sections (storage,
tracing, otlp, runtime); scrape jobs, alerting and remote storage each have their own module.
Defaults, inheritance from `global` and validation follow Prometheus 3; relative file paths are
resolved against the config file's directory. Every error names file, line and key path.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass, field

import yaml

from vigil.config._fields import byte_size, choice
from vigil.config._yaml import NOT_A_KEY, ConfigError, Mapping, Node, load_yaml, settings_keys
from vigil.config.alerting import AlertingConfig, parse_alerting
from vigil.config.duration import Duration
from vigil.config.http import TLSConfig, join_dir, parse_headers, parse_tls_config
from vigil.config.relabel import RelabelConfig, is_valid_label_name
from vigil.config.remote import (
    RemoteReadConfig,
    RemoteWriteConfig,
    parse_remote_reads,
    parse_remote_writes,
)
from vigil.config.scrape import (
    ESCAPING_SCHEMES,
    ScrapeConfig,
    parse_protocols,
    parse_scrape_configs,
)
from vigil.config.shown import shown_text
from vigil.model import Labels

_RULE_PATH = re.compile(r"[^*]*(\*[^/]*)?")

_0S = Duration(0)
_10S = Duration(10000)
_1M = Duration(60000)
_NO_LABELS = Labels()
_NO_TLS = TLSConfig()
_NO_ALERTING = AlertingConfig()


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
    alerting: AlertingConfig = _NO_ALERTING
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
    jobs = parse_scrape_configs(top, global_config, scrape_config_files, base, file)
    config = Config(
        file=file,
        global_config=global_config,
        alerting=parse_alerting(top.get("alerting"), base, legacy, top.key("alerting").line),
        rule_files=rule_files,
        scrape_config_files=scrape_config_files,
        scrape_configs=jobs,
        storage=_storage(top.get("storage")),
        tracing=_tracing(top.get("tracing"), base),
        remote_write=parse_remote_writes(top, base, legacy),
        remote_read=parse_remote_reads(top, base),
        otlp=_otlp(top.get("otlp"), legacy),
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


def _file_patterns(top: Mapping, key: str, what: str, base: str) -> tuple[str, ...]:
    out = []
    for item in top.sequence(key):
        pattern = item.string()
        if _RULE_PATH.fullmatch(pattern) is None:
            raise item.error(f'invalid {what} path "{pattern}": "*" only in the last path segment')
        out.append(join_dir(base, pattern))
    return tuple(out)


def _global(node: Node, base: str) -> GlobalConfig:
    fields = node.mapping(settings_keys(GlobalConfig), "global")
    default = GlobalConfig()
    validation = choice(fields, "metric_name_validation_scheme", ("utf8", "legacy"), "utf8")
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
    protocols = parse_protocols(fields)
    escaping = choice(fields, "metric_name_escaping_scheme", ESCAPING_SCHEMES, "")
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
        body_size_limit=byte_size(fields.get("body_size_limit")),
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
            byte_size(retention_fields.get("size")) if retention_fields else 0,
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
        client_type=choice(fields, "client_type", ("grpc", "http"), "grpc"),
        sampling_fraction=fields.number("sampling_fraction"),
        insecure=fields.boolean("insecure", False),
        tls_config=parse_tls_config(fields.get("tls_config"), base),
        headers=parse_headers(fields.get("headers")),
        compression=choice(fields, "compression", ("gzip",), ""),
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


def _otlp(node: Node | None, legacy: bool) -> OTLPConfig:
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
        promote_resource_attributes=_attribute_names(fields, "promote_resource_attributes"),
        ignore_resource_attributes=_attribute_names(fields, "ignore_resource_attributes"),
        translation_strategy=choice(
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
    if legacy and not config.translation_strategy.startswith("UnderscoreEscaping"):
        raise fields.key("translation_strategy").error(
            f"OTLP translation strategy {config.translation_strategy} is not allowed when UTF8 "
            "is disabled (global metric_name_validation_scheme: legacy)"
        )
    return config


def _attribute_names(fields: Mapping, key: str) -> tuple[str, ...]:
    """Resource attribute names, trimmed; an empty or repeated one is an error, as in
    Prometheus 3."""
    node = fields.get(key)
    if node is None:
        return ()
    what = "promoted" if key.startswith("promote") else "ignored"
    names: list[str] = []
    for item in node.sequence():
        name = item.string().strip()
        if not name:
            raise item.error(f"empty {what} OTel resource attribute")
        if name in names:
            raise item.error(f'duplicated {what} OTel resource attribute "{name}"')
        names.append(name)
    return tuple(names)


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
