"""Service discovery as configured: `static_configs`, `file_sd_configs`, `http_sd_configs`, and the
mechanisms Prometheus knows that vigil accepts but does not run. Shared by scrape jobs and
Alertmanager endpoints."""

from __future__ import annotations

import re
from dataclasses import dataclass

from vigil.config._fields import AnyKeys
from vigil.config._yaml import Mapping, Node
from vigil.config.duration import Duration
from vigil.config.http import (
    HTTP_CLIENT_KEYS,
    HTTPClientConfig,
    join_dir,
    parse_http_client,
    parse_url,
)
from vigil.config.targetgroup import TargetGroup, parse_target_group

_1M = Duration(60000)
_5M = Duration(300000)
_NO_HTTP = HTTPClientConfig()

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
SD_KEYS = (
    "static_configs",
    "file_sd_configs",
    "http_sd_configs",
    *(f"{name}_sd_configs" for name in OTHER_DISCOVERY),
)


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


def parse_discovery(fields: Mapping, base: str, check_addresses: bool) -> Discovery:
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
                item.mapping(AnyKeys(), f"{mechanism}_sd_configs")
            other.append(OtherDiscovery(mechanism, item.line))
    return Discovery(tuple(static), tuple(files), tuple(http), tuple(other))


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
