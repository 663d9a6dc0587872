"""Go-typed calling of Python functions from templates: arity and argument types checked as Go's reflect call is."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vigil.template._values import go_type

_SCALARS: dict[type, str] = {str: "string", int: "int", float: "float64", bool: "bool"}


@dataclass(frozen=True, slots=True)
class ParamType:
    """A parameter's Go type: None for interface{}, else a Python class and its Go name."""

    cls: type | None = None
    go_name: str = "interface {}"
    nullable: bool = True

    def accepts(self, value: Any) -> bool:
        if self.cls is None:
            return True
        if self.cls is float:
            return isinstance(value, float)
        if self.cls is int:
            return isinstance(value, int) and not isinstance(value, bool)
        return isinstance(value, self.cls)


ANY = ParamType()


@dataclass(frozen=True, slots=True)
class Signature:
    fixed: tuple[ParamType, ...]
    variadic: ParamType | None


def _param_type(hint: Any) -> ParamType:
    if hint is None or hint is Any or hint is object or hint is inspect.Parameter.empty:
        return ANY
    nullable = False
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        nullable = len(members) != len(typing.get_args(hint))
        if len(members) != 1:
            return ANY
        hint = members[0]
        origin = typing.get_origin(hint)
    if origin is not None:
        cls = origin if isinstance(origin, type) else None
        if cls is None or cls in (list, tuple, dict):
            return ANY
        hint = cls
    if not isinstance(hint, type):
        return ANY
    if hint in _SCALARS:
        return ParamType(hint, _SCALARS[hint], nullable)
    name = str(getattr(hint, "__go_type__", hint.__name__))
    return ParamType(hint, ("*" + name) if nullable else name, True)


_BY_CODE: dict[types.CodeType, Signature] = {}


def signature_of(fn: Callable[..., Any]) -> Signature:
    """The Go view of a Python function's parameters; unknown hints are interface{}.

    Plain functions are cached by code object, so per-call closures share one entry.
    """
    code = getattr(fn, "__code__", None)
    if isinstance(code, types.CodeType) and not isinstance(fn, types.MethodType):
        cached = _BY_CODE.get(code)
        if cached is None:
            cached = _BY_CODE[code] = _signature(fn)
        return cached
    return _signature(fn)


def _signature(fn: Callable[..., Any]) -> Signature:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        result = Signature((), ANY)
    else:
        try:
            hints = typing.get_type_hints(fn)
        except (NameError, TypeError, AttributeError):
            hints = {}
        fixed: list[ParamType] = []
        variadic: ParamType | None = None
        for p in sig.parameters.values():
            if p.kind is inspect.Parameter.VAR_POSITIONAL:
                variadic = _param_type(hints.get(p.name))
            elif (
                p.kind
                in (
                    inspect.Parameter.POSITIONAL_ONLY,
                    inspect.Parameter.POSITIONAL_OR_KEYWORD,
                )
                and p.default is inspect.Parameter.empty
            ):
                fixed.append(_param_type(hints.get(p.name)))
        result = Signature(tuple(fixed), variadic)
    return result


def type_error(expected: ParamType, value: Any) -> str:
    return f"wrong type for value; expected {expected.go_name}; got {go_type(value)}"
