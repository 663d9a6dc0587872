"""LogQL's entry point: `LogQLEngine(queryable).query(text, start_ns, end_ns, ...)`.

A query reads a snapshot through `LogQueryable.querier`, so it never holds up ingestion;
callers on an event loop run `query` in a worker thread. Bounds: `max_entries` caps a log
query's `limit`, `max_bytes` the line bytes it may read, `timeout_s` its time on `clock`;
`cancel()` stops every running query at its next batch (and refuses later ones): a server
shutting down does not wait for long queries.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry, Gauge

from vigil.logs._api import LogQueryable
from vigil.logs.logql import ast
from vigil.logs.logql.budget import QueryBudget
from vigil.logs.logql.errors import QueryLimitError
from vigil.logs.logql.logquery import select_streams
from vigil.logs.logql.metric import evaluate_metric
from vigil.logs.logql.parser import parse
from vigil.logs.logql.result import Direction, LogQLResult, QueryStats
from vigil.model.clock import Clock, SystemClock

DEFAULT_MAX_ENTRIES = 5000
DEFAULT_MAX_BYTES = 150 * 10**9  # Loki's max_querier_bytes_read
DEFAULT_TIMEOUT_S = 120.0


class LogQLEngine:
    def __init__(
        self,
        queryable: LogQueryable,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Clock | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        self.queryable = queryable
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.clock = clock or SystemClock()
        self._cancelled = threading.Event()
        self._running = Gauge(
            "vigil_logql_queries_running",
            "LogQL queries being evaluated (API requests and log rules).",
            registry=registry,
        )

    def cancel(self) -> None:
        """Running and later queries raise QueryCancelledError (at their next batch)."""
        self._cancelled.set()

    def query(
        self,
        text: str,
        start_ns: int,
        end_ns: int,
        step_ns: int = 0,
        direction: Direction = Direction.BACKWARD,
        limit: int = 100,
    ) -> LogQLResult:
        """Evaluate `text` over [start_ns, end_ns]. A log query answers `Streams` (at most
        `limit` lines); a metric query a `Matrix` at each step from start to end (`step_ns`
        > 0), or a `Vector`/`Scalar` at `end_ns` when `step_ns` is 0 (an instant query).

        Raises ParseError, QueryLimitError, QueryTimeoutError, QueryCancelledError or
        PipelineError."""
        with self._running.track_inprogress():
            return self._query(text, start_ns, end_ns, step_ns, direction, limit)

    def _query(
        self,
        text: str,
        start_ns: int,
        end_ns: int,
        step_ns: int,
        direction: Direction,
        limit: int,
    ) -> LogQLResult:
        expr = parse(text)
        budget = QueryBudget(self.clock, self.timeout_s, self.max_bytes, self._cancelled)
        if isinstance(expr, ast.LogQuery):
            if limit > self.max_entries:
                raise QueryLimitError(
                    f"max entries limit per query exceeded, limit > max_entries_limit "
                    f"({limit} > {self.max_entries})"
                )
            querier = self.queryable.querier(start_ns, end_ns)
            try:
                streams = select_streams(querier, expr, direction, limit, budget)
            finally:
                querier.close()
            return LogQLResult(streams, self._stats(budget, streams.entries()))
        metric = evaluate_metric(self.queryable, expr, start_ns, end_ns, step_ns, budget)
        return LogQLResult(metric, self._stats(budget, 0))

    @staticmethod
    def _stats(budget: QueryBudget, returned: int) -> QueryStats:
        return QueryStats(budget.lines, budget.bytes, returned, budget.elapsed())
