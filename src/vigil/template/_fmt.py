"""Go's fmt package as templates use it: %v printing of values, Sprint, Sprintln and Sprintf."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from vigil.model.gofloat import format_float
from vigil.template._gotime import GoTime
from vigil.template._values import MISSING, go_type

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def go_quote(s: str, quote: str = '"') -> str:
    """strconv.Quote: a double-quoted Go string literal with Go's escapes."""
    out = [quote]
    for c in s:
        if c == quote or c == "\\":
            out.append("\\" + c)
        elif c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\x{ord(c):02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append(quote)
    return "".join(out)


def format_value(v: Any, verb: str = "v") -> str:
    """fmt's %v (or %s/%d/%q applied element-wise) of a template value."""
    if v is None or v is MISSING:
        return "<nil>" if verb == "v" else f"%!{verb}(<nil>)"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, str):
        return go_quote(v) if verb == "q" else v
    if isinstance(v, Mapping):
        items = " ".join(
            f"{format_value(k, verb)}:{format_value(v[k], verb)}" for k in sorted(v, key=_sort_key)
        )
        return f"map[{items}]"
    if isinstance(v, list | tuple):
        return "[" + " ".join(format_value(e, verb) for e in v) + "]"
    if isinstance(v, GoTime):
        return str(v)
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        inner = " ".join(format_value(getattr(v, f.name), verb) for f in dataclasses.fields(v))
        return "{" + inner + "}"
    return str(v)


def _sort_key(k: Any) -> tuple[int, Any]:
    """Go's fmtsort order: numbers by value, strings lexically (by UTF-8 bytes)."""
    if isinstance(k, str):
        return (1, k.encode())
    if isinstance(k, bool | int | float):
        return (0, k)
    return (2, str(k))


def sorted_keys(m: Mapping[Any, Any]) -> list[Any]:
    return sorted(m, key=_sort_key)


def sprint(args: Sequence[Any]) -> str:
    """fmt.Sprint: a space between operands when neither side is a string."""
    out: list[str] = []
    prev_string = True
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            out.append(" ")
        out.append(format_value(a))
        prev_string = is_string
    return "".join(out)


def sprintln(args: Sequence[Any]) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


_FLAGS = "+-# 0"


