"""Spansets as arrays, and the spanset expressions of `ast` applied to them.

A `Spansets` value holds many spansets at once: entry k is span `rows[k]` of spanset
`group[k]` (entries sorted by group). A span is in one spanset at most: every stage keeps
the spansets disjoint, so fields are evaluated once per entry. Per spanset it keeps its trace, the
spanset of the input it came from (`parent`, so `&&`/`||` can pair both sides' outputs of
the same input) and the `by()` values that made it. Every stage is numpy over the entries:
a filter is one mask, counts are `bincount`, min/max are `reduceat`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.traces.traceql import ast, structure
from vigil.traces.traceql.fields import Rows, Value, column, matches, numbers
from vigil.traces.traceql.table import SpanTable
from vigil.traces.traceql.value_codes import combined, value_codes

Labels = tuple[tuple[ast.Field, Value], ...]


@dataclass(frozen=True, slots=True)
class Spansets:
    rows: Rows
    group: npt.NDArray[np.intp]
    trace: npt.NDArray[np.intp]  # per spanset
    parent: npt.NDArray[np.intp]  # per spanset: its input spanset
    labels: tuple[Labels, ...]  # per spanset

    @classmethod
    def whole_traces(cls, table: SpanTable) -> Spansets:
        """One spanset per trace, holding all its spans."""
        order = np.argsort(table.trace, kind="stable").astype(np.intp)
        traces = np.arange(table.trace_count, dtype=np.intp)
        return cls(order, table.trace[order], traces, traces, ((),) * table.trace_count)

    def __len__(self) -> int:
        return len(self.trace)

    def keep_entries(self, keep: npt.NDArray[np.bool_]) -> Spansets:
        """Only the entries kept; spansets left empty are dropped."""
        group = self.group[keep]
        alive, renumbered = np.unique(group, return_inverse=True)
        return Spansets(
            self.rows[keep],
            renumbered.reshape(-1).astype(np.intp),
            self.trace[alive],
            self.parent[alive],
            tuple(self.labels[i] for i in alive.tolist()),
        )

    def keep_spansets(self, keep: npt.NDArray[np.bool_]) -> Spansets:
        return self.keep_entries(keep[self.group])

    def fresh(self) -> Spansets:
        """The same spansets, each its own parent (the input of a nested expression)."""
        return Spansets(
            self.rows, self.group, self.trace, np.arange(len(self), dtype=np.intp), self.labels
        )


def evaluate(node: ast.Spanset, table: SpanTable, inputs: Spansets) -> Spansets:
    """`node` applied to every input spanset; the outputs' `parent` is their input's."""
    if isinstance(node, ast.SpansetFilter):
        if node.field is None:
            return inputs
        return inputs.keep_entries(matches(node.field, table, inputs.rows))
    if isinstance(node, ast.Pipe):
        first = evaluate(node.lhs, table, inputs)
        second = evaluate(node.rhs, table, first.fresh())
        return _reparent(second, first.parent[second.parent])
    if isinstance(node, ast.SpansetOp):
        left = evaluate(node.lhs, table, inputs.fresh())
        right = evaluate(node.rhs, table, inputs.fresh())
        if node.op in structure.OPERATORS:
            return _structural(node.op, table, left, right, inputs)
        return _combine(node.op, left, right, inputs)
    if isinstance(node, ast.ScalarFilter):
        lhs = _scalar(node.lhs, table, inputs)
        rhs = _scalar(node.rhs, table, inputs)
        with np.errstate(invalid="ignore"):
            keep = _COMPARE[node.op](lhs, rhs) & ~np.isnan(lhs) & ~np.isnan(rhs)
        return inputs.keep_spansets(keep)
    if isinstance(node, ast.GroupBy):
        return _group_by(node.fields, table, inputs)
    if isinstance(node, ast.Coalesce):
        return _coalesce(inputs)
    return inputs  # select: the spansets pass unchanged


_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "=": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
    ">": np.greater, ">=": np.greater_equal,
}  # fmt: skip
_SCALAR_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.true_divide, "%": np.fmod,
    "^": np.power,
}  # fmt: skip


def _reparent(spansets: Spansets, parent: npt.NDArray[np.intp]) -> Spansets:
    return Spansets(spansets.rows, spansets.group, spansets.trace, parent, spansets.labels)


def _combine(op: str, lhs: Spansets, rhs: Spansets, inputs: Spansets) -> Spansets:
    """Per input spanset: `&&` keeps both sides' spans when both matched, `||` the spans of
    either; both sides' spansets of one input become one spanset."""
    count = len(inputs)
    has_lhs = np.bincount(lhs.parent, minlength=count) > 0
    has_rhs = np.bincount(rhs.parent, minlength=count) > 0
    keep = has_lhs & has_rhs if op == "&&" else has_lhs | has_rhs
    owner = np.concatenate([lhs.parent[lhs.group], rhs.parent[rhs.group]])
    rows = np.concatenate([lhs.rows, rhs.rows])
    wanted = keep[owner]
    return _per_input(owner[wanted], rows[wanted], inputs)


