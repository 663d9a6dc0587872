"""Label sets: immutable, sorted by name, hashable, cheap to compare."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping

METRIC_NAME = "__name__"

_LEGACY_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def is_legacy_label_name(name: str) -> bool:
    """True for names that need no quoting in the classic text format."""
    return _LEGACY_NAME.match(name) is not None


class Labels(tuple[tuple[str, str], ...]):
    """A set of (name, value) pairs, sorted by name, each name at most once.

    A tuple subclass so that equality, hashing and ordering stay in C.
    """

    __slots__ = ()

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]]) -> Labels:
        items = sorted(pairs)
        for i in range(1, len(items)):
            if items[i][0] == items[i - 1][0]:
                raise ValueError(f"duplicate label name {items[i][0]!r}")
        return cls(items)

    @classmethod
    def from_dict(cls, mapping: Mapping[str, str]) -> Labels:
        return cls(sorted(mapping.items()))

    def get(self, name: str, default: str = "") -> str:
        for key, value in self:
            if key == name:
                return value
        return default

    def names(self) -> Iterator[str]:
        return (key for key, _ in self)

    def to_dict(self) -> dict[str, str]:
        return dict(self)

    def with_label(self, name: str, value: str) -> Labels:
        return Labels.from_dict({**dict(self), name: value})

    def without(self, *names: str) -> Labels:
        return Labels(pair for pair in self if pair[0] not in names)

    def __repr__(self) -> str:
        return f"Labels({dict(self)!r})"

    def __str__(self) -> str:
        return "{" + ", ".join(f"{k}={json_quote(v)}" for k, v in self) + "}"


def json_quote(value: str) -> str:
    """Quote a label value the way Prometheus prints it (Go's %q)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
