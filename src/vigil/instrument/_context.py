"""The request's context, in a contextvar: what every log record of the request carries
(Java's MDC) and what a handler asks for its client's address."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar, Token
from dataclasses import dataclass, field

SpanIds = Callable[[], "tuple[str, str] | None"]


@dataclass(frozen=True, slots=True)
class RequestInfo:
    """What a `context` hook sees of a request, whatever the framework: header names are
    lower-case, several lines of one header joined by commas."""

    method: str
    path: str
    headers: Mapping[str, str]
    client_ip: str


@dataclass(slots=True)
class RequestContext:
    """One request's fields; one object shared by every task and thread the request runs
    in, so a field bound in a handler reaches the access log written after it."""

    client_ip: str | None = None
    method: str | None = None
    path: str | None = None
    route: str | None = None
    status: int | None = None
    duration_s: float | None = None
    trace_id: str | None = None
    span_id: str | None = None
    fields: dict[str, object] = field(default_factory=dict)
    span_ids: SpanIds | None = None
    route_source: Callable[[], str | None] | None = None

    def capture_span(self) -> None:
        """Keep the ids of the span now current, for records written after it ended."""
        ids = self.span_ids() if self.span_ids is not None else None
        if ids is not None:
            self.trace_id, self.span_id = ids

    def mdc(self) -> dict[str, object]:
        """The fields set so far, as a log record's top-level JSON fields."""
        out: dict[str, object] = {}
        if self.route is None and self.route_source is not None:
            self.route = self.route_source()
        for name in ("client_ip", "method", "path", "route", "status"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        if self.duration_s is not None:
            out["duration_ms"] = round(self.duration_s * 1000, 3)
        ids = self.span_ids() if self.span_ids is not None else None
        trace_id, span_id = ids if ids is not None else (self.trace_id, self.span_id)
        if trace_id is not None:
            out["trace_id"] = trace_id
            out["span_id"] = span_id
        out.update(self.fields)
        return out


_CURRENT: ContextVar[RequestContext | None] = ContextVar("vigil_instrument_request", default=None)


def current() -> RequestContext | None:
    """The context of the request being served, None outside one."""
    return _CURRENT.get()


def client_ip() -> str | None:
    """The client's address (behind the trusted proxies) of the request being served."""
    context = _CURRENT.get()
    return None if context is None else context.client_ip


def bind(**fields: object) -> None:
    """Add fields (a user or appointment id) to every later log record of the request,
    its access log included; outside a request, to the records of the current context."""
    context = _CURRENT.get()
    if context is None:
        context = RequestContext()
        _CURRENT.set(context)
    context.fields.update(fields)


def enter(context: RequestContext) -> Token[RequestContext | None]:
    return _CURRENT.set(context)


def leave(token: Token[RequestContext | None]) -> None:
    _CURRENT.reset(token)
