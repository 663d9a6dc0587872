"""How Python values stand for Go values in templates: types, names, truth and field lookup."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any, Final

from vigil.template._gotime import GoTime


class _Missing:
    """Go's invalid reflect.Value: a missing map key or absent result, printed as `<no value>`."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


class StringMap(dict[str, str]):
    """A Go map[string]string (label sets): its zero value is "" rather than nil."""


def go_type(v: Any) -> str:
    """Go's name for the type of a value, as error messages print it."""
    if v is None or v is MISSING:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, StringMap):
        return "map[string]string"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    if isinstance(v, GoTime):
        return "time.Time"
    return str(getattr(type(v), "__go_type__", type(v).__name__))


def is_true(v: Any) -> bool:
    """Go's template truth: zero values and empty collections are false."""
    if v is None or v is MISSING:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        return v != 0
    if isinstance(v, str | Mapping | list | tuple):
        return len(v) > 0
    return True


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def struct_field(obj: Any, name: str) -> tuple[bool, Any]:
    """Looks up an exported Go field name on an object: exact attribute, then its snake_case form."""
    for attr in (name, _CAMEL.sub("_", name).lower()):
        if attr.startswith("_"):
            continue
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            if attr in {f.name for f in dataclasses.fields(obj)}:
                return True, getattr(obj, attr)
            continue
        try:
            value = getattr(obj, attr)
        except AttributeError:
            continue
        if not callable(value):
            return True, value
    return False, None


def map_zero(m: Mapping[str, Any]) -> Any:
    return "" if isinstance(m, StringMap) else None
