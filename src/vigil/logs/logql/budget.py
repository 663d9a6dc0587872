"""A query's bounds: a deadline on the engine's clock, a budget of bytes read and the engine's
cancel flag (set when the server shuts down), with the counts that become its statistics."""

from __future__ import annotations

import threading

from vigil.logs._api import Entries
from vigil.logs.logql.errors import QueryCancelledError, QueryLimitError, QueryTimeoutError
from vigil.model.clock import Clock

MAX_CELLS = 50_000_000


class QueryBudget:
    def __init__(
        self,
        clock: Clock,
        timeout_s: float,
        max_bytes: int,
        cancelled: threading.Event | None = None,
    ) -> None:
        self.clock = clock
        self.cancelled = cancelled
        self.started = clock.now()
        self.deadline = self.started + timeout_s
        self.max_bytes = max_bytes
        self.lines = 0
        self.bytes = 0

    def check_deadline(self) -> None:
        """Called between batches: raises once the query is out of time or cancelled."""
        if self.cancelled is not None and self.cancelled.is_set():
            raise QueryCancelledError
        if self.clock.now() > self.deadline:
            raise QueryTimeoutError

    def read(self, entries: Entries) -> None:
        """Account one batch the store returned (before any filter)."""
        self.check_deadline()
        self.lines += len(entries)
        self.bytes += len(entries.lines.data)
        if self.bytes > self.max_bytes:
            raise QueryLimitError(
                f"the query would read more than {self.max_bytes} bytes of log lines "
                "(narrow the time range or the stream selector)"
            )

    def count(self, lines: int) -> None:
        """Account entries counted from the store's index (no line bytes read)."""
        self.check_deadline()
        self.lines += lines

    def reserve(self, cells: int) -> None:
        """Refuse a step grid (series x steps) larger than MAX_CELLS before allocating it."""
        if cells > MAX_CELLS:
            raise QueryLimitError(
                f"the query would hold {cells} samples in memory (at most {MAX_CELLS}); "
                "use a larger step or fewer series"
            )

    def elapsed(self) -> float:
        return self.clock.now() - self.started
