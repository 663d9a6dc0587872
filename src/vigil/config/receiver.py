"""Receiver kinds (`<kind>_configs` entries of alertmanager.yml) read from their dataclass: each
field is one YAML key (a trailing `_` dropped: `from_` is `from`), its type says how the value
is read and checked, its default is Alertmanager's. A kind adds what Alertmanager's
UnmarshalYAML rejects (`check`) and what it takes from `global:` (`inherit`); both work on an
`Entry`, the values as written, so "set" and "left at the default" stay apart."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Annotated, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

from vigil.config._yaml import ConfigError, Mapping, Node, settings_keys
from vigil.config.duration import Duration
from vigil.config.http import (
    HTTP_CLIENT_KEYS,
    HTTPClientConfig,
    Secret,
    TLSConfig,
    parse_http_client,
    parse_tls_config,
)

if TYPE_CHECKING:
    from vigil.config.alertmanager import GlobalConfig

URL = Annotated[str, "url"]
"""An http or https URL with a host."""
SecretURL = Annotated[Secret, "secret_url"]
"""A URL that carries a token (Slack and Mattermost webhooks); `<secret>` stands for a hidden one."""
HostPort = Annotated[str, "hostport"]
"""`host:port`, as Go's net.SplitHostPort wants it."""
Raw = Annotated[tuple[object, ...], "raw"]
"""Free-form YAML vigil validates but does not read, kept as nested tuples."""
Pairs = tuple[tuple[str, str], ...]
"""A map of strings in the order written."""

NO_SECRET = Secret("")
NO_DURATION = Duration(0)
NO_HTTP = HTTPClientConfig()
NO_TLS = TLSConfig()


class ReceiverKind(Protocol):
    """What the loader needs of a kind: its name, its checks and its inheritance."""

    kind: ClassVar[str]

    @property
    def line(self) -> int: ...

    @property
    def send_resolved(self) -> bool: ...

    @staticmethod
    def check(entry: Entry) -> None: ...

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None: ...


class KindDefaults:
    """No checks of its own, and `http_config` from `global:`, as most kinds have."""

    __slots__ = ()

    @staticmethod
    def check(entry: Entry) -> None:
        return None

    @staticmethod
    def inherit(entry: Entry, glob: GlobalConfig) -> None:
        entry.inherit("http_config", glob.http_config)


# --------------------------------------------------------------------------- one entry


class Entry:
    """One entry while it is read: the values the user set, by YAML key, and where they are."""

    __slots__ = ("fields", "node", "values")

    def __init__(self, node: Node, fields: Mapping, values: dict[str, object]) -> None:
        self.node = node
        self.fields = fields
        self.values = values

    def get(self, key: str) -> object | None:
        return self.values.get(key)

    def text(self, key: str) -> str:
        value = self.values.get(key)
        return value if isinstance(value, str) else ""

    def pairs(self, key: str) -> Iterator[tuple[str, str]]:
        value = self.values.get(key)
        if isinstance(value, tuple):
            for item in value:
                if isinstance(item, tuple) and len(item) == 2:
                    yield str(item[0]), str(item[1])

    def error(self, message: str) -> ConfigError:
        return self.node.error(message)

    def key_error(self, key: str, message: str) -> ConfigError:
        return self.fields.key(key).error(message)

    def exclusive(self, inline: str, path: str) -> None:
        if self.get(inline) and self.get(path):
            raise self.key_error(path, f"at most one of {inline} & {path} must be configured")

    def one_of(self, inline: str, path: str) -> None:
        if not self.get(inline) and not self.get(path):
            raise self.error(f"one of {inline} or {path} must be configured")
        self.exclusive(inline, path)

    def inherit(self, key: str, default: object) -> object:
        """`default` when the key is unset or empty; the value the key ends up with."""
        if not self.values.get(key) and default:
            self.values[key] = default
        return self.values.get(key, "")

    def inherit_pair(self, inline: str, path: str, glob_inline: object, glob_path: str) -> bool:
        """An inline/file pair taken from `global:` when neither is set; whether one is."""
        if not self.values.get(inline) and not self.values.get(path):
            self.values[inline], self.values[path] = glob_inline, glob_path
        return bool(self.values.get(inline) or self.values.get(path))

    def set(self, key: str, value: object) -> None:
        self.values[key] = value

    def setdefault(self, key: str, value: object) -> None:
        self.values.setdefault(key, value)


# --------------------------------------------------------------------------- reading fields

