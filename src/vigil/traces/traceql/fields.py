"""Field expressions evaluated over rows of a `SpanTable`, column at a time.

Intrinsics are numpy columns; strings, resource and scope attributes are dictionary-coded
(`Coded`: a comparison runs once per distinct value, then a gather spreads it over the rows);
span attributes are typed columns (`AttributeColumn`: numbers compared by numpy, strings
once per distinct string), and `&&`/`||` ask the second side only about the rows the first
left undecided.

Comparisons follow Tempo: operands of different types never match; `= nil` matches a missing
field and `!= nil` a present one; an array attribute matches `=`/`=~` when any element does
and `!=`/`!~` when none does; regexes are anchored at both ends (RE2).
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from vigil.model.regex import Anchor, Regex
from vigil.traces._api import AttrValue, attribute
from vigil.traces.traceql import ast
from vigil.traces.traceql.ast import Intrinsic, Type
from vigil.traces.traceql.attribute_column import (
    ABSENT,
    BOOL,
    FLOAT,
    INT,
    OTHER,
    STR,
    AttributeColumn,
)
from vigil.traces.traceql.table import SpanTable

Rows: TypeAlias = npt.NDArray[np.intp]
Mask: TypeAlias = npt.NDArray[np.bool_]
Value: TypeAlias = "AttrValue | EnumValue | None"


@dataclass(frozen=True, slots=True)
class EnumValue:
    """A status or kind as a per-row value (for comparisons between two fields)."""

    type: Type
    code: int


@dataclass(frozen=True, slots=True)
class Num:
    """Numbers per row (durations as int nanoseconds, status/kind codes, booleans as 0/1);
    `present` is False where the row has none."""

    values: npt.NDArray[Any]
    present: Mask
    type: Type


@dataclass(frozen=True, slots=True)
class Coded:
    """Row i's value is `table[codes[i]]`; code -1 is the table's last entry, None."""

    codes: npt.NDArray[Any]
    table: Sequence[Value]


@dataclass(frozen=True, slots=True)
class Const:
    value: Value
    type: Type


Column: TypeAlias = "Num | Coded | Const | AttributeColumn"

_FLIPPED = {"=": "=", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}  # fmt: skip
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "%": np.fmod,
    "^": np.power,
}  # fmt: skip
_NUMERIC = (Type.INT, Type.FLOAT, Type.DURATION)


def matches(field: ast.Field, table: SpanTable, rows: Rows) -> Mask:
    """Whether each row satisfies a boolean field expression."""
    if isinstance(field, ast.Binary) and field.op in ("&&", "||"):
        first, second = field.lhs, field.rhs
        if field.op == "&&" and _cost(first) > _cost(second):
            first, second = second, first
        result = matches(first, table, rows)
        undecided = np.flatnonzero(result if field.op == "&&" else ~result)
        if len(undecided):
            result[undecided] = matches(second, table, rows[undecided])
        return result
    if isinstance(field, ast.Binary) and field.op in ("=", "!=", "<", "<=", ">", ">=", "=~", "!~"):
        return compare(
            field.op, column(field.lhs, table, rows), column(field.rhs, table, rows), len(rows)
        )
    if isinstance(field, ast.Unary) and field.op == "!":
        return ~matches(field.operand, table, rows)
    if isinstance(field, ast.Static):
        return np.full(len(rows), field.value is True)
    # An attribute standing alone is compared to true.
    return compare("=", column(field, table, rows), Const(True, Type.BOOL), len(rows))


def column(field: ast.Field, table: SpanTable, rows: Rows) -> Column:
    """A field's values at `rows`."""
    if isinstance(field, ast.Static):
        if field.type in (Type.STATUS, Type.KIND):
            assert isinstance(field.value, int)
            return Const(EnumValue(field.type, field.value), field.type)
        return Const(field.value, field.type)
    if isinstance(field, ast.IntrinsicField):
        return _intrinsic(field.intrinsic, table, rows)
    if isinstance(field, ast.Attribute):
        return _attribute(field, table, rows)
    if isinstance(field, ast.Unary) and field.op == "-":
        operand = numbers(column(field.operand, table, rows), len(rows))
        return Num(-operand.values, operand.present, operand.type)
    if isinstance(field, ast.Binary) and field.op in _ARITHMETIC:
        lhs = numbers(column(field.lhs, table, rows), len(rows))
        rhs = numbers(column(field.rhs, table, rows), len(rows))
        with np.errstate(all="ignore"):
            values = _ARITHMETIC[field.op](lhs.values, rhs.values)
        present = lhs.present & rhs.present & _finite(values)
        if field.type is Type.INT:
            values = np.where(present, values, 0).astype(np.int64)
        return Num(values, present, field.type)
    mask = matches(field, table, rows)
    return Num(mask.astype(np.int64), np.ones(len(rows), dtype=bool), Type.BOOL)


