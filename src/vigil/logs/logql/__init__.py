"""LogQL: Loki's query language over a `LogQuerier` (parser, log pipelines, metric queries)."""

from vigil.logs.logql import ast
from vigil.logs.logql._lex import ParseError
from vigil.logs.logql.format import format_expr
from vigil.logs.logql.parser import parse

__all__ = ["ParseError", "ast", "format_expr", "parse"]
