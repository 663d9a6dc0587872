"""Errors a PromQL query can raise; messages match Prometheus's where clients depend on them."""

from __future__ import annotations


class PromQLError(Exception):
    """Base of every error the engine raises for a query (never for a bug)."""


class ParseError(PromQLError):
    """The query text is not valid PromQL; `message` is the parser's own wording, `position`
    Prometheus's (line, column) of the error when known (`1:14: parse error: ...`)."""

    def __init__(
        self, message: str, query: str = "", position: tuple[int, int] | None = None
    ) -> None:
        where = f"{position[0]}:{position[1]}: " if position else ""
        super().__init__(f"{where}parse error: {message}")
        self.message = message
        self.query = query
        self.position = position


class UnsupportedFeatureError(PromQLError):
    """Valid PromQL that vigil does not evaluate yet (native histograms, experimental syntax)."""


class InvalidQueryError(PromQLError):
    """Valid PromQL of a type the request cannot answer (a range vector for a range query):
    the client's mistake, like a parse error."""


class QueryError(PromQLError):
    """The query is valid but its evaluation failed (e.g. many-to-many matching)."""


class TooManySamplesError(QueryError):
    """The query would hold more samples in memory than `max_samples` allows."""

    def __init__(self) -> None:
        super().__init__(
            "query processing would load too many samples into memory in query execution"
        )


class QueryTimeoutError(QueryError):
    """The query ran longer than its deadline."""

    def __init__(self, where: str = "expression evaluation") -> None:
        super().__init__(f"query timed out in {where}")


class QueryCancelledError(QueryError):
    """The server is shutting down: running queries stop at their next step, later ones are
    refused."""

    def __init__(self) -> None:
        super().__init__("query cancelled: the server is shutting down")


class StorageError(QueryError):
    """Storage could not read data the query needs (a corrupt block); the message names it."""
