"""Errors a LogQL query raises besides ParseError; messages are Loki's where clients show them."""

from __future__ import annotations


class LogQLError(Exception):
    """A query that cannot be answered (never a bug)."""


class QueryLimitError(LogQLError):
    """A limit of `LogQLEngine` was hit (entries, bytes); the HTTP layer answers 400."""


class QueryTimeoutError(LogQLError):
    def __init__(self) -> None:
        super().__init__("query timed out")


class QueryCancelledError(LogQLError):
    """The engine was told to stop (the server is shutting down); the HTTP layer answers 503."""

    def __init__(self) -> None:
        super().__init__("query cancelled: the server is shutting down")


class PipelineError(LogQLError):
    """A metric query met lines whose pipeline failed (Loki's wording and advice)."""

    def __init__(self, error: str, details: str) -> None:
        super().__init__(
            f"pipeline error: '{error}' for series: {details}. Use a label filter to "
            'intentionally skip this error. (e.g | __error__!=""). To skip all potential '
            'errors you can match empty errors.(e.g __error__="")'
        )