Reader = Callable[[Node, str], object]
T = TypeVar("T")


@dataclasses.dataclass(frozen=True, slots=True)
class _Key:
    name: str
    key: str
    read: Reader


@functools.cache
def _keys(cls: type) -> tuple[_Key, ...]:
    hints = typing.get_type_hints(cls, include_extras=True)
    keys = settings_keys(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name.removesuffix("_") in keys]
    return tuple(
        _Key(name, key, _reader(hints[name])) for name, key in zip(names, keys, strict=True)
    )


def yaml_keys(cls: type) -> tuple[str, ...]:
    """The YAML keys of a settings dataclass, in field order."""
    return tuple(k.key for k in _keys(cls))


def read_values(cls: type, fields: Mapping, base: str) -> dict[str, object]:
    """The keys set in `fields`, read with their field's type, by YAML key."""
    values: dict[str, object] = {}
    for key in _keys(cls):
        node = fields.get(key.key)
        if node is not None:
            values[key.key] = key.read(node, base)
    return values


def build(cls: type[T], values: dict[str, object], **extra: object) -> T:
    """The dataclass from values by YAML key; unset keys keep their defaults."""
    given = {k.name: values[k.key] for k in _keys(typing.cast(type, cls)) if k.key in values}
    return cls(**given, **extra)


def read_entry(cls: type, node: Node, what: str, base: str) -> Entry:
    fields = node.mapping(yaml_keys(cls), what)
    return Entry(node, fields, read_values(cls, fields, base))


def _reader(hint: object) -> Reader:
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _MARKED[typing.get_args(hint)[1]]
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _reader(inner)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if item is str:
            return lambda node, _: node.strings()
        if typing.get_origin(item) is tuple:
            return lambda node, _: tuple((k.string(), v.string()) for k, v in node.items())
        nested = typing.cast(type, item)
        return lambda node, base: tuple(_nested(nested, i, base) for i in node.sequence())
    if hint in _PLAIN:
        return _PLAIN[hint]
    nested_one = typing.cast(type, hint)
    return lambda node, base: _nested(nested_one, node, base)


def _nested(cls: type, node: Node, base: str) -> object:
    what: str = getattr(cls, "what", cls.__name__)
    fields = node.mapping(yaml_keys(cls), what)
    return build(cls, read_values(cls, fields, base))


def url_value(node: Node, secret: bool = False) -> str:
    """Alertmanager's URL type: http or https with a host (`<secret>` stands for a hidden one)."""
    text = node.secret() if secret else node.string()
    if secret and text == "<secret>":
        return text
    try:
        parts = urlsplit(text)
    except ValueError as err:
        raise node.error(f'parse "{"<secret>" if secret else text}": {err}') from None
    if parts.scheme not in ("http", "https"):
        raise node.error(f'unsupported scheme "{parts.scheme}" for URL')
    if not parts.netloc:
        raise node.error("host is missing in URL")
    return text


def _host_port(node: Node) -> str:
    text = node.string()
    if not text:
        return ""
    host, sep, port = text.rpartition(":")
    if not sep or (":" in host and not (host.startswith("[") and host.endswith("]"))):
        problem = "missing port in address" if not sep else "too many colons in address"
        raise node.error(f"address {text}: {problem}")
    if not port:
        raise node.error(f'address "{text}": port cannot be empty')
    return text


def _raw(node: Node) -> object:
    if node.raw.tag.endswith(":map"):
        return tuple((k.string(), _raw(v)) for k, v in node.items())
    if node.raw.tag.endswith(":seq"):
        return tuple(_raw(item) for item in node.sequence())
    return node.string()


_MARKED: dict[str, Reader] = {
    "url": lambda node, _: url_value(node),
    "secret_url": lambda node, _: Secret(url_value(node, secret=True)),
    "hostport": lambda node, _: _host_port(node),
    "raw": lambda node, _: (_raw(node),),
}
_PLAIN: dict[object, Reader] = {
    str: lambda node, _: node.string(),
    Secret: lambda node, _: Secret(node.secret()),
    bool: lambda node, _: node.boolean(),
    int: lambda node, _: node.integer(),
    float: lambda node, _: node.number(),
    Duration: lambda node, _: node.duration(),
    TLSConfig: parse_tls_config,
    HTTPClientConfig: lambda node, base: parse_http_client(
        node.mapping(HTTP_CLIENT_KEYS, "http_config"), base
    ),
}
