"""LogQL: Loki's query language over a `LogQuerier` (parser, log pipelines, metric queries).

Entry point: `LogQLEngine(queryable).query(text, start_ns, end_ns, step_ns, direction, limit)`.
"""

from vigil.logs.logql import ast
from vigil.logs.logql.engine import LogQLEngine
from vigil.logs.logql.errors import (
    LogQLError,
    PipelineError,
    QueryCancelledError,
    QueryLimitError,
    QueryTimeoutError,
)
from vigil.logs.logql.format import format_expr
from vigil.logs.logql.parser import parse
from vigil.logs.logql.result import (
    Direction,
    LogQLResult,
    LogQLValue,
    QueryStats,
    Stream,
    Streams,
)
from vigil.logs.query_source import ParseError

__all__ = [
    "Direction",
    "LogQLEngine",
    "LogQLError",
    "LogQLResult",
    "LogQLValue",
    "ParseError",
    "PipelineError",
    "QueryCancelledError",
    "QueryLimitError",
    "QueryStats",
    "QueryTimeoutError",
    "Stream",
    "Streams",
    "ast",
    "format_expr",
    "parse",
]
