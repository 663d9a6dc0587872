"""A plain TraceQL evaluator for tests: one span at a time, one trace at a time, in Python.

It reads the same syntax tree as vigil's vectorised engine and states the semantics
directly, so a test can compare the two on any corpus: per trace, the spansets (as sets of
span ids) with their `by()` values.
"""

from __future__ import annotations

import math
import operator
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vigil.traces import Span, attribute
from vigil.traces.traceql import ast
from vigil.traces.traceql.ast import Intrinsic, Type


@dataclass(frozen=True)
class Enum:
    type: Type
    code: int


@dataclass(frozen=True)
class TraceFacts:
    root: Span | None
    duration_ns: int


Spanset = tuple[frozenset[int], tuple[Any, ...]]  # span indices, by() values

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
}  # fmt: skip


def evaluate(
    query: ast.Query, spans: list[Span]
) -> dict[bytes, list[tuple[frozenset[bytes], tuple[Any, ...]]]]:
    """Per matching trace id: its spansets as (span ids, by() values)."""
    traces: dict[bytes, list[int]] = defaultdict(list)
    for i, span in enumerate(spans):
        traces[span.trace_id].append(i)
    found = {}
    for trace_id, members in traces.items():
        roots = sorted(
            (spans[i] for i in members if not any(spans[i].parent_span_id)),
            key=lambda s: s.start_ns,
        )
        start = min(spans[i].start_ns for i in members)
        end = max(spans[i].end_ns for i in members)
        facts = TraceFacts(roots[0] if roots else None, end - start)
        out = _spanset(query.root, spans, facts, [(frozenset(members), ())])
        if out:
            found[trace_id] = [
                (frozenset(spans[i].span_id for i in s), labels) for s, labels in out
            ]
    return found


def _spanset(
    node: ast.Spanset, spans: list[Span], facts: TraceFacts, inputs: list[Spanset]
) -> list[Spanset]:
    if isinstance(node, ast.SpansetFilter):
        out = []
        for members, labels in inputs:
            kept = frozenset(
                i for i in members if node.field is None or _true(node.field, spans[i], facts)
            )
            if kept:
                out.append((kept, labels))
        return out
    if isinstance(node, ast.Pipe):
        return _spanset(node.rhs, spans, facts, _spanset(node.lhs, spans, facts, inputs))
    if isinstance(node, ast.SpansetOp) and node.op not in ("&&", "||"):
        return _structural(node, spans, facts, inputs)
    if isinstance(node, ast.SpansetOp):
        out = []
        for one in inputs:
            lhs = _spanset(node.lhs, spans, facts, [one])
            rhs = _spanset(node.rhs, spans, facts, [one])
            if (lhs and rhs) if node.op == "&&" else (lhs or rhs):
                out.append((frozenset().union(*(s for s, _ in lhs + rhs)), one[1]))
        return out
    if isinstance(node, ast.ScalarFilter):
        return [one for one in inputs if _scalar_holds(node, [spans[i] for i in one[0]], facts)]
    if isinstance(node, ast.GroupBy):
        out = []
        for members, labels in inputs:
            groups: dict[tuple[Any, ...], set[int]] = defaultdict(set)
            for i in members:
                key = tuple(_show(_value(f, spans[i], facts)) for f in node.fields)
                groups[tuple((type(v), v) for v in key)].add(i)
            for typed, group in groups.items():
                out.append((frozenset(group), labels + tuple(v for _, v in typed)))
        return out
    if isinstance(node, ast.Coalesce):
        return [(frozenset().union(*(s for s, _ in inputs)), inputs[0][1])] if inputs else []
    return inputs


