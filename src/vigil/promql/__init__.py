"""PromQL: parsing by `promql_parser` (Prometheus's grammar), evaluation vectorised with numpy
over whole series and every step of a query at once."""

from vigil.promql.engine import Engine, EngineOptions, Queryable
from vigil.promql.errors import (
    InvalidQueryError,
    ParseError,
    PromQLError,
    QueryCancelledError,
    QueryError,
    QueryTimeoutError,
    TooManySamplesError,
    UnsupportedFeatureError,
)
from vigil.promql.parser import parse
from vigil.promql.value import Matrix, QueryResult, Sample, Scalar, Series, String, Vector

__all__ = [
    "Engine",
    "EngineOptions",
    "InvalidQueryError",
    "Matrix",
    "ParseError",
    "PromQLError",
    "QueryCancelledError",
    "QueryError",
    "QueryResult",
    "QueryTimeoutError",
    "Queryable",
    "Sample",
    "Scalar",
    "Series",
    "String",
    "TooManySamplesError",
    "UnsupportedFeatureError",
    "Vector",
    "parse",
]
