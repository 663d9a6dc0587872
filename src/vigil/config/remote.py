"""`remote_write` and `remote_read`: the endpoints samples are sent to and read from, with the
write queue's and metadata's settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from vigil.config._fields import AnyKeys, choice
from vigil.config._yaml import Mapping, Node
from vigil.config.duration import Duration
from vigil.config.http import (
    HTTP_CLIENT_KEYS,
    HTTPClientConfig,
    parse_headers,
    parse_http_client,
    parse_url,
)
from vigil.config.relabel import RelabelConfig, parse_relabel_configs
from vigil.config.sigv4 import SigV4Config, parse_sigv4
from vigil.model import Labels

_0S = Duration(0)
_30MS = Duration(30)
_5S = Duration(5000)
_30S = Duration(30000)
_1M = Duration(60000)
_NO_LABELS = Labels()
_NO_HTTP = HTTPClientConfig()
_NO_HTTP2 = HTTPClientConfig(enable_http2=False)


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


def parse_remote_writes(top: Mapping, base: str, legacy: bool) -> tuple[RemoteWriteConfig, ...]:
    items = _items(top, "remote_write", "remote write config")
    configs = [_remote_write(item, base, legacy) for item in items]
    return _named_unique(configs, items, "remote write")


def parse_remote_reads(top: Mapping, base: str) -> tuple[RemoteReadConfig, ...]:
    items = _items(top, "remote_read", "remote read config")
    return _named_unique([_remote_read(item, base) for item in items], items, "remote read")


def _items(top: Mapping, key: str, what: str) -> list[Node]:
    items = top.sequence(key)
    for item in items:
        if item.is_null:
            raise item.error(f"empty or null {what}")
    return items


class _Named(Protocol):
    @property
    def name(self) -> str: ...


_NamedT = TypeVar("_NamedT", bound=_Named)


def _named_unique(configs: list[_NamedT], items: list[Node], what: str) -> tuple[_NamedT, ...]:
    seen: set[str] = set()
    for config, item in zip(configs, items, strict=True):
        if config.name and config.name in seen:
            raise item.error(f'duplicate {what} name "{config.name}"')
        seen.add(config.name)
    return tuple(configs)


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
    sigv4 = parse_sigv4(fields.get("sigv4"))
    other_auth = ""
    for key in ("azuread", "google_iam"):
        other = fields.get(key)
        if other is not None:
            oauth = other.mapping(AnyKeys(), key).get("oauth")
            if oauth is not None:
                oauth.mapping(AnyKeys(), "oauth").secret("client_secret")
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
        headers=parse_headers(fields.get("headers")),
        write_relabel_configs=parse_relabel_configs(
            fields.get("write_relabel_configs"), legacy, "relabeling rule in remote write config"
        ),
        name=fields.string("name"),
        send_exemplars=fields.boolean("send_exemplars", False),
        send_native_histograms=fields.boolean("send_native_histograms", False),
        round_robin_dns=fields.boolean("round_robin_dns", False),
        protobuf_message=choice(
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
        headers=parse_headers(fields.get("headers")),
        read_recent=fields.boolean("read_recent", False),
        name=fields.string("name"),
        http_client=parse_http_client(fields, base),
        required_matchers=Labels.from_pairs(fields.string_map("required_matchers")),
        filter_external_labels=fields.boolean("filter_external_labels", True),
        line=node.line,
    )