def _structural(
    op: str, table: SpanTable, lhs: Spansets, rhs: Spansets, inputs: Spansets
) -> Spansets:
    found = structure.relate(
        op,
        table,
        structure.Entries(lhs.parent[lhs.group], lhs.rows),
        structure.Entries(rhs.parent[rhs.group], rhs.rows),
        len(inputs),
    )
    return _per_input(found.owner, found.rows, inputs)


def _per_input(owner: Rows, rows: Rows, inputs: Spansets) -> Spansets:
    """One spanset per input spanset owning some of the (owner, row) entries, each once."""
    pairs = np.unique(np.stack([owner, rows]), axis=1)
    owner, rows = pairs[0], pairs[1]
    alive, group = np.unique(owner, return_inverse=True)
    return Spansets(
        rows.astype(np.intp),
        group.reshape(-1).astype(np.intp),
        inputs.trace[alive],
        alive.astype(np.intp),
        tuple(inputs.labels[i] for i in alive.tolist()),
    )


def _scalar(node: ast.Scalar, table: SpanTable, inputs: Spansets) -> npt.NDArray[np.float64]:
    """One number per input spanset (NaN where an aggregate has no values)."""
    count = len(inputs)
    if isinstance(node, ast.ScalarStatic):
        return np.full(count, node.value)
    if isinstance(node, ast.ScalarBinary):
        with np.errstate(all="ignore"):
            lhs, rhs = _scalar(node.lhs, table, inputs), _scalar(node.rhs, table, inputs)
            return np.asarray(_SCALAR_OPS[node.op](lhs, rhs), dtype=np.float64)
    if node.field is None:
        return np.bincount(inputs.group, minlength=count).astype(np.float64)
    found = numbers(column(node.field, table, inputs.rows), len(inputs.rows))
    present = found.present
    entry_values = found.values.astype(np.float64)[present]
    group = inputs.group[present]
    counted = np.bincount(group, minlength=count)
    result = np.full(count, np.nan)
    has = counted > 0
    if node.function in ("sum", "avg"):
        total = np.bincount(group, weights=entry_values, minlength=count)
        result[has] = total[has] / counted[has] if node.function == "avg" else total[has]
        return result
    starts = (
        np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
        if len(group)
        else np.array([], dtype=np.intp)
    )
    reduce = np.minimum if node.function == "min" else np.maximum
    if len(group):
        result[group[starts]] = reduce.reduceat(entry_values, starts)
    return result


def _group_by(fields: tuple[ast.Field, ...], table: SpanTable, inputs: Spansets) -> Spansets:
    n = len(inputs.rows)
    coded = [value_codes(column(f, table, inputs.rows), n) for f in fields]
    entry_key, first = combined([codes for codes, _ in coded], [len(d) for _, d in coded])
    keys = [
        tuple(distinct[c] if (c := int(codes[row])) >= 0 else None for codes, distinct in coded)
        for row in first.tolist()
    ]  # 1, 1.0 and true are different groups
    width = max(len(keys), 1)
    per_input = inputs.group.astype(np.int64) * width + entry_key
    order = np.lexsort((inputs.rows, per_input))
    alive, group = np.unique(per_input[order], return_inverse=True)
    old_group = (alive // width).astype(np.intp)
    return Spansets(
        inputs.rows[order],
        group.reshape(-1).astype(np.intp),
        inputs.trace[old_group],
        inputs.parent[old_group],
        tuple(
            inputs.labels[g] + tuple(zip(fields, keys[k], strict=True))
            for g, k in zip(old_group.tolist(), (alive % width).tolist(), strict=True)
        ),
    )


def _coalesce(inputs: Spansets) -> Spansets:
    """A trace's spansets become one (the first one's parent and labels)."""
    trace_of_entry = inputs.trace[inputs.group]
    pairs = np.unique(np.stack([trace_of_entry, inputs.rows]), axis=1)
    alive, group = np.unique(pairs[0], return_inverse=True)
    first = np.unique(inputs.trace, return_index=True)[1]
    return Spansets(
        pairs[1].astype(np.intp),
        group.reshape(-1).astype(np.intp),
        alive.astype(np.intp),
        inputs.parent[first],
        tuple(inputs.labels[i] for i in first.tolist()),
    )
