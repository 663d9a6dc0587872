"""Label filter expressions over one line's labels, with Loki's conversions: a value that is
not a number (duration, size) where one is compared keeps the line and sets `__error__` to
`LabelFilterErr`; a missing label fails the comparison."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable

from vigil.logs.logql import ast
from vigil.logs.logql._linefilter import ip_matcher

ERROR = "__error__"
ERROR_DETAILS = "__error_details__"

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_GO_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_GO_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}  # fmt: skip
_HUMAN_BYTES = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*")
_BYTE_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1000, "ki": 1024, "kib": 1024, "m": 1000**2, "mb": 1000**2,
    "mi": 1024**2, "mib": 1024**2, "g": 1000**3, "gb": 1000**3, "gi": 1024**3, "gib": 1024**3,
    "t": 1000**4, "tb": 1000**4, "ti": 1024**4, "tib": 1024**4, "p": 1000**5, "pb": 1000**5,
    "pi": 1024**5, "pib": 1024**5, "e": 1000**6, "eb": 1000**6, "ei": 1024**6, "eib": 1024**6,
}  # fmt: skip


def go_duration_seconds(text: str) -> float:
    """Go's time.ParseDuration, in seconds; ValueError for what Go refuses."""
    body = text.strip()
    sign = -1.0 if body.startswith("-") else 1.0
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    total, at = 0.0, 0
    while at < len(body):
        found = _GO_DURATION.match(body, at)
        if found is None or found.end() == at or found.group(1) in ("", "."):
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(found.group(1)) * _GO_UNITS[found.group(2)]
        at = found.end()
    if not body:
        raise ValueError(f'time: invalid duration "{text}"')
    return sign * total


def human_bytes(text: str) -> float:
    """go-humanize's ParseBytes (`5MB`, `1.5 KiB`, `42`)."""
    found = _HUMAN_BYTES.fullmatch(text)
    if found is None or found.group(2).lower() not in _BYTE_UNITS:
        raise ValueError(f"strconv.ParseFloat: parsing {text!r}: invalid syntax")
    return float(found.group(1)) * _BYTE_UNITS[found.group(2).lower()]


def go_float(text: str) -> float:
    """strconv.ParseFloat's accepted forms (Python's float plus hex; no `_`, no spaces)."""
    if "_" in text or text != text.strip():
        raise ValueError(f"strconv.ParseFloat: parsing {text!r}: invalid syntax")
    try:
        return float(text)
    except ValueError:
        try:
            return float.fromhex(text)
        except ValueError:
            raise ValueError(f"strconv.ParseFloat: parsing {text!r}: invalid syntax") from None


_CONVERT: dict[ast.UnitKind, Callable[[str], float]] = {
    ast.UnitKind.NUMBER: go_float,
    ast.UnitKind.DURATION: go_duration_seconds,
    ast.UnitKind.BYTES: human_bytes,
}

LabelTest = Callable[[dict[str, str]], bool]


def compile_label_filter(label_filter: ast.LabelFilter) -> LabelTest:
    """A test of one line's labels; it may add `__error__` to them (and then passes)."""
    match label_filter:
        case ast.MatcherFilter(matcher):
            name, matches = matcher.name, matcher.matches
            return lambda labels: matches(labels.get(name, ""))
        case ast.IpFilter(name, negated, cidr):
            test = ip_matcher(cidr)
            return lambda labels: test(labels.get(name, "")) is not negated
        case ast.ComparisonFilter(name, op, kind, value):
            return _comparison(name, _COMPARE[op], _CONVERT[kind], value)
        case ast.AndFilter(left, right):
            first, second = compile_label_filter(left), compile_label_filter(right)
            return lambda labels: first(labels) and second(labels)
        case ast.OrFilter(left, right):
            first, second = compile_label_filter(left), compile_label_filter(right)
            return lambda labels: first(labels) or second(labels)
    raise TypeError(f"not a label filter: {label_filter!r}")


def _comparison(
    name: str,
    compare: Callable[[float, float], bool],
    convert: Callable[[str], float],
    bound: float,
) -> LabelTest:
    def test(labels: dict[str, str]) -> bool:
        text = labels.get(name)
        if text is None:
            return False
        try:
            value = convert(text)
        except ValueError as err:
            if ERROR not in labels:
                labels[ERROR] = "LabelFilterErr"
                labels[ERROR_DETAILS] = str(err)
            return True
        return not math.isnan(value) and compare(value, bound)

    return test
