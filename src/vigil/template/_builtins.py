"""Go text/template's predefined functions, with Go's results and error messages."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from vigil.template._fmt import format_value, sprint, sprintf, sprintln
from vigil.template._values import MISSING, go_type, is_true


class FuncError(Exception):
    """An error a template function returns; execution reports it as `error calling NAME: ...`."""


_BAD_COMPARISON = "incompatible types for comparison"
_BAD_COMPARISON_TYPE = "invalid type for comparison"


def _kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "string"
    return None


def _nil(v: Any) -> bool:
    return v is None or v is MISSING


def eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if not _nil(arg1) and not _nil(arg):
                raise FuncError(_BAD_COMPARISON)
            truth = False
        elif k1 is not None:
            truth = arg1 == arg
        elif _nil(arg1) or _nil(arg):
            truth = _nil(arg1) and _nil(arg)
        elif type(arg1) is not type(arg):
            raise FuncError(
                f"non-comparable types {format_value(arg1)}: {go_type(arg1)}, "
                f"{go_type(arg)}: {format_value(arg)}"
            )
        elif isinstance(arg1, Mapping | list):
            raise FuncError(f"non-comparable type {format_value(arg1)}: {go_type(arg1)}")
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def ne(arg1: Any, arg2: Any) -> bool:
    return not eq(arg1, arg2)


def lt(arg1: Any, arg2: Any) -> bool:
    k1, k2 = _kind(arg1), _kind(arg2)
    if k1 is None or k2 is None:
        raise FuncError(_BAD_COMPARISON_TYPE)
    if k1 != k2:
        raise FuncError(_BAD_COMPARISON)
    if k1 == "bool":
        raise FuncError(_BAD_COMPARISON_TYPE)
    if k1 == "string":
        return bool(arg1.encode() < arg2.encode())
    return bool(arg1 < arg2)


def le(arg1: Any, arg2: Any) -> bool:
    return lt(arg1, arg2) or eq(arg1, arg2)


def gt(arg1: Any, arg2: Any) -> bool:
    return not le(arg1, arg2)


def ge(arg1: Any, arg2: Any) -> bool:
    return not lt(arg1, arg2)


def not_(arg: Any) -> bool:
    return not is_true(arg)


def length(item: Any) -> int:
    if isinstance(item, str):
        return len(item.encode())
    if isinstance(item, Mapping | list | tuple):
        return len(item)
    if _nil(item):
        raise FuncError("len of nil pointer")
    raise FuncError(f"len of type {go_type(item)}")


def _index_arg(index: Any, cap: int) -> int:
    if _nil(index):
        raise FuncError("cannot index slice/array with nil")
    if not isinstance(index, int) or isinstance(index, bool):
        raise FuncError(f"cannot index slice/array with type {go_type(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def index(item: Any, *indexes: Any) -> Any:
    if _nil(item):
        raise FuncError("index of untyped nil")
    for idx in indexes:
        if isinstance(item, str):
            data = item.encode()
            i = _index_arg(idx, len(data))
            if i == len(data):
                raise FuncError("reflect: string index out of range")
            item = data[i]
        elif isinstance(item, list | tuple):
            i = _index_arg(idx, len(item))
            if i == len(item):
                raise FuncError("reflect: slice index out of range")
            item = item[i]
        elif isinstance(item, Mapping):
            if not isinstance(idx, str):
                raise FuncError(f"value has type {go_type(idx)}; should be string")
            item = item[idx] if idx in item else ("" if go_type(item).endswith("string") else None)
        else:
            if _nil(item):
                raise FuncError("index of nil pointer")
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def slice_(item: Any, *indexes: Any) -> Any:
    if _nil(item):
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq: Any = item.encode()
    elif isinstance(item, list | tuple):
        seq = list(item)
    else:
        raise FuncError(f"can't slice item of type {go_type(item)}")
    idx = [0, len(seq), len(seq)]
    for i, x in enumerate(indexes):
        idx[i] = _index_arg(x, len(seq))
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    part = seq[idx[0] : idx[1]]
    return part.decode(errors="replace") if isinstance(part, bytes) else part


def _eval_args(args: tuple[Any, ...]) -> str:
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(args)


def html_escape(*args: Any) -> str:
    s = _eval_args(args)
    return (
        s.replace("&", "&amp;")
        .replace("'", "&#39;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#34;")
        .replace("\x00", "\ufffd")
    )


_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def js_escape(*args: Any) -> str:
    out: list[str] = []
    for c in _eval_args(args):
        if c in _JS:
            out.append(_JS[c])
        elif c < " " or (ord(c) >= 0x80 and not c.isprintable()):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def urlquery(*args: Any) -> str:
    return urllib.parse.quote_plus(_eval_args(args), safe="")


def print_(*args: Any) -> str:
    return sprint(args)


def printf(format: str, *args: Any) -> str:
    return sprintf(format, args)


def println(*args: Any) -> str:
    return sprintln(args)


def call(fn: Any, *args: Any) -> Any:
    if _nil(fn):
        raise FuncError("call of nil")
    if not callable(fn):
        raise FuncError(f"non-function of type {go_type(fn)}")
    return fn(*args)


def and_(arg0: Any, *args: Any) -> Any:
    """Go's and: the first false argument, else the last. Actions short-circuit it lazily instead."""
    for a in (arg0, *args):
        if not is_true(a):
            return a
    return args[-1] if args else arg0


def or_(arg0: Any, *args: Any) -> Any:
    """Go's or: the first true argument, else the last (lazily evaluated inside actions)."""
    for a in (arg0, *args):
        if is_true(a):
            return a
    return args[-1] if args else arg0


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": and_,
    "or": or_,
    "not": not_,
    "eq": eq,
    "ne": ne,
    "lt": lt,
    "le": le,
    "gt": gt,
    "ge": ge,
    "len": length,
    "index": index,
    "slice": slice_,
    "print": print_,
    "printf": printf,
    "println": println,
    "html": html_escape,
    "js": js_escape,
    "urlquery": urlquery,
    "call": call,
}