def numbers(col: Column, n: int) -> Num:
    """A column as numbers (strings and other values count as absent)."""
    if isinstance(col, Num):
        return col
    if isinstance(col, Const):
        value = _number(col.value)
        present = np.full(n, not math.isnan(value))
        return Num(np.full(n, value), present, col.type)
    if isinstance(col, AttributeColumn):
        is_int, is_float = col.kind == INT, col.kind == FLOAT
        found = np.where(is_int, col.ints.astype(np.float64), col.floats)
        return Num(found, is_int | is_float, Type.ATTRIBUTE)
    table = np.array([_number(v) for v in col.table], dtype=np.float64)
    values = table[col.codes]
    return Num(values, ~np.isnan(values), Type.ATTRIBUTE)


def values(col: Column, n: int) -> list[Value]:
    """A column as one Python value per row (None where absent)."""
    if isinstance(col, Const):
        return [col.value] * n
    if isinstance(col, Coded):
        table = col.table
        return [table[c] for c in col.codes.tolist()]
    if isinstance(col, AttributeColumn):
        return list(col.values())
    return [
        _num_value(col.type, v) if p else None
        for v, p in zip(col.values.tolist(), col.present.tolist(), strict=True)
    ]


def compare(op: str, lhs: Column, rhs: Column, n: int) -> Mask:
    if isinstance(lhs, Const) and not isinstance(rhs, Const) and op in _FLIPPED:
        lhs, rhs, op = rhs, lhs, _FLIPPED[op]
    if isinstance(rhs, Const):
        if isinstance(lhs, Const):
            return np.full(n, _match(op, lhs.value, rhs.value))
        if isinstance(lhs, Coded):
            matched = np.array([_match(op, v, rhs.value) for v in lhs.table], dtype=bool)
            return np.asarray(matched[lhs.codes], dtype=bool)
        if isinstance(lhs, AttributeColumn):
            return _compare_attribute(op, lhs, rhs.value)
        return _compare_numbers(op, lhs, rhs)
    return np.fromiter(
        (_match(op, a, b) for a, b in zip(values(lhs, n), values(rhs, n), strict=True)),
        dtype=bool,
        count=n,
    )


def _compare_numbers(op: str, lhs: Num, rhs: Const) -> Mask:
    value = rhs.value
    if value is None:
        return (
            ~lhs.present if op == "=" else lhs.present if op == "!=" else np.zeros_like(lhs.present)
        )
    if op not in _ORDER:
        return np.zeros_like(lhs.present)
    if isinstance(value, EnumValue):
        if value.type is not lhs.type:
            return np.zeros_like(lhs.present)
        value = value.code
    elif isinstance(value, bool):
        if lhs.type not in (Type.BOOL, Type.ATTRIBUTE):
            return np.zeros_like(lhs.present)
        value = int(value)
    elif not isinstance(value, int | float) or lhs.type in (Type.STATUS, Type.KIND, Type.BOOL):
        return np.zeros_like(lhs.present)
    return _ORDER[op](lhs.values, value) & lhs.present  # type: ignore[no-any-return]