def _structural(
    node: ast.SpansetOp, spans: list[Span], facts: TraceFacts, inputs: list[Spanset]
) -> list[Spanset]:
    """`{A} op {B}` per input: the B spans in the relation to an A span (`!`: those not,
    when A matched something; `&`: and the A spans in it)."""
    relation = node.op.lstrip("!&")
    out = []
    for one in inputs:
        lhs = frozenset().union(*(s for s, _ in _spanset(node.lhs, spans, facts, [one])))
        rhs = frozenset().union(*(s for s, _ in _spanset(node.rhs, spans, facts, [one])))
        if not lhs or not rhs:
            continue
        matched = {r for r in rhs if any(_related(relation, spans, a, r) for a in lhs)}
        if node.op.startswith("!"):
            kept = set(rhs - matched)
        elif node.op.startswith("&"):
            kept = matched | {
                a for a in lhs if any(_related(relation, spans, a, r) for r in matched)
            }
        else:
            kept = matched
        if kept:
            out.append((frozenset(kept), one[1]))
    return out


def _related(relation: str, spans: list[Span], a: int, b: int) -> bool:
    """Whether span b is `relation` of span a: its child, parent, descendant, ancestor or
    sibling (another span with the same parent id)."""
    x, y = spans[a], spans[b]
    if x.trace_id != y.trace_id:
        return False
    if relation == ">":
        return y.parent_span_id == x.span_id
    if relation == "<":
        return x.parent_span_id == y.span_id
    if relation == ">>":
        return a in _ancestors(spans, b)
    if relation == "<<":
        return b in _ancestors(spans, a)
    return a != b and any(x.parent_span_id) and x.parent_span_id == y.parent_span_id


def _ancestors(spans: list[Span], i: int) -> set[int]:
    """The spans up the parent links from span i (stopping where a parent is not stored or
    was already met: a loop of parent ids makes a span its own ancestor)."""
    by_id = {(s.trace_id, s.span_id): k for k, s in enumerate(spans)}
    found: set[int] = set()
    at = by_id.get((spans[i].trace_id, spans[i].parent_span_id))
    while at is not None and at not in found:
        found.add(at)
        at = by_id.get((spans[at].trace_id, spans[at].parent_span_id))
    return found


def _scalar_holds(node: ast.ScalarFilter, members: list[Span], facts: TraceFacts) -> bool:
    lhs, rhs = _scalar(node.lhs, members, facts), _scalar(node.rhs, members, facts)
    if math.isnan(lhs) or math.isnan(rhs):
        return False
    return _ORDER[node.op](lhs, rhs)


def _scalar(node: ast.Scalar, members: list[Span], facts: TraceFacts) -> float:
    if isinstance(node, ast.ScalarStatic):
        return node.value
    if isinstance(node, ast.ScalarBinary):
        a, b = _scalar(node.lhs, members, facts), _scalar(node.rhs, members, facts)
        ops: dict[str, Callable[[float, float], float]] = {
            "+": operator.add, "-": operator.sub, "*": operator.mul,
            "/": lambda x, y: x / y if y else math.nan, "%": math.fmod, "^": operator.pow,
        }  # fmt: skip
        return ops[node.op](a, b)
    if node.field is None:
        return float(len(members))
    found = [float(v) for s in members if _is_number(v := _value(node.field, s, facts))]
    if not found:
        return math.nan
    if node.function == "sum":
        return sum(found)
    if node.function == "avg":
        return sum(found) / len(found)
    return min(found) if node.function == "min" else max(found)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _true(field: ast.Field, span: Span, facts: TraceFacts) -> bool:
    if isinstance(field, ast.Binary):
        if field.op == "&&":
            return _true(field.lhs, span, facts) and _true(field.rhs, span, facts)
        if field.op == "||":
            return _true(field.lhs, span, facts) or _true(field.rhs, span, facts)
        if field.op in ("=", "!=", "<", "<=", ">", ">=", "=~", "!~"):
            return _compare(
                field.op, _value(field.lhs, span, facts), _value(field.rhs, span, facts)
            )
    if isinstance(field, ast.Unary) and field.op == "!":
        return not _true(field.operand, span, facts)
    if isinstance(field, ast.Static):
        return field.value is True
    return _compare("=", _value(field, span, facts), True)


