"""TraceQL: Tempo's trace query language over a `SpanQuerier` (spanset filters, `&&`/`||`
between spansets, and the pipeline stages count/avg/min/max/sum, select, by, coalesce)."""

from vigil.traces.traceql import ast
from vigil.traces.traceql._lex import ParseError
from vigil.traces.traceql.parser import parse

__all__ = ["ParseError", "ast", "parse"]
