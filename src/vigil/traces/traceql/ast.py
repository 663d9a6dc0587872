"""TraceQL's syntax tree: frozen values built by `parse`.

Every spanset node is a function from spansets to spansets (Tempo's model): a query starts from
one spanset per trace holding all its spans; a filter keeps the spans it matches, `&&`/`||`
combine what both sides make of the same input, `|` feeds one side's output to the other, a
scalar filter keeps whole spansets, `by` splits them and `coalesce` merges a trace's spansets.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeAlias

from vigil.traces._api import KIND_NAMES, STATUS_NAMES


class Type(enum.Enum):
    """A field expression's type as Tempo checks it while parsing; an attribute's type is
    only known per span (ATTRIBUTE matches any)."""

    STRING = "string"
    INT = "int"
    FLOAT = "float"
    DURATION = "duration"
    BOOL = "boolean"
    NIL = "nil"
    STATUS = "status"
    KIND = "kind"
    ATTRIBUTE = "attribute"

    @property
    def numeric(self) -> bool:
        """Durations are integer nanoseconds: they compare with numbers (`duration > 2`)."""
        return self in (Type.INT, Type.FLOAT, Type.DURATION)


class Intrinsic(enum.Enum):
    """Fields every span has; the value is the canonical (scoped) spelling."""

    NAME = "span:name"
    STATUS = "span:status"
    STATUS_MESSAGE = "span:statusMessage"
    KIND = "span:kind"
    DURATION = "span:duration"
    SPAN_ID = "span:id"
    PARENT_ID = "span:parentID"
    TRACE_ID = "trace:id"
    ROOT_NAME = "trace:rootName"
    ROOT_SERVICE = "trace:rootService"
    TRACE_DURATION = "trace:duration"
    INSTRUMENTATION_NAME = "instrumentation:name"
    INSTRUMENTATION_VERSION = "instrumentation:version"

    @property
    def type(self) -> Type:
        return _INTRINSIC_TYPES.get(self, Type.STRING)

    @property
    def trace_level(self) -> bool:
        """Known only from the whole trace (its root span, its extent)."""
        return self in (Intrinsic.ROOT_NAME, Intrinsic.ROOT_SERVICE, Intrinsic.TRACE_DURATION)


_INTRINSIC_TYPES = {
    Intrinsic.STATUS: Type.STATUS,
    Intrinsic.KIND: Type.KIND,
    Intrinsic.DURATION: Type.DURATION,
    Intrinsic.TRACE_DURATION: Type.DURATION,
}

# Unscoped spellings of the grammar.
INTRINSIC_WORDS = {
    "name": Intrinsic.NAME,
    "status": Intrinsic.STATUS,
    "statusMessage": Intrinsic.STATUS_MESSAGE,
    "kind": Intrinsic.KIND,
    "duration": Intrinsic.DURATION,
    "rootName": Intrinsic.ROOT_NAME,
    "rootServiceName": Intrinsic.ROOT_SERVICE,
    "traceDuration": Intrinsic.TRACE_DURATION,
} | {intrinsic.value: intrinsic for intrinsic in Intrinsic}

StaticValue: TypeAlias = "str | int | float | bool | None"


@dataclass(frozen=True, slots=True)
class Static:
    """A literal: a duration is int nanoseconds, status and kind their OTLP integer codes."""

    type: Type
    value: StaticValue


@dataclass(frozen=True, slots=True)
class IntrinsicField:
    intrinsic: Intrinsic

    @property
    def type(self) -> Type:
        return self.intrinsic.type


@dataclass(frozen=True, slots=True)
class Attribute:
    """`.name` (scope ""), `span.name`, `resource.name`, `instrumentation.name`. An unscoped
    attribute is the span's when it has it, else its resource's."""

    scope: str
    name: str
    type: Type = Type.ATTRIBUTE


@dataclass(frozen=True, slots=True)
class Unary:
    op: str  # "!" or "-"
    operand: Field
    type: Type


@dataclass(frozen=True, slots=True)
class Binary:
    op: str  # comparison, regex, arithmetic, "&&" or "||"
    lhs: Field
    rhs: Field
    type: Type


Field: TypeAlias = "Static | IntrinsicField | Attribute | Unary | Binary"

# --- spanset expressions ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpansetFilter:
    """`{ field }`; `{ }` (None) keeps every span."""

    field: Field | None = None


@dataclass(frozen=True, slots=True)
class Aggregate:
    """`count()` (field None), `avg(f)`, `min(f)`, `max(f)`, `sum(f)` over a spanset."""

    function: str
    field: Field | None = None


@dataclass(frozen=True, slots=True)
class ScalarStatic:
    value: float
    duration: bool = False


@dataclass(frozen=True, slots=True)
class ScalarBinary:
    op: str
    lhs: Scalar
    rhs: Scalar


Scalar: TypeAlias = "Aggregate | ScalarStatic | ScalarBinary"


@dataclass(frozen=True, slots=True)
class ScalarFilter:
    """`count() > 2`: keeps the spansets for which the comparison holds."""

    op: str
    lhs: Scalar
    rhs: Scalar


@dataclass(frozen=True, slots=True)
class Select:
    """`select(f, ...)`: the spansets pass unchanged, their spans carry these fields' values."""

    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class GroupBy:
    """`by(f, ...)`: each spanset split by the fields' values."""

    fields: tuple[Field, ...]


@dataclass(frozen=True, slots=True)
class Coalesce:
    """`coalesce()`: a trace's spansets merged into one."""


@dataclass(frozen=True, slots=True)
class SpansetOp:
    """`lhs && rhs` (both sides matched something: their spans together), `lhs || rhs`
    (the spans of whichever side matched), or a structural operator (`>>`, `!<`, `&~`, ...:
    traceql.structure)."""

    op: str
    lhs: Spanset
    rhs: Spanset


@dataclass(frozen=True, slots=True)
class Pipe:
    """`lhs | rhs`: rhs applied to each spanset lhs makes."""

    lhs: Spanset
    rhs: Spanset


Spanset: TypeAlias = "SpansetFilter | ScalarFilter | Select | GroupBy | Coalesce | SpansetOp | Pipe"


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query; `most_recent` is the `with (most_recent=true)` hint."""

    root: Spanset
    most_recent: bool = False


def field_text(field: Field) -> str:
    """A field as a query writes it (`resource.service.name`, `span:name`, `.a + 1`)."""
    if isinstance(field, Attribute):
        name = (
            field.name
            if _plain(field.name)
            else '"' + field.name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        )
        return f"{field.scope}.{name}"
    if isinstance(field, IntrinsicField):
        return field.intrinsic.value
    if isinstance(field, Static):
        return _static_text(field)
    if isinstance(field, Unary):
        return f"{field.op}{field_text(field.operand)}"
    return f"({field_text(field.lhs)} {field.op} {field_text(field.rhs)})"


def _plain(name: str) -> bool:
    return bool(name) and not any(c in name for c in ' \t\n{}()=~!<>&|,"^')


def _static_text(static: Static) -> str:
    value = static.value
    if static.type is Type.STATUS:
        return STATUS_NAMES[value]  # type: ignore[index]
    if static.type is Type.KIND:
        return KIND_NAMES[value]  # type: ignore[index]
    if static.type is Type.DURATION:
        return f"{value}ns"
    if static.type is Type.STRING:
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "nil" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
