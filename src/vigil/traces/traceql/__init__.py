"""TraceQL: Tempo's trace query language over a `SpanQuerier` (spanset filters, `&&`/`||`
between spansets, and the pipeline stages count/avg/min/max/sum, select, by, coalesce).

Entry points: `search(querier, query, limit, spss)` for Tempo's `/api/search`,
`tag_names` and `tag_values` for its tag APIs, `parse` for the syntax tree.
"""

from vigil.logs.query_source import ParseError
from vigil.traces.traceql import ast
from vigil.traces.traceql.parser import parse
from vigil.traces.traceql.result import (
    ROOT_SPAN_NOT_YET_RECEIVED,
    MatchedSpan,
    SpanSet,
    TraceResult,
)
from vigil.traces.traceql.search import hints, needs_whole_traces, search
from vigil.traces.traceql.tags import INTRINSICS, SCOPES, TagValue, tag_names, tag_values

__all__ = [
    "INTRINSICS",
    "ROOT_SPAN_NOT_YET_RECEIVED",
    "SCOPES",
    "MatchedSpan",
    "ParseError",
    "SpanSet",
    "TagValue",
    "TraceResult",
    "ast",
    "hints",
    "needs_whole_traces",
    "parse",
    "search",
    "tag_names",
    "tag_values",
]