def _compare(op: str, a: Any, b: Any) -> bool:
    if b is None:
        return (a is None) if op == "=" else (a is not None) if op == "!=" else False
    if a is None:
        return False
    if isinstance(a, tuple):
        if op in ("!=", "!~"):
            return not any(_compare("=" if op == "!=" else "=~", x, b) for x in a)
        return any(_compare(op, x, b) for x in a)
    if op in ("=~", "!~"):
        if not (isinstance(a, str) and isinstance(b, str)):
            return False
        return (re.fullmatch(b, a, re.DOTALL) is not None) == (op == "=~")
    if isinstance(a, bool) or isinstance(b, bool):
        return (
            isinstance(a, bool) and isinstance(b, bool) and op in ("=", "!=") and _ORDER[op](a, b)
        )
    if _is_number(a) and _is_number(b):
        return _ORDER[op](a, b)
    if isinstance(a, Enum) and isinstance(b, Enum):
        return a.type is b.type and op in ("=", "!=") and _ORDER[op](a, b)
    return isinstance(a, str) and isinstance(b, str) and _ORDER[op](a, b)


def _value(field: ast.Field, span: Span, facts: TraceFacts) -> Any:
    if isinstance(field, ast.Static):
        return (
            Enum(field.type, field.value) if field.type in (Type.STATUS, Type.KIND) else field.value
        )  # type: ignore[arg-type]
    if isinstance(field, ast.Attribute):
        if field.scope == "resource":
            return attribute(span.resource.attributes, field.name)
        if field.scope == "instrumentation":
            return attribute(span.scope.attributes, field.name)
        own = attribute(span.attributes, field.name)
        if own is None and field.scope == "":
            return attribute(span.resource.attributes, field.name)
        return own
    if isinstance(field, ast.IntrinsicField):
        return _intrinsic(field.intrinsic, span, facts)
    if isinstance(field, ast.Unary):
        inner = _value(field.operand, span, facts)
        if field.op == "!":
            return not _true(field.operand, span, facts)
        return -inner if _is_number(inner) else None
    if field.op in ("&&", "||", "=", "!=", "<", "<=", ">", ">=", "=~", "!~"):
        return _true(field, span, facts)
    a, b = _value(field.lhs, span, facts), _value(field.rhs, span, facts)
    if not (_is_number(a) and _is_number(b)):
        return None
    try:
        result = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
                  "%": math.fmod, "^": operator.pow}[field.op](float(a), float(b))  # fmt: skip
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    if math.isnan(result):
        return None
    return int(result) if field.type is Type.INT else result


def _intrinsic(intrinsic: Intrinsic, span: Span, facts: TraceFacts) -> Any:
    root = facts.root
    return {
        Intrinsic.NAME: span.name,
        Intrinsic.STATUS: Enum(Type.STATUS, span.status_code),
        Intrinsic.STATUS_MESSAGE: span.status_message,
        Intrinsic.KIND: Enum(Type.KIND, span.kind),
        Intrinsic.DURATION: span.duration_ns,
        Intrinsic.SPAN_ID: span.span_id.hex(),
        Intrinsic.PARENT_ID: span.parent_span_id.hex() if any(span.parent_span_id) else None,
        Intrinsic.TRACE_ID: span.trace_id.hex(),
        Intrinsic.ROOT_NAME: root.name if root else None,
        Intrinsic.ROOT_SERVICE: root.service_name if root else None,
        Intrinsic.TRACE_DURATION: facts.duration_ns,
        Intrinsic.INSTRUMENTATION_NAME: span.scope.name,
        Intrinsic.INSTRUMENTATION_VERSION: span.scope.version,
    }[intrinsic]


def _show(value: Any) -> Any:
    from vigil.traces import KIND_NAMES, STATUS_NAMES

    if isinstance(value, Enum):
        return (STATUS_NAMES if value.type is Type.STATUS else KIND_NAMES)[value.code]
    return value
