"""`alerting`: the Alertmanagers alerts are sent to (found like scrape targets) and the
relabeling applied to alerts on their way."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.config._fields import choice
from vigil.config._yaml import Node
from vigil.config.discovery import SD_KEYS, Discovery, parse_discovery
from vigil.config.duration import Duration
from vigil.config.http import HTTP_CLIENT_KEYS, HTTPClientConfig, parse_http_client
from vigil.config.relabel import RelabelConfig, parse_relabel_configs
from vigil.config.sigv4 import SigV4Config, parse_sigv4

_10S = Duration(10000)
_NO_HTTP = HTTPClientConfig()
_NO_DISCOVERY = Discovery()


@dataclass(frozen=True, slots=True)
class AlertmanagerConfig:
    http_client: HTTPClientConfig = _NO_HTTP
    sigv4: SigV4Config | None = None
    scheme: str = "http"
    path_prefix: str = ""
    timeout: Duration = _10S
    api_version: str = "v2"
    discovery: Discovery = _NO_DISCOVERY
    relabel_configs: tuple[RelabelConfig, ...] = ()
    alert_relabel_configs: tuple[RelabelConfig, ...] = ()
    line: int = 0


@dataclass(frozen=True, slots=True)
class AlertingConfig:
    alert_relabel_configs: tuple[RelabelConfig, ...] = ()
    alertmanagers: tuple[AlertmanagerConfig, ...] = ()
    present: bool = field(default=False, compare=False)
    line: int = 0


_ALERTMANAGER_KEYS = (
    "scheme",
    "path_prefix",
    "timeout",
    "api_version",
    "sigv4",
    "relabel_configs",
    "alert_relabel_configs",
    *HTTP_CLIENT_KEYS,
    *SD_KEYS,
)


def parse_alerting(node: Node | None, base: str, legacy: bool, line: int) -> AlertingConfig:
    if node is None:
        return AlertingConfig()
    fields = node.mapping(("alert_relabel_configs", "alertmanagers"), "alerting")
    managers = []
    for item in fields.sequence("alertmanagers"):
        if item.is_null:
            raise item.error("empty or null alertmanager config")
        managers.append(_alertmanager(item, base, legacy))
    return AlertingConfig(
        parse_relabel_configs(fields.get("alert_relabel_configs"), legacy, "alert relabeling rule"),
        tuple(managers),
        present=True,
        line=line,
    )


def _alertmanager(node: Node, base: str, legacy: bool) -> AlertmanagerConfig:
    fields = node.mapping(_ALERTMANAGER_KEYS, "an alertmanager config")
    http_client = parse_http_client(fields, base)
    sigv4 = parse_sigv4(fields.get("sigv4"))
    if sigv4 is not None and (
        http_client.basic_auth or http_client.authorization or http_client.oauth2
    ):
        raise fields.key("sigv4").error(
            "at most one of basic_auth, authorization, oauth2 and sigv4"
        )
    api_version = choice(fields, "api_version", ("v2",), "v2")
    relabel_node = fields.get("relabel_configs")
    return AlertmanagerConfig(
        http_client=http_client,
        sigv4=sigv4,
        scheme=fields.string("scheme", "http"),
        path_prefix=fields.string("path_prefix"),
        timeout=fields.duration("timeout", Duration(10_000)),
        api_version=api_version,
        discovery=parse_discovery(fields, base, check_addresses=relabel_node is None),
        relabel_configs=parse_relabel_configs(
            relabel_node, legacy, "Alertmanager target relabeling rule"
        ),
        alert_relabel_configs=parse_relabel_configs(
            fields.get("alert_relabel_configs"), legacy, "Alertmanager alert relabeling rule"
        ),
        line=node.line,
    )
