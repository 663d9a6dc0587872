"""TraceQL's structural operators between spansets, as Tempo evaluates them: per input
spanset, `{A} > {B}` keeps the B spans whose parent is an A span, `<` the B spans that are
the parent of an A span, `>>` the B descendants of an A span, `<<` the B ancestors of one,
`~` the B spans sharing a parent with an A span (not themselves); `!` keeps the B spans
the plain operator would not (when both sides matched something), `&` keeps the related
spans of both sides.

Relations are read off each span's parent in the query's table (its whole traces), so a
span's ancestry runs through spans neither side matched. Numpy over entries: an ancestor
walk is one step per level for all spans at once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from vigil.model.sorted_set import sorted_set
from vigil.traces.distinct import id_keys
from vigil.traces.traceql import ast
from vigil.traces.traceql.table import SpanTable

I64 = npt.NDArray[np.int64]
Rows = npt.NDArray[np.intp]
Mask = npt.NDArray[np.bool_]

CHILD, PARENT, DESCENDANT, ANCESTOR, SIBLING = ">", "<", ">>", "<<", "~"
OPERATORS = frozenset(
    f"{prefix}{op}"
    for prefix in ("", "!", "&")
    for op in (CHILD, PARENT, DESCENDANT, ANCESTOR, SIBLING)
)
_INVERSE = {
    CHILD: PARENT,
    PARENT: CHILD,
    DESCENDANT: ANCESTOR,
    ANCESTOR: DESCENDANT,
    SIBLING: SIBLING,
}


def used_in(node: ast.Spanset) -> bool:
    """Whether the query relates spans by structure (then it needs their whole traces)."""
    if isinstance(node, ast.SpansetOp):
        return node.op in OPERATORS or used_in(node.lhs) or used_in(node.rhs)
    if isinstance(node, ast.Pipe):
        return used_in(node.lhs) or used_in(node.rhs)
    return False


@dataclass(frozen=True, slots=True)
class Entries:
    """Spans of spansets: entry k is span `rows[k]` of input spanset `owner[k]`."""

    owner: Rows
    rows: Rows


def relate(op: str, table: SpanTable, lhs: Entries, rhs: Entries, inputs: int) -> Entries:
    """The entries `lhs op rhs` keeps, per input spanset (of `inputs`); may repeat an entry."""
    tree = _Tree(table)
    relation = op.lstrip("!&")
    matched = tree.related(relation, lhs, rhs)
    if op.startswith("!"):
        has_lhs = np.bincount(lhs.owner, minlength=inputs) > 0
        keep = ~matched & has_lhs[rhs.owner]
        return Entries(rhs.owner[keep], rhs.rows[keep])
    if not op.startswith("&"):
        return Entries(rhs.owner[matched], rhs.rows[matched])
    found = Entries(rhs.owner[matched], rhs.rows[matched])
    back = tree.related(_INVERSE[relation], found, lhs)
    return Entries(
        np.concatenate([found.owner, lhs.owner[back]]),
        np.concatenate([found.rows, lhs.rows[back]]),
    )


class _Tree:
    """Each span's parent row in the table (-1: a root, or a parent not stored)."""

    def __init__(self, table: SpanTable) -> None:
        self._table = table
        self._n = max(len(table), 1)

    @cached_property
    def _up(self) -> npt.NDArray[np.void]:
        spans = self._table.spans
        return id_keys(spans.trace_ids, spans.parent_ids)

    @cached_property
    def parent(self) -> Rows:
        spans = self._table.spans
        own = id_keys(spans.trace_ids, spans.span_ids)
        order = np.argsort(own, kind="stable")
        ordered = own[order]
        at = np.searchsorted(ordered, self._up)
        clipped = np.minimum(at, max(len(order) - 1, 0))
        found = (at < len(order)) & (spans.parent_id_words() != 0)
        found &= ordered[clipped] == self._up if len(order) else found
        return np.where(found, order[clipped] if len(order) else -1, -1).astype(np.intp)

    @cached_property
    def sibling_group(self) -> I64:
        """Spans with the same parent id in the same trace share a number; -1 for roots."""
        _, group = np.unique(self._up, return_inverse=True)
        roots = self._table.spans.parent_id_words() == 0
        return np.where(roots, -1, group.reshape(-1)).astype(np.int64)

    @cached_property
    def depth_cap(self) -> int:
        """No ancestor chain is longer than the largest trace (a loop of bad parent ids
        stops there)."""
        counts = np.bincount(self._table.trace) if len(self._table) else np.zeros(1)
        return int(counts.max(initial=0))

    def related(self, relation: str, src: Entries, dst: Entries) -> Mask:
        """Per dst entry: whether it is `relation` of a src entry of the same input
        (e.g. CHILD: dst's parent is a src span)."""
        if not len(src.rows) or not len(dst.rows):
            return np.zeros(len(dst.rows), dtype=bool)
        n = self._n
        if relation == CHILD:
            parent = self.parent[dst.rows]
            return (parent >= 0) & np.isin(_key(dst.owner, parent, n), _key(src.owner, src.rows, n))
        if relation == PARENT:
            parent = self.parent[src.rows]
            wanted = _key(src.owner[parent >= 0], parent[parent >= 0], n)
            return np.isin(_key(dst.owner, dst.rows, n), wanted)
        if relation == DESCENDANT:
            return self._below(src, dst)
        if relation == ANCESTOR:
            return np.isin(_key(dst.owner, dst.rows, n), self._ancestors(src))
        return self._siblings(src, dst)

    def _below(self, src: Entries, dst: Entries) -> Mask:
        """Whether a src entry of the same input is an ancestor of each dst entry."""
        n = self._n
        wanted = sorted_set(_key(src.owner, src.rows, n))
        matched = np.zeros(len(dst.rows), dtype=bool)
        live = np.arange(len(dst.rows), dtype=np.intp)
        above = self.parent[dst.rows]
        for _ in range(self.depth_cap):
            keep = above[live] >= 0
            live = live[keep]
            if not len(live):
                break
            hit = np.isin(_key(dst.owner[live], above[live], n), wanted)
            matched[live[hit]] = True
            live = live[~hit]
            above[live] = self.parent[above[live]]
        return matched

    def _ancestors(self, src: Entries) -> I64:
        """Keys (input, row) of every ancestor of every src entry."""
        n = self._n
        found: list[I64] = []
        owner, above = src.owner, self.parent[src.rows]
        for _ in range(self.depth_cap):
            keep = above >= 0
            owner, above = owner[keep], above[keep]
            if not len(above):
                break
            found.append(_key(owner, above, n))
            above = self.parent[above]
        return sorted_set(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)

    def _siblings(self, src: Entries, dst: Entries) -> Mask:
        """Whether another span of the same input's src entries has dst's parent."""
        groups = max(len(self._table), 1)
        src_group = self.sibling_group[src.rows]
        has = src_group >= 0
        src_keys, counts = np.unique(
            _key(src.owner[has], src_group[has], groups), return_counts=True
        )
        dst_group = self.sibling_group[dst.rows]
        keys = _key(dst.owner, dst_group, groups)
        at = np.searchsorted(src_keys, keys)
        at_clipped = np.minimum(at, max(len(src_keys) - 1, 0))
        same = (at < len(src_keys)) & (src_keys[at_clipped] == keys) if len(src_keys) else at < 0
        among = np.where(same, counts[at_clipped] if len(counts) else 0, 0)
        itself = np.isin(_key(dst.owner, dst.rows, self._n), _key(src.owner, src.rows, self._n))
        return (dst_group >= 0) & (among - itself > 0)


def _key(owner: Rows, rows: npt.NDArray[np.integer], n: int) -> I64:
    return owner.astype(np.int64) * n + rows.astype(np.int64)
