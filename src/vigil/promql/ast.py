"""vigil's evaluation tree: what the engine walks, built once from `promql_parser`'s AST.

Durations and times are integer milliseconds; `@ start()`/`@ end()` stay symbolic until a
query's range is known.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from vigil.model import Matcher


class AtKind(enum.Enum):
    TIME = "time"
    START = "start"
    END = "end"


@dataclass(frozen=True, slots=True)
class AtModifier:
    kind: AtKind
    t_ms: int = 0


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    value: float


@dataclass(frozen=True, slots=True)
class StringLiteral:
    value: str


@dataclass(frozen=True, slots=True)
class VectorSelector:
    """`name{matchers}`; `matcher_groups` holds one tuple per `or`-alternative."""

    name: str | None
    matcher_groups: tuple[tuple[Matcher, ...], ...]
    offset_ms: int = 0
    at: AtModifier | None = None


@dataclass(frozen=True, slots=True)
class MatrixSelector:
    selector: VectorSelector
    range_ms: int


@dataclass(frozen=True, slots=True)
class Subquery:
    expr: Expr
    range_ms: int
    step_ms: int  # 0: the engine's default subquery step
    offset_ms: int = 0
    at: AtModifier | None = None


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Aggregation:
    op: str
    expr: Expr
    param: Expr | None
    grouping: tuple[str, ...]
    without: bool


class Cardinality(enum.Enum):
    ONE_TO_ONE = "one-to-one"
    MANY_TO_ONE = "many-to-one"
    ONE_TO_MANY = "one-to-many"
    MANY_TO_MANY = "many-to-many"


@dataclass(frozen=True, slots=True)
class VectorMatching:
    card: Cardinality = Cardinality.ONE_TO_ONE
    on: bool = False
    labels: tuple[str, ...] = ()
    include: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Binary:
    op: str
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching = VectorMatching()


@dataclass(frozen=True, slots=True)
class Negation:
    expr: Expr


Expr = (
    NumberLiteral
    | StringLiteral
    | VectorSelector
    | MatrixSelector
    | Subquery
    | Call
    | Aggregation
    | Binary
    | Negation
)

COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