def _compare_attribute(op: str, col: AttributeColumn, value: Value) -> Mask:
    """`_match` of every row with `value`, a numpy mask per type."""
    kind = col.kind
    found = np.zeros(len(col), dtype=bool)
    if value is None:
        return kind == ABSENT if op == "=" else kind != ABSENT if op == "!=" else found
    if isinstance(value, str) and op in ("=~", "!~"):
        regex = _regex(value)
        per_text = [regex.matches(t) == (op == "=~") for t in col.texts.tolist()]
        _spread(found, kind == STR, per_text, col.text)
    elif isinstance(value, str) and op in _ORDER:
        per_text = [_ORDER[op](t, value) for t in col.texts.tolist()]
        _spread(found, kind == STR, per_text, col.text)
    elif isinstance(value, bool) and op in ("=", "!="):
        at = kind == BOOL
        found[at] = _ORDER[op](col.ints[at], int(value))
    elif isinstance(value, int | float) and not isinstance(value, bool) and op in _ORDER:
        at = kind == INT
        found[at] = _order_ints(op, col.ints[at], value)
        at = kind == FLOAT
        found[at] = _ORDER[op](col.floats[at], value)
        if isinstance(value, int) and abs(value) > _EXACT_FLOAT:
            found[at] = [_match(op, v, value) for v in col.floats[at].tolist()]
    at = np.flatnonzero(kind == OTHER)
    if len(at):
        found[at] = [_match(op, v, value) for v in col.others[at].tolist()]
    return found


_EXACT_FLOAT = 2**53  # past this an int does not always convert to float64 exactly


def _spread(found: Mask, at: Mask, per_text: list[bool], text: npt.NDArray[np.intp]) -> None:
    """`found[i] = per_text[text[i]]` for the rows `at`."""
    if per_text:
        found[at] = np.array(per_text, dtype=bool)[text[at]]


def _order_ints(op: str, ints: npt.NDArray[np.int64], value: int | float) -> Mask:
    """Ints compared with a number exactly, as Python compares them (an int64 column
    compared with a float would be converted to float64 and round past 2**53)."""
    if isinstance(value, float):
        if math.isnan(value):
            return np.full(len(ints), op == "!=")
        if math.isinf(value):
            return np.asarray(_ORDER[op](ints.astype(np.float64), value), dtype=bool)
        if not value.is_integer():
            if op in ("=", "!="):
                return np.full(len(ints), op == "!=")
            # x < 2.5 iff x < 3, x <= 2.5 iff x <= 2, x > 2.5 iff x > 2, x >= 2.5 iff x >= 3
            value = math.floor(value) if op in ("<=", ">") else math.ceil(value)
        value = int(value)
    return np.asarray(_ORDER[op](ints, value), dtype=bool)


def _match(op: str, value: Value, other: Value) -> bool:
    """One comparison of Python values, with Tempo's rules for nil, types and arrays."""
    if other is None:
        return (value is None) if op == "=" else (value is not None) if op == "!=" else False
    if value is None:
        return False
    if isinstance(value, tuple):
        if op in ("!=", "!~"):
            positive = "=" if op == "!=" else "=~"
            return not any(_match(positive, item, other) for item in value)
        return any(_match(op, item, other) for item in value)
    if op in ("=~", "!~"):
        if not isinstance(value, str) or not isinstance(other, str):
            return False
        return _regex(other).matches(value) == (op == "=~")
    if not _same_kind(value, other):
        return False
    if isinstance(value, bool | EnumValue) and op not in ("=", "!="):
        return False
    return bool(_ORDER[op](value, other))


def _same_kind(a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, int | float) and isinstance(b, int | float):
        return True
    if isinstance(a, EnumValue) and isinstance(b, EnumValue):
        return a.type is b.type
    return isinstance(a, str) and isinstance(b, str)


@functools.lru_cache(maxsize=256)
def _regex(pattern: str) -> Regex:
    return Regex(pattern, Anchor.PROMETHEUS)


