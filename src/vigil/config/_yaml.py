"""YAML nodes that remember their file, line and key path, so that every config error can say
`prometheus.yml:14: scrape_configs[0].scrape_interval: ...` and what would be valid there."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterable, Iterator
from types import MappingProxyType

import yaml

from vigil.config.duration import Duration, DurationError

_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_MERGE = "tag:yaml.org,2002:merge"
SECRET_TAG = "tag:vigil,2026:secret"
"""The tag of a scalar the parser read as a secret."""
URL_TAG = "tag:vigil,2026:url"
"""The tag of a scalar the parser read as a URL."""

_CONSTRUCTOR = yaml.SafeLoader("")
_LOADER: type[yaml.SafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)  # libyaml: ~5x faster


NOT_A_KEY = MappingProxyType({"yaml_key": False})
"""Field metadata of a settings dataclass field that is no YAML key of its own."""


def settings_keys(cls: type) -> tuple[str, ...]:
    """The YAML keys of a settings dataclass, each written once as a field: the field's name
    with a trailing `_` dropped (`from_` is `from`); `line` and NOT_A_KEY fields are not keys."""
    return tuple(
        f.name.removesuffix("_")
        for f in dataclasses.fields(cls)
        if f.name != "line" and f.metadata.get("yaml_key", True)
    )


class ConfigError(ValueError):
    """A config file that cannot be used; carries where (file, line, key path) and why."""

    def __init__(self, file: str, line: int, path: str, message: str) -> None:
        super().__init__(file, line, path, message)
        self.file = file
        self.line = line
        self.path = path
        self.message = message

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


def load_yaml(text: str, file: str) -> Node | None:
    """The first YAML document of `text` as a Node (None when the document is empty).

    Like Go's yaml.v2 (which Prometheus uses): duplicate keys are errors, merge keys (`<<`) merge.
    """
    try:
        documents = yaml.compose_all(text, Loader=_LOADER)
        root = next(documents, None)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = err.problem or err.context or "malformed YAML"
        raise ConfigError(file, line, "", f"invalid YAML: {problem}") from None
    except yaml.YAMLError as err:
        raise ConfigError(file, 0, "", f"invalid YAML: {err}") from None
    if root is None:
        return None
    _check_and_merge(root, file, set())
    return Node(root, file, "")


def _check_and_merge(node: yaml.Node, file: str, seen: set[int]) -> None:
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key, value in node.value:
            _check_and_merge(value, file, seen)
            if key.tag == _MERGE:
                continue
            name = str(key.value)
            if name in first_line:
                raise ConfigError(
                    file,
                    key.start_mark.line + 1,
                    "",
                    f'mapping key "{name}" already defined at line {first_line[name]}',
                )
            first_line[name] = key.start_mark.line + 1
        if any(key.tag == _MERGE for key, _ in node.value):
            try:
                _CONSTRUCTOR.flatten_mapping(node)
            except yaml.MarkedYAMLError as err:
                line = err.problem_mark.line + 1 if err.problem_mark else node.start_mark.line + 1
                raise ConfigError(file, line, "", f"invalid YAML merge: {err.problem}") from None
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_and_merge(item, file, seen)


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag == _NULL:
        return "null"
    return f'"{node.value}"'


class Node:
    """One YAML value plus where it is: the file, its line and its key path from the root."""

    __slots__ = ("file", "path", "raw")

    def __init__(self, raw: yaml.Node, file: str, path: str) -> None:
        self.raw = raw
        self.file = file
        self.path = path

    @property
    def line(self) -> int:
        return int(self.raw.start_mark.line) + 1

    @property
    def is_null(self) -> bool:
        return isinstance(self.raw, yaml.ScalarNode) and self.raw.tag == _NULL

    def error(self, message: str) -> ConfigError:
        return ConfigError(self.file, self.line, self.path, message)

    def _child(self, raw: yaml.Node, suffix: str) -> Node:
        return Node(raw, self.file, f"{self.path}{suffix}" if self.path else suffix.lstrip("."))

    def mapping(self, keys: Iterable[str], what: str = "") -> Mapping:
        """This node as a mapping whose keys must all be in `keys` (an unknown key is an error)."""
        if not isinstance(self.raw, yaml.MappingNode):
            noun = f"{what} (a mapping)" if what else "a mapping"
            raise self.error(f"expected {noun}, got {_kind(self.raw)}")
        allowed = keys if isinstance(keys, tuple) else tuple(keys)
        entries: dict[str, tuple[Node, Node]] = {}
        for key_raw, value_raw in self.raw.value:
            name = str(key_raw.value)
            key = self._child(key_raw, f".{name}")
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                where = f" in {what}" if what else ""
                raise key.error(f"unknown key{where}{hint}")
            entries[name] = (key, self._child(value_raw, f".{name}"))
        return Mapping(self, entries)

    def items(self) -> Iterator[tuple[Node, Node]]:
        """(key, value) pairs of a mapping of free-form keys (labels, headers, params)."""
        if not isinstance(self.raw, yaml.MappingNode):
            raise self.error(f"expected a mapping, got {_kind(self.raw)}")
        for key_raw, value_raw in self.raw.value:
            name = str(key_raw.value)
            yield self._child(key_raw, f".{name}"), self._child(value_raw, f".{name}")

    def sequence(self) -> list[Node]:
        if not isinstance(self.raw, yaml.SequenceNode):
            raise self.error(f"expected a list, got {_kind(self.raw)}")
        return [self._child(item, f"[{i}]") for i, item in enumerate(self.raw.value)]

    def string(self) -> str:
        """Any scalar as its text, as yaml.v2 decodes into a Go string (null is "")."""
        if not isinstance(self.raw, yaml.ScalarNode):
            raise self.error(f"expected a string, got {_kind(self.raw)}")
        return "" if self.raw.tag == _NULL else str(self.raw.value)

    def boolean(self) -> bool:
        if not isinstance(self.raw, yaml.ScalarNode) or self.raw.tag != _BOOL:
            raise self.error(f"expected true or false, got {_kind(self.raw)}")
        return bool(_CONSTRUCTOR.construct_yaml_bool(self.raw))

    def integer(self) -> int:
        if not isinstance(self.raw, yaml.ScalarNode) or self.raw.tag != _INT:
            raise self.error(f"expected an integer, got {_kind(self.raw)}")
        return int(_CONSTRUCTOR.construct_yaml_int(self.raw))

    def uint(self) -> int:
        value = self.integer() if self._is_int() else None
        if value is None or value < 0:
            raise self.error(f"expected a non-negative integer, got {_kind(self.raw)}")
        return value

    def number(self) -> float:
        if isinstance(self.raw, yaml.ScalarNode) and self.raw.tag == _INT:
            return float(self.integer())
        if not isinstance(self.raw, yaml.ScalarNode) or self.raw.tag != _FLOAT:
            raise self.error(f"expected a number, got {_kind(self.raw)}")
        return float(_CONSTRUCTOR.construct_yaml_float(self.raw))

    def duration(self) -> Duration:
        text = self.string()
        try:
            return Duration.parse(text)
        except DurationError as err:
            raise self.error(str(err)) from None

    def strings(self) -> tuple[str, ...]:
        return tuple(item.string() for item in self.sequence())

    def secret(self) -> str:
        """The text of a secret; the document as shown (`shown_text`) has `<secret>` here."""
        text = self.string()
        if text and isinstance(self.raw, yaml.ScalarNode):
            self.raw.tag = SECRET_TAG
        return text

    def secrets(self) -> tuple[str, ...]:
        return tuple(item.secret() for item in self.sequence())

    def url(self) -> str:
        """The text of a URL; the document as shown has a password in it as `xxxxx`."""
        text = self.string()
        if text and isinstance(self.raw, yaml.ScalarNode):
            self.raw.tag = URL_TAG
        return text

    def _is_int(self) -> bool:
        return isinstance(self.raw, yaml.ScalarNode) and self.raw.tag == _INT


class Mapping:
    """A checked mapping: typed getters that return the default when a key is absent or null."""

    __slots__ = ("entries", "node")

    def __init__(self, node: Node, entries: dict[str, tuple[Node, Node]]) -> None:
        self.node = node
        self.entries = entries

    def get(self, key: str) -> Node | None:
        entry = self.entries.get(key)
        if entry is None or entry[1].is_null:
            return None
        return entry[1]

    def key(self, key: str) -> Node:
        """The key's own node when present (for errors about the key), else the mapping's."""
        entry = self.entries.get(key)
        return entry[0] if entry is not None else self.node

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def string(self, key: str, default: str = "") -> str:
        node = self.get(key)
        return default if node is None else node.string()

    def boolean(self, key: str, default: bool) -> bool:
        node = self.get(key)
        return default if node is None else node.boolean()

    def optional_boolean(self, key: str) -> bool | None:
        node = self.get(key)
        return None if node is None else node.boolean()

    def uint(self, key: str, default: int = 0) -> int:
        node = self.get(key)
        return default if node is None else node.uint()

    def integer(self, key: str, default: int = 0) -> int:
        node = self.get(key)
        return default if node is None else node.integer()

    def number(self, key: str, default: float = 0.0) -> float:
        node = self.get(key)
        return default if node is None else node.number()

    def duration(self, key: str, default: Duration) -> Duration:
        node = self.get(key)
        return default if node is None else node.duration()

    def strings(self, key: str) -> tuple[str, ...]:
        node = self.get(key)
        return () if node is None else node.strings()

    def secret(self, key: str) -> str:
        node = self.get(key)
        return "" if node is None else node.secret()

    def secrets(self, key: str) -> tuple[str, ...]:
        node = self.get(key)
        return () if node is None else node.secrets()

    def url(self, key: str) -> str:
        node = self.get(key)
        return "" if node is None else node.url()

    def sequence(self, key: str) -> list[Node]:
        node = self.get(key)
        return [] if node is None else node.sequence()

    def string_map(self, key: str) -> tuple[tuple[str, str], ...]:
        node = self.get(key)
        if node is None:
            return ()
        return tuple((k.string(), v.string()) for k, v in node.items())