def sprintf(fmt: str, args: Sequence[Any]) -> str:
    """fmt.Sprintf with Go's verbs, flags, width and precision, and its %!verb(...) error forms."""
    out: list[str] = []
    argi = 0
    i = 0
    n = len(fmt)
    while i < n:
        c = fmt[i]
        if c != "%":
            j = fmt.find("%", i)
            j = n if j < 0 else j
            out.append(fmt[i:j])
            i = j
            continue
        i += 1
        flags = ""
        while i < n and fmt[i] in _FLAGS:
            flags += fmt[i]
            i += 1
        width: int | None = None
        prec: int | None = None
        if i < n and fmt[i] == "*":
            i += 1
            if argi < len(args) and isinstance(args[argi], int):
                width = args[argi]
                if width < 0:
                    flags += "-"
                    width = -width
            else:
                out.append("%!(BADWIDTH)")
            argi += 1
        else:
            start = i
            while i < n and fmt[i].isdigit():
                i += 1
            if i > start:
                width = int(fmt[start:i])
        if i < n and fmt[i] == ".":
            i += 1
            if i < n and fmt[i] == "*":
                i += 1
                if argi < len(args) and isinstance(args[argi], int) and args[argi] >= 0:
                    prec = args[argi]
                else:
                    out.append("%!(BADPREC)")
                argi += 1
            else:
                start = i
                while i < n and fmt[i].isdigit():
                    i += 1
                prec = int(fmt[start:i]) if i > start else 0
        if i >= n:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_pad(_format_one(arg, verb, flags, prec), flags, width, arg, verb))
    if argi < len(args):
        extra = ", ".join(
            f"{go_type(a)}={format_value(a)}" if a is not None else "<nil>" for a in args[argi:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _pad(s: str, flags: str, width: int | None, arg: Any, verb: str) -> str:
    if width is None or len(s) >= width:
        return s
    if "-" in flags:
        return s + " " * (width - len(s))
    numeric = isinstance(arg, int | float) and not isinstance(arg, bool) and verb not in "sqvc"
    if "0" in flags and (numeric or isinstance(arg, str)) and not s.endswith(("Inf", "NaN")):
        if numeric and s[:1] in "+- ":
            return s[0] + "0" * (width - len(s)) + s[1:]
        return "0" * (width - len(s)) + s
    return " " * (width - len(s)) + s


def _bad(verb: str, arg: Any) -> str:
    if arg is None:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={format_value(arg)})"


def _sign(s: str, flags: str) -> str:
    if not s.startswith("-"):
        if "+" in flags:
            return "+" + s
        if " " in flags:
            return " " + s
    return s


def _format_one(arg: Any, verb: str, flags: str, prec: int | None) -> str:
    if isinstance(arg, list | tuple) and verb not in "vTp":
        return "[" + " ".join(_format_one(e, verb, flags, prec) for e in arg) + "]"
    if verb == "T":
        return go_type(arg) if arg is not None else "<nil>"
    if isinstance(arg, bool):
        return ("true" if arg else "false") if verb in "vt" else _bad(verb, arg)
    if isinstance(arg, int):
        return _format_int(arg, verb, flags, prec)
    if isinstance(arg, float):
        return _format_float(arg, verb, flags, prec)
    if isinstance(arg, str):
        if verb in "vs":
            return arg if prec is None else arg[:prec]
        if verb == "q":
            return go_quote(
                arg if prec is None else arg[:prec], "`" if "#" in flags and "`" not in arg else '"'
            )
        if verb in "xX":
            data = arg.encode()
            h = data.hex(" ") if " " in flags else data.hex()
            return h.upper() if verb == "X" else h
        return _bad(verb, arg)
    if verb == "v" or (verb == "s" and arg is not None):
        return format_value(arg, verb)
    return _bad(verb, arg)


def _hex_float(v: float, prec: int | None, verb: str) -> str:
    """Go's %x of a float: 0x1.8p+01 (shortest mantissa unless a precision is given)."""
    if math.isnan(v) or math.isinf(v):
        return format_float(v)
    sign = "-" if math.copysign(1.0, v) < 0 else ""
    if v == 0:
        mant, exp = "", 0
    else:
        h = float.hex(abs(v))
        mant_part, _, exp_part = h[2:].partition("p")
        lead, _, mant = mant_part.partition(".")
        exp = int(exp_part)
        if lead == "0":  # subnormal: normalise to 1.x
            m = int(mant, 16)
            bits = m.bit_length()
            exp -= 52 - bits + 1
            m = (m << (53 - bits)) & ((1 << 52) - 1)
            mant = f"{m:013x}"
        mant = mant.rstrip("0")
    if prec is not None:
        mant = (mant + "0" * prec)[:prec]
    body = "0x" + ("1" if v != 0 else "0") + ("." + mant if mant else "")
    body += "p" + ("-" if exp < 0 else "+") + f"{abs(exp):02d}"
    return sign + (body.upper() if verb == "X" else body)


def _format_int(v: int, verb: str, flags: str, prec: int | None) -> str:
    if verb in "vd":
        digits = str(abs(v))
    elif verb == "b":
        digits = format(abs(v), "b")
    elif verb == "o":
        digits = format(abs(v), "o")
        if "#" in flags:
            digits = "0" + digits
    elif verb == "O":
        digits = "0o" + format(abs(v), "o")
    elif verb in "xX":
        digits = format(abs(v), verb)
        if "#" in flags:
            digits = "0" + verb + digits
    elif verb == "c":
        return chr(v)
    elif verb == "q":
        return go_quote(chr(v), "'")
    elif verb == "U":
        return f"U+{v:04X}"
    elif verb in "eEfFgG":
        return _bad(verb, v)
    else:
        return _bad(verb, v)
    if prec is not None and len(digits) < prec:
        digits = "0" * (prec - len(digits)) + digits
    return _sign(("-" if v < 0 else "") + digits, flags)


def _format_float(v: float, verb: str, flags: str, prec: int | None) -> str:
    if verb == "v":
        verb, p = "g", -1 if prec is None else prec
    elif verb in "gG":
        p = -1 if prec is None else prec
    elif verb in "eEfF":
        p = 6 if prec is None else prec
    elif verb in "xX":
        return _sign(_hex_float(v, prec, verb), flags)
    else:
        return _bad(verb, v)
    s = format_float(v, "f" if verb == "F" else verb, p)
    if math.isnan(v):
        return s if "+" not in flags else "+NaN"
    if "#" in flags and "." not in s and "e" not in s.lower() and "Inf" not in s:
        s += "."
    return _sign(s, flags)
