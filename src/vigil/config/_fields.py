"""Value kinds several config sections share: a choice among names, a byte size, an open block."""

from __future__ import annotations

import re
from collections.abc import Sequence

from vigil.config._yaml import Mapping, Node

_BYTES = re.compile(r"(?:([0-9]+(?:\.[0-9]*)?)([KMGTPE]i?B|B))")
_BYTE_UNITS = {"B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}


def choice(fields: Mapping, key: str, allowed: Sequence[str], default: str) -> str:
    node = fields.get(key)
    if node is None:
        return default
    value = node.string()
    if value == "" and "" not in allowed:
        return default
    if value not in allowed:
        raise node.error(f'"{value}" is not one of {", ".join(allowed)}')
    return value


def byte_size(node: Node | None) -> int:
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


class AnyKeys(tuple[str, ...]):
    """A key set that admits every key: for blocks vigil keeps but does not read."""

    def __contains__(self, key: object) -> bool:
        return True
