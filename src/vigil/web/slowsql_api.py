"""`GET /api/v1/traces/slow_sql`: the slowest database statements from spans, for the UI's
slow-SQL table (the answer's shape is in `vigil.traces.slowsql`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.traces.slowsql import SlowStatement
from vigil.web.api import APIError, failure, parse_duration, success

DEFAULT_WINDOW_MS = 3_600_000
MAX_WINDOW_MS = 24 * 3_600_000
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000


class SlowStatementSource(Protocol):
    """What the route reads; `vigil.traces.spanmetrics_generator.MetricsGenerator` is one."""

    def slow_statements(
        self, window_s: float, service: str | None = None, limit: int = 20
    ) -> list[SlowStatement]: ...


class SlowSQLAPI:
    """`source()` is None while traces are off: the route then answers an empty table."""

    def __init__(self, source: Callable[[], SlowStatementSource | None]) -> None:
        self._source = source

    def routes(self, prefix: str = "") -> list[BaseRoute]:
        return [Route(f"{prefix}/api/v1/traces/slow_sql", self.slow_sql, methods=["GET"])]

    async def slow_sql(self, request: Request) -> Response:
        params = request.query_params
        try:
            window_ms = DEFAULT_WINDOW_MS
            if params.get("window"):
                window_ms = parse_duration(params["window"], "window")
            if not 0 < window_ms <= MAX_WINDOW_MS:
                raise APIError("bad_data", 'invalid parameter "window": must be in (0, 24h]')
            limit = _limit(params.get("limit"))
        except APIError as err:
            return failure(err)
        source = self._source()
        rows = (
            []
            if source is None
            else source.slow_statements(window_ms / 1000, params.get("service") or None, limit)
        )
        return success({"window_seconds": window_ms / 1000, "statements": [_row(r) for r in rows]})


def _limit(text: str | None) -> int:
    if not text:
        return DEFAULT_LIMIT
    if not text.isdigit() or not 0 < int(text) <= MAX_LIMIT:
        raise APIError(
            "bad_data", f'invalid parameter "limit": want 1 to {MAX_LIMIT}, got "{text}"'
        )
    return int(text)


def _row(row: SlowStatement) -> dict[str, object]:
    return {
        "service": row.service,
        "db_system": row.db_system,
        "statement": row.statement,
        "calls": row.calls,
        "p95_seconds": row.p95_s,
        "max_seconds": row.max_s,
        "examples": [
            {
                "trace_id": e.trace_id.hex(),
                "span_id": e.span_id.hex(),
                "duration_seconds": e.duration_s,
                "time": e.time_s,
            }
            for e in row.examples
        ],
    }
