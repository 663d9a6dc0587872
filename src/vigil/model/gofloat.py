"""Go's float formatting, the one place vigil prints a float the way a Go peer would.

Which form is used where (tests/model/test_gofloat.py holds 'f', 'g' and the JSON form to
real promtool and Prometheus output, and every form to Go's documented layouts):
- `format_float(x, "f")`: `strconv.FormatFloat(x, 'f', -1, 64)` — PromQL's `count_values`
  label, the parsed-query AST, promtool's query output, scrape header seconds.
- `format_float(x, "g")`: Go's `%g`/`%v` — promtool's `tsdb dump`, templates' `{{ $value }}`.
- `format_float(x, "e")`/`"E"`: the alerts API's `value`, promtool's rule-test output.
- `format_json(x)`: `jsonutil.MarshalFloat`, the API's sample values: 'f', but 'e' below
  1e-6 and from 1e21 on; `format_json_all` and `rewrite_orjson_floats` do it for an array.

Python's `repr` yields the same shortest round-trip digits as Go; only the layout differs.
The exposition formats take any float text, and print it as prometheus_client does
(`exposition.format_value`: plain integers up to 1e16).
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:  # numpy loads with the array forms only: templates and CLIs format scalars
    import numpy as np
    import numpy.typing as npt


def format_float(x: float, fmt: str = "g", prec: int = -1) -> str:
    """`strconv.FormatFloat(x, fmt, prec, 64)` for fmt in e, E, f, g, G; prec -1 means the
    fewest digits that read back as `x`."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    if prec >= 0:
        if fmt in "gG" and prec == 0:
            prec = 1
        return f"{x:.{prec}{fmt}}"
    sign = "-" if math.copysign(1.0, x) < 0 else ""
    digits, point = ("0", 1) if x == 0 else _shortest_digits(abs(x))
    if fmt == "f":
        return sign + _positional(digits, point)
    if fmt in "gG" and -4 <= point - 1 < 6:
        return sign + _positional(digits, point)
    body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "") + _exponent(point - 1)
    return sign + (body.upper() if fmt in "EG" else body)


def format_json(x: float) -> str:
    """Prometheus's `jsonutil.MarshalFloat`: 'f', but 'e' below 1e-6 and from 1e21 on."""
    if not math.isfinite(x):
        return format_float(x)
    if x == int(x) and abs(x) < 1e15:
        return str(int(x)) if x or math.copysign(1, x) > 0 else "-0"
    return format_float(x, "e" if x and not 1e-6 <= abs(x) < 1e21 else "f")


def format_json_all(values: npt.NDArray[np.float64]) -> list[str]:
    """`format_json` of each value, computed for the whole array at once."""
    import numpy as np

    if not len(values):
        return []
    values = np.ascontiguousarray(values, dtype=np.float64)
    text = b'["' + orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1] + b'"]'
    return list(orjson.loads(rewrite_orjson_floats(text.replace(b",", b'","'), values)))


# orjson prints the same shortest digits as Go, positional from 1e-5 up to 1e16, else as
# `1e-7` and `1e+16` (`1e16` before 3.11); Go's 'f' format runs from 1e-6 up to 1e21, and its
# exponents have a sign and at least two digits.
_POSITIONAL_EXPONENT = re.compile(rb'"-?[0-9.]+e(?:-[1-6]|\+?1?[0-9]|\+?20)"')
_UNSIGNED_EXPONENT = re.compile(rb"(?<=e)(?=[0-9])")
_ONE_DIGIT_EXPONENT = re.compile(rb'(?<=e-)(?=[0-9]")')


def _json_positional(match: re.Match[bytes]) -> bytes:
    return b'"' + format_json(float(match[0][1:-1])).encode() + b'"'


def rewrite_orjson_floats(text: bytes, values: npt.NDArray[Any]) -> bytes:
    """`text` with each of `values` as the quoted orjson number (`null` where not finite), in
    order, rewritten as `format_json` prints it; other numbers in `text` are unquoted."""
    import numpy as np

    text = text.replace(b'.0"', b'"')
    if b"e" in text:
        text = _POSITIONAL_EXPONENT.sub(_json_positional, text)
        text = _UNSIGNED_EXPONENT.sub(b"+", _ONE_DIGIT_EXPONENT.sub(b"0", text))
    finite = np.isfinite(values)
    if finite.all():
        return text
    odd = values[~finite]
    if np.isnan(odd).all():
        return text.replace(b'"null"', b'"NaN"')
    names = iter(
        np.where(np.isnan(odd), b'"NaN"', np.where(odd > 0, b'"+Inf"', b'"-Inf"')).tolist()
    )
    return re.sub(rb'"null"', lambda _: next(names), text)


def _shortest_digits(x: float) -> tuple[str, int]:
    """The shortest round-trip decimal digits of a positive finite float, and where the
    decimal point goes (`0.0125` → `("125", -1)`)."""
    mantissa, _, exp = repr(x).partition("e")
    whole, _, frac = mantissa.partition(".")
    frac = "" if frac == "0" else frac
    shift = int(exp) if exp else 0
    if whole == "0":
        return frac.lstrip("0"), shift - (len(frac) - len(frac.lstrip("0")))
    return (whole + frac).rstrip("0"), len(whole) + shift


def _positional(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _exponent(exp: int) -> str:
    return f"e{'-' if exp < 0 else '+'}{abs(exp):02d}"
