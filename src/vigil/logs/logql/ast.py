"""LogQL's syntax tree: frozen values built by `parse`, printed back by `format_expr`.

Durations are integer nanoseconds; unit values in label filters keep the text the user wrote
(for printing) beside their value in seconds or bytes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vigil.model import Matcher

# --- log queries ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterTerm:
    """One alternative of a line filter: a string, or `ip("cidr")` when `ip` is set."""

    value: str
    ip: bool = False


@dataclass(frozen=True, slots=True)
class LineFilter:
    """`|= "a" or "b"`: `op` is one of `|=` `!=` `|~` `!~` `|>` `!>`. A positive filter keeps a
    line matching any term, a negative one a line matching none."""

    op: str
    terms: tuple[FilterTerm, ...]

    @property
    def negated(self) -> bool:
        return self.op.startswith("!")


@dataclass(frozen=True, slots=True)
class Extraction:
    """`name` or `name="expression"` after `json`/`logfmt`."""

    name: str
    expression: str | None = None


@dataclass(frozen=True, slots=True)
class JsonParser:
    extractions: tuple[Extraction, ...] = ()


@dataclass(frozen=True, slots=True)
class LogfmtParser:
    strict: bool = False
    keep_empty: bool = False
    extractions: tuple[Extraction, ...] = ()


@dataclass(frozen=True, slots=True)
class RegexpParser:
    pattern: str


@dataclass(frozen=True, slots=True)
class PatternParser:
    pattern: str


@dataclass(frozen=True, slots=True)
class UnpackParser:
    pass


class UnitKind(enum.Enum):
    NUMBER = "number"
    DURATION = "duration"
    BYTES = "bytes"


@dataclass(frozen=True, slots=True)
class ComparisonFilter:
    """`name > 5`, `latency >= 250ms`, `size < 1MiB`: `value` in plain units (seconds for a
    duration, bytes for a size); `text` is what the user wrote."""

    name: str
    op: str  # == != > >= < <=  ("=" is printed and evaluated as "==")
    kind: UnitKind
    value: float
    text: str


@dataclass(frozen=True, slots=True)
class MatcherFilter:
    matcher: Matcher


@dataclass(frozen=True, slots=True)
class IpFilter:
    """`name = ip("192.168.0.0/16")` or `!=`."""

    name: str
    negated: bool
    cidr: str


@dataclass(frozen=True, slots=True)
class AndFilter:
    left: LabelFilter
    right: LabelFilter


@dataclass(frozen=True, slots=True)
class OrFilter:
    left: LabelFilter
    right: LabelFilter


LabelFilter = ComparisonFilter | MatcherFilter | IpFilter | AndFilter | OrFilter


@dataclass(frozen=True, slots=True)
class LabelFilterStage:
    filter: LabelFilter


@dataclass(frozen=True, slots=True)
class LineFormat:
    template: str


@dataclass(frozen=True, slots=True)
class LabelRename:
    """`dst=src` (a rename) or `dst="{{template}}"` in `label_format`."""

    dst: str
    src: str
    template: bool


@dataclass(frozen=True, slots=True)
class LabelFormat:
    renames: tuple[LabelRename, ...]


@dataclass(frozen=True, slots=True)
class Decolorize:
    pass


@dataclass(frozen=True, slots=True)
class LabelSelection:
    """One item of `drop`/`keep`: a label name, or a matcher on its value."""

    name: str
    matcher: Matcher | None = None


@dataclass(frozen=True, slots=True)
class Drop:
    labels: tuple[LabelSelection, ...]


@dataclass(frozen=True, slots=True)
class Keep:
    labels: tuple[LabelSelection, ...]


Stage = (
    LineFilter
    | JsonParser
    | LogfmtParser
    | RegexpParser
    | PatternParser
    | UnpackParser
    | LabelFilterStage
    | LineFormat
    | LabelFormat
    | Decolorize
    | Drop
    | Keep
)


@dataclass(frozen=True, slots=True)
class LogQuery:
    """`{selector} | stages...`: a query returning log lines."""

    matchers: tuple[Matcher, ...]
    stages: tuple[Stage, ...] = ()


# --- metric queries -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Unwrap:
    """`| unwrap [conversion(]label[)]` and the label filters after it."""

    label: str
    conversion: str = ""  # "", "bytes", "duration", "duration_seconds"
    filters: tuple[LabelFilter, ...] = ()


@dataclass(frozen=True, slots=True)
class LogRange:
    query: LogQuery
    range_ns: int
    offset_ns: int = 0
    unwrap: Unwrap | None = None


@dataclass(frozen=True, slots=True)
class Grouping:
    labels: tuple[str, ...]
    without: bool = False


@dataclass(frozen=True, slots=True)
class RangeAggregation:
    op: str
    range: LogRange
    param: float | None = None
    grouping: Grouping | None = None


@dataclass(frozen=True, slots=True)
class VectorAggregation:
    op: str
    expr: MetricExpr
    param: float | None = None
    grouping: Grouping | None = None


class Cardinality(enum.Enum):
    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "group_left"
    ONE_TO_MANY = "group_right"


@dataclass(frozen=True, slots=True)
class VectorMatching:
    on: bool = False
    ignoring: bool = False
    labels: tuple[str, ...] = ()
    card: Cardinality = Cardinality.ONE_TO_ONE
    include: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class BinaryOp:
    op: str
    lhs: MetricExpr
    rhs: MetricExpr
    return_bool: bool = False
    matching: VectorMatching = VectorMatching()


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    value: float


@dataclass(frozen=True, slots=True)
class VectorLiteral:
    """`vector(1)`."""

    value: float


@dataclass(frozen=True, slots=True)
class LabelReplace:
    expr: MetricExpr
    dst: str
    replacement: str
    src: str
    regex: str


MetricExpr = (
    RangeAggregation | VectorAggregation | BinaryOp | NumberLiteral | VectorLiteral | LabelReplace
)
Expr = LogQuery | MetricExpr

RANGE_OPS = frozenset(
    {
        "count_over_time",
        "rate",
        "rate_counter",
        "bytes_over_time",
        "bytes_rate",
        "avg_over_time",
        "sum_over_time",
        "min_over_time",
        "max_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "quantile_over_time",
        "first_over_time",
        "last_over_time",
        "absent_over_time",
    }
)
LINE_RANGE_OPS = frozenset(
    {"count_over_time", "rate", "bytes_over_time", "bytes_rate", "absent_over_time"}
)
VECTOR_OPS = frozenset(
    {
        "sum",
        "avg",
        "count",
        "max",
        "min",
        "stddev",
        "stdvar",
        "bottomk",
        "topk",
        "sort",
        "sort_desc",
    }
)
CONVERSIONS = frozenset({"bytes", "duration", "duration_seconds"})
