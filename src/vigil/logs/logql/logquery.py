"""A log query over a `LogQuerier`: every batch through the pipeline, lines grouped by their
final labels, and the `limit` oldest (forward) or newest (backward) kept across streams.

Memory stays near `limit` lines: after each batch the candidates are trimmed to the best
`limit` by one stable sort of their timestamps. Once `limit` lines are held, batches wholly
older (backward) or newer (forward) than all of them are not read at all: a 24 h query for
the newest 1000 lines reads each stream's newest chunks, not the day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from vigil.logs._api import Lines, LogQuerier, SelectHints
from vigil.logs.logql import ast
from vigil.logs.logql.budget import QueryBudget
from vigil.logs.logql.pipeline import Pipeline, take_lines
from vigil.logs.logql.prefilter import query_needles
from vigil.logs.logql.result import Direction, Stream, Streams
from vigil.model import Labels

I64 = npt.NDArray[np.int64]


@dataclass(slots=True)
class _Chunk:
    labels: Labels
    ts: I64
    lines: Lines
    seq: I64  # arrival order, so equal timestamps keep it


class _Best:
    """The `limit` entries first in the query's direction among all seen so far."""

    def __init__(self, limit: int, backward: bool) -> None:
        self.limit, self.backward = limit, backward
        self.chunks: list[_Chunk] = []
        self.count = 0
        self.seen = 0
        self.bound: int | None = None  # the worst kept timestamp, once `limit` are kept

    def add(self, labels: Labels, ts: I64, lines: Lines, rows: I64) -> None:
        """Lines `rows` of a batch (`ts`, `lines`), in arrival order; only those that can
        still be among the best are copied: at most `limit`, none worse than the bound."""
        if self.limit > 0 and len(rows) > self.limit:
            rows = np.sort(rows[self._order(ts[rows], rows)[: self.limit]])
        if self.bound is not None and self.count >= self.limit:
            times = ts[rows]
            rows = rows[times >= self.bound if self.backward else times <= self.bound]
        if not len(rows):
            return
        seq = np.arange(self.seen, self.seen + len(rows), dtype=np.int64)
        self.seen += len(rows)
        self.chunks.append(_Chunk(labels, ts[rows], take_lines(lines, rows), seq))
        self.count += len(rows)
        if self.count > 2 * self.limit:
            self.trim()

    def _order(self, ts: I64, seq: I64) -> I64:
        order = np.lexsort((seq, ts))
        return order[::-1] if self.backward else order

    def trim(self) -> None:
        if self.count < self.limit or not self.chunks:
            return
        if self.count == self.limit and self.bound is not None:
            return  # trimmed already, nothing added since
        ts = np.concatenate([c.ts for c in self.chunks])
        seq = np.concatenate([c.seq for c in self.chunks])
        starts = np.cumsum([0] + [len(c.ts) for c in self.chunks])
        kept = np.zeros(len(ts), dtype=bool)
        best = self._order(ts, seq)[: self.limit]
        kept[best] = True
        self.bound = int(ts[best[-1]]) if len(best) else None
        chunks = []
        for i, chunk in enumerate(self.chunks):
            rows = np.flatnonzero(kept[starts[i] : starts[i + 1]])
            if len(rows):
                chunks.append(
                    _Chunk(
                        chunk.labels, chunk.ts[rows], take_lines(chunk.lines, rows), chunk.seq[rows]
                    )
                )
        self.chunks, self.count = chunks, self.limit

    def skip(self, mint: int, maxt: int) -> bool:
        """Whether no entry in [mint, maxt] can be among the best: all are strictly worse
        than the `limit` held (an equal time may still win on arrival order)."""
        if self.limit <= 0 or self.count < self.limit:
            return False
        self.trim()
        if self.bound is None:
            return False
        return maxt < self.bound if self.backward else mint > self.bound

    def streams(self) -> Streams:
        self.trim()
        by_labels: dict[Labels, list[_Chunk]] = {}
        for chunk in self.chunks:
            by_labels.setdefault(chunk.labels, []).append(chunk)
        out = []
        for labels in sorted(by_labels):
            chunks = by_labels[labels]
            ts = np.concatenate([c.ts for c in chunks])
            seq = np.concatenate([c.seq for c in chunks])
            lines = [line.decode("utf-8", "replace") for c in chunks for line in c.lines]
            order = self._order(ts, seq)
            out.append(Stream(labels, ts[order], tuple(lines[i] for i in order.tolist())))
        return Streams(tuple(out))


def select_streams(
    querier: LogQuerier,
    query: ast.LogQuery,
    direction: Direction,
    limit: int,
    budget: QueryBudget,
) -> Streams:
    backward = direction is Direction.BACKWARD
    pipeline = Pipeline(query.stages)
    best = _Best(limit, backward)
    hints = SelectHints(query_needles(query), backward, skip=best.skip)
    for entries in querier.select(query.matchers, hints):
        budget.read(entries)
        rows = pipeline.run(entries)
        for labels, indices in rows.groups():
            best.add(labels, rows.ts, rows.lines, indices)
    return best.streams()