def _number(value: Value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _num_value(type_: Type, value: int | float) -> Value:
    if type_ in (Type.STATUS, Type.KIND):
        return EnumValue(type_, int(value))
    if type_ is Type.BOOL:
        return bool(value)
    return value


def _finite(values: npt.NDArray[Any]) -> Mask:
    """Division by zero and overflow give no value (as a missing attribute)."""
    if values.dtype.kind == "f":
        return np.asarray(np.isfinite(values), dtype=bool)
    return np.ones(values.shape, dtype=bool)


@functools.lru_cache(maxsize=1024)
def _cost(field: ast.Field) -> int:
    """How costly a field is per row: span attributes walk each span's attribute list."""
    if isinstance(field, ast.Attribute):
        return 2 if field.scope in ("", "span") else 0
    if isinstance(field, ast.IntrinsicField):
        return (
            1
            if field.intrinsic in (Intrinsic.SPAN_ID, Intrinsic.PARENT_ID, Intrinsic.TRACE_ID)
            else 0
        )
    if isinstance(field, ast.Unary):
        return _cost(field.operand)
    if isinstance(field, ast.Binary):
        return max(_cost(field.lhs), _cost(field.rhs))
    return 0


def _intrinsic(intrinsic: Intrinsic, table: SpanTable, rows: Rows) -> Column:
    spans, n = table.spans, len(rows)
    everywhere = np.ones(n, dtype=bool)
    strings: tuple[Value, ...] = (*spans.strings, None)
    if intrinsic is Intrinsic.DURATION:
        return Num(spans.duration_ns[rows], everywhere, Type.DURATION)
    if intrinsic is Intrinsic.STATUS:
        return Num(spans.status_code[rows].astype(np.int64), everywhere, Type.STATUS)
    if intrinsic is Intrinsic.KIND:
        return Num(spans.kind[rows].astype(np.int64), everywhere, Type.KIND)
    if intrinsic is Intrinsic.NAME:
        return Coded(spans.name[rows], strings)
    if intrinsic is Intrinsic.STATUS_MESSAGE:
        return Coded(spans.status_message[rows], strings)
    if intrinsic is Intrinsic.TRACE_DURATION:
        return Num(table.trace_duration_ns[table.trace[rows]], everywhere, Type.DURATION)
    if intrinsic in (Intrinsic.ROOT_NAME, Intrinsic.ROOT_SERVICE):
        root = table.root[table.trace[rows]]
        codes = spans.name if intrinsic is Intrinsic.ROOT_NAME else spans.service
        return Coded(np.where(root >= 0, codes[root], -1), strings)
    if intrinsic in (Intrinsic.INSTRUMENTATION_NAME, Intrinsic.INSTRUMENTATION_VERSION):
        scopes = [
            s.name if intrinsic is Intrinsic.INSTRUMENTATION_NAME else s.version
            for s in spans.scopes
        ]
        return Coded(spans.scope[rows], (*scopes, None))
    ids = [_hex_id(intrinsic, table, i) for i in rows.tolist()]
    return Coded(np.arange(n), ids)


def _hex_id(intrinsic: Intrinsic, table: SpanTable, row: int) -> str | None:
    if intrinsic is Intrinsic.TRACE_ID:
        return table.spans.trace_id(row).hex()
    if intrinsic is Intrinsic.SPAN_ID:
        return table.spans.span_id(row).hex()
    parent = table.spans.parent_id(row)
    return parent.hex() if any(parent) else None


def _attribute(field: ast.Attribute, table: SpanTable, rows: Rows) -> Coded | AttributeColumn:
    spans, name = table.spans, field.name
    if field.scope == "resource":
        found = [attribute(r.attributes, name) for r in spans.resources]
        return Coded(spans.resource[rows], (*found, None))
    if field.scope == "instrumentation":
        found = [attribute(s.attributes, name) for s in spans.scopes]
        return Coded(spans.scope[rows], (*found, None))
    own = table.attribute(name).take(rows)
    if field.scope == "":
        resources = AttributeColumn.of([attribute(r.attributes, name) for r in spans.resources])
        return own.or_else(resources.take(spans.resource[rows]))
    return own
