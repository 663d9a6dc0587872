"""LogQL: Loki's query language over a `LogQuerier` (parser, log pipelines, metric queries).

Entry point: `LogQLEngine(queryable).query(text, start_ns, end_ns, step_ns, direction, limit)`.
The names below are loaded by their first use: a server that only parses its log rules at
start (the default pack's) imports the engine with its first log query.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_HOMES = {
    "Direction": "vigil.logs.logql.result",
    "LogQLEngine": "vigil.logs.logql.engine",
    "LogQLError": "vigil.logs.logql.errors",
    "LogQLResult": "vigil.logs.logql.result",
    "LogQLValue": "vigil.logs.logql.result",
    "ParseError": "vigil.logs.query_source",
    "PipelineError": "vigil.logs.logql.errors",
    "QueryCancelledError": "vigil.logs.logql.errors",
    "QueryLimitError": "vigil.logs.logql.errors",
    "QueryStats": "vigil.logs.logql.result",
    "QueryTimeoutError": "vigil.logs.logql.errors",
    "Stream": "vigil.logs.logql.result",
    "Streams": "vigil.logs.logql.result",
    "format_expr": "vigil.logs.logql.format",
    "parse": "vigil.logs.logql.parser",
}

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


def __getattr__(name: str) -> Any:
    if name == "ast":
        value: Any = importlib.import_module("vigil.logs.logql.ast")
    elif name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value
