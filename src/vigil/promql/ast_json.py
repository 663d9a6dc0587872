"""A query's syntax tree as the JSON of Prometheus 3's `/api/v1/parse_query` (its `translateAST`),
which the Prometheus UI's tree view and PromLens-style tools read.

The shape is the one Prometheus 3.0 emits: every node has `type`; selectors carry `name` (`""`
when the name is only a matcher), `matchers` (the name as a trailing `__name__` equality matcher,
as Prometheus's parser appends it), `offset`/`range`/`step` in milliseconds, `timestamp` (ms or
null) and `startOrEnd` (`"start"`, `"end"` or null); `numberLiteral.val` is Go's
`FormatFloat(v, 'f', -1, 64)`; `binaryExpr.matching` is null unless both sides are instant
vectors. Translated from `promql_parser`'s tree, not vigil's evaluation tree, which drops
parentheses and function signatures. Known differences: Prometheus 3 duration expressions
(`[5m+1m]`) arrive already folded into plain durations, and a unary `+` in front of a
non-literal is dropped by `promql_parser` (Prometheus keeps a `unaryExpr` with op `+`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import promql_parser as pp

from vigil.model.gofloat import format_float
from vigil.promql.errors import ParseError
from vigil.promql.parser import EPOCH, duration_ms, match_op, parse, rewrite_prometheus3_syntax

JSON = dict[str, Any]
_SET_OPS = frozenset({"and", "or", "unless"})
_CARDINALITY = (
    (pp.VectorMatchCardinality.OneToOne, "one-to-one"),
    (pp.VectorMatchCardinality.ManyToOne, "many-to-one"),
    (pp.VectorMatchCardinality.OneToMany, "one-to-many"),
    (pp.VectorMatchCardinality.ManyToMany, "many-to-many"),
)


def parse_query_ast(query: str) -> JSON:
    """The `data` of Prometheus's `/api/v1/parse_query` for `query`.

    Raises the same `ParseError`/`UnsupportedFeatureError` as `parse()` for text that
    `/api/v1/query` would reject, so both endpoints agree on what a valid query is.
    """
    parse(query)
    code, at_values = rewrite_prometheus3_syntax(query, 0, 0)
    return _Translator(at_values).node(pp.parse(code))


def _value_type(kind: object) -> str:
    return str(kind).rsplit(".", 1)[-1].lower()


class _Translator:
    def __init__(self, at_values: dict[int, int]) -> None:
        self._at_values = at_values

    def node(self, node: object) -> JSON:
        for kind, handler in self._handlers():
            if isinstance(node, kind):
                return handler(node)
        raise ParseError(f"unsupported expression {node}")

    def _handlers(self) -> tuple[tuple[type, Callable[[Any], JSON]], ...]:
        return (
            (
                pp.NumberLiteral,
                lambda n: {"type": "numberLiteral", "val": format_float(n.val, "f")},
            ),
            (pp.StringLiteral, lambda n: {"type": "stringLiteral", "val": str(n.val)}),
            (pp.ParenExpr, lambda n: {"type": "parenExpr", "expr": self.node(n.expr)}),
            (pp.UnaryExpr, lambda n: {"type": "unaryExpr", "op": "-", "expr": self.node(n.expr)}),
            (pp.VectorSelector, self._vector_selector),
            (pp.MatrixSelector, self._matrix_selector),
            (pp.SubqueryExpr, self._subquery),
            (pp.Call, self._call),
            (pp.AggregateExpr, self._aggregation),
            (pp.BinaryExpr, self._binary),
        )

    def _at(self, at: pp.AtModifier | None) -> JSON:
        """`timestamp` and `startOrEnd`, the two fields Prometheus derives from `@`."""
        if at is None:
            return {"timestamp": None, "startOrEnd": None}
        if at.type == pp.AtModifierType.Start:
            return {"timestamp": None, "startOrEnd": "start"}
        if at.type == pp.AtModifierType.End:
            return {"timestamp": None, "startOrEnd": "end"}
        assert isinstance(at.at, dt.datetime)
        t_ms = duration_ms(at.at - EPOCH)
        return {"timestamp": self._at_values.get(t_ms, t_ms), "startOrEnd": None}

    def _selector_fields(self, node: pp.VectorSelector) -> JSON:
        if node.matchers.or_matchers:
            raise ParseError("'or' between label matchers is not Prometheus syntax")
        matchers = [
            {"type": match_op(m.op), "name": m.name, "value": m.value}
            for m in node.matchers.matchers
        ]
        if node.name is not None and not any(m["name"] == "__name__" for m in matchers):
            matchers.append({"type": "=", "name": "__name__", "value": node.name})
        return {
            "name": node.name or "",
            "offset": duration_ms(node.offset),
            "matchers": matchers,
            **self._at(node.at),
        }

    def _vector_selector(self, node: pp.VectorSelector) -> JSON:
        return {"type": "vectorSelector", **self._selector_fields(node)}

    def _matrix_selector(self, node: pp.MatrixSelector) -> JSON:
        fields = self._selector_fields(node.vector_selector)
        return {"type": "matrixSelector", "range": duration_ms(node.range), **fields}

    def _subquery(self, node: pp.SubqueryExpr) -> JSON:
        return {
            "type": "subquery",
            "expr": self.node(node.expr),
            "range": duration_ms(node.range),
            "offset": duration_ms(node.offset),
            "step": duration_ms(node.step),
            **self._at(node.at),
        }

    def _call(self, node: pp.Call) -> JSON:
        func = node.func
        return {
            "type": "call",
            "func": {
                "name": func.name,
                "argTypes": [_value_type(t) for t in func.arg_types],
                "variadic": func.variadic,
                "returnType": _value_type(func.return_type),
            },
            "args": [self.node(arg) for arg in node.args],
        }

    def _aggregation(self, node: pp.AggregateExpr) -> JSON:
        grouping: list[str] = []
        without = False
        if node.modifier is not None:
            grouping = list(node.modifier.labels)
            without = node.modifier.type == pp.AggModifierType.Without
        return {
            "type": "aggregation",
            "op": str(node.op),
            "expr": self.node(node.expr),
            "param": None if node.param is None else self.node(node.param),
            "grouping": grouping,
            "without": without,
        }

    def _binary(self, node: pp.BinaryExpr) -> JSON:
        op = str(node.op)
        mod = node.modifier
        return_bool = bool(mod is not None and mod.return_bool)
        matching: JSON | None = None
        if _type_of(node.lhs) == "vector" and _type_of(node.rhs) == "vector":
            card = "one-to-one"
            on, labels, include = False, [], []
            if mod is not None:
                card = next(text for known, text in _CARDINALITY if known == mod.card)
                if mod.matching is not None:
                    on = mod.matching.type == pp.LabelModifierType.Include
                    labels = list(mod.matching.labels)
                include = list(mod.group_labels or ())
            if op in _SET_OPS and card == "one-to-one":
                card = "many-to-many"
            matching = {"card": card, "labels": labels, "on": on, "include": include}
        return {
            "type": "binaryExpr",
            "op": op,
            "lhs": self.node(node.lhs),
            "rhs": self.node(node.rhs),
            "matching": matching,
            "bool": return_bool,
        }


def _type_of(node: object) -> str:
    """Prometheus's static type of an expression: decides whether `matching` is null."""
    if isinstance(node, pp.NumberLiteral):
        return "scalar"
    if isinstance(node, pp.StringLiteral):
        return "string"
    if isinstance(node, (pp.MatrixSelector, pp.SubqueryExpr)):
        return "matrix"
    if isinstance(node, pp.Call):
        return _value_type(node.func.return_type)
    if isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
        return _type_of(node.expr)
    if isinstance(node, pp.BinaryExpr):
        both_scalar = _type_of(node.lhs) == _type_of(node.rhs) == "scalar"
        return "scalar" if both_scalar else "vector"
    return "vector"
