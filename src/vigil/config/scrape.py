"""`scrape_configs`: one job's settings with what it inherits from `global` filled in, its
discovery and relabeling, and the files listed in `scrape_config_files`."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vigil.config._fields import byte_size, choice
from vigil.config._yaml import NOT_A_KEY, ConfigError, Mapping, Node, load_yaml, settings_keys
from vigil.config.discovery import SD_KEYS, Discovery, parse_discovery
from vigil.config.duration import Duration
from vigil.config.http import HTTP_CLIENT_KEYS, HTTPClientConfig, join_dir, parse_http_client
from vigil.config.relabel import RelabelConfig, parse_relabel_configs

if TYPE_CHECKING:
    from vigil.config.prometheus import GlobalConfig

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

_10S = Duration(10000)
_1M = Duration(60000)
_NO_HTTP = HTTPClientConfig()


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


_SCRAPE_KEYS = (*settings_keys(ScrapeConfig), *HTTP_CLIENT_KEYS, *SD_KEYS)
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
    discovery = parse_discovery(fields, base, check_addresses=relabel_node is None)
    interval = fields.duration("scrape_interval", Duration(0)) or glob_cfg.scrape_interval
    timeout = fields.duration("scrape_timeout", Duration(0))
    if timeout > interval:
        raise fields.key("scrape_timeout").error(
            f"scrape_timeout {timeout} is longer than scrape_interval {interval}"
            f' for job "{job_name}"'
        )
    native = fields.optional_boolean("scrape_native_histograms")
    native = glob_cfg.scrape_native_histograms if native is None else native
    protocols = parse_protocols(fields) or glob_cfg.scrape_protocols
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
        body_size_limit=byte_size(fields.get("body_size_limit")) or glob_cfg.body_size_limit,
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
        relabel_configs=parse_relabel_configs(relabel_node, legacy, "target relabeling rule"),
        metric_relabel_configs=parse_relabel_configs(
            fields.get("metric_relabel_configs"), legacy, "metric relabeling rule"
        ),
        file=file,
        line=node.line,
        scrape_timeout_explicit=bool(timeout),
    )


def _name_schemes(fields: Mapping, glob_cfg: GlobalConfig) -> tuple[str, str]:
    """Per-job metric name validation and escaping, inheriting global as Prometheus 3 does."""
    local = choice(fields, "metric_name_validation_scheme", ("utf8", "legacy"), "")
    validation = local or glob_cfg.metric_name_validation_scheme
    escaping = choice(fields, "metric_name_escaping_scheme", ESCAPING_SCHEMES, "")
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


def parse_scrape_configs(
    top: Mapping, global_config: GlobalConfig, files: tuple[str, ...], base: str, file: str
) -> tuple[ScrapeConfig, ...]:
    """`scrape_configs`, then the jobs of every file matching a `scrape_config_files` pattern;
    a job name may be used once across all of them."""
    jobs: dict[str, ScrapeConfig] = {}
    for item in top.sequence("scrape_configs"):
        _add_job(jobs, _scrape_config(item, global_config, base, file), item)
    for pattern in files:
        for path in sorted(glob.glob(pattern)):
            for job, item in _scrape_config_file(path, global_config):
                _add_job(jobs, job, item)
    return tuple(jobs.values())


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


def parse_protocols(fields: Mapping) -> tuple[str, ...] | None:
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
