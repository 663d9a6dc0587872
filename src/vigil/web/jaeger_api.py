"""Jaeger's query-service HTTP API under `/jaeger/` (and at the root of
`--jaeger.listen-address`): services, operations, trace search, trace by id and the service
dependency graph — what Grafana's Jaeger data source and Jaeger's own UI call, in Jaeger's
JSON (`{"data", "total", "limit", "offset", "errors"}`; errors as `[{"code", "msg"}]`).

Thin: it parses parameters, asks a `SpanQuerier` in a worker thread and renders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.model.clock import Clock, SystemClock
from vigil.traces import KIND_NAMES, SpanQuerier, SpanQueryable
from vigil.web.jaeger_dependencies import dependencies
from vigil.web.jaeger_model import envelope, error_envelope, jaeger_trace
from vigil.web.trace_params import json_or_logfmt_tags, parse_duration_ns, parse_trace_id
from vigil.web.trace_search import SpanFilter, find_traces

NS_PER_US = 1_000
NS_PER_MS = 1_000_000
ALL_TIME = (0, (1 << 63) - 1)
DEFAULT_LOOKBACK_NS = 3600 * 1_000_000_000
DEFAULT_DEPENDENCY_LOOKBACK_MS = 24 * 3600 * 1000
DEFAULT_LIMIT = 100
_MS_BELOW = 10**14
_T = TypeVar("_T")


class JaegerError(Exception):
    """A request Jaeger refuses, answered as `errors: [{code, msg}]` with that status."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    def response(self) -> Response:
        body = error_envelope(self.status, [self.message])
        return Response(body, status_code=self.status, media_type="application/json")


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")


@dataclass(slots=True)
class JaegerAPI:
    queryable: SpanQueryable
    clock: Clock = field(default_factory=SystemClock)

    def routes(self, prefix: str = "/jaeger") -> list[BaseRoute]:
        """Jaeger's routes under `prefix` (`""` for the listener of its own)."""
        api = f"{prefix}/api"
        return [
            Route(f"{api}/services", self._wrap(self.services), methods=["GET"]),
            Route(f"{api}/services/{{service}}/operations", self._wrap(self.service_operations)),
            Route(f"{api}/operations", self._wrap(self.operations), methods=["GET"]),
            Route(f"{api}/traces", self._wrap(self.search), methods=["GET"]),
            Route(f"{api}/traces/{{trace_id}}", self._wrap(self.trace), methods=["GET"]),
            Route(f"{api}/dependencies", self._wrap(self.dependencies), methods=["GET"]),
        ]

    @staticmethod
    def _wrap(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except JaegerError as err:
                return err.response()

        return endpoint

    async def _ask(self, mint_ns: int, maxt_ns: int, ask: Callable[[SpanQuerier], _T]) -> _T:
        def run() -> _T:
            querier = self.queryable.querier(mint_ns, maxt_ns)
            try:
                return ask(querier)
            finally:
                querier.close()

        return await anyio.to_thread.run_sync(run)

    def _now_ns(self) -> int:
        return round(self.clock.now() * 1e9)

    async def services(self, _: Request) -> Response:
        return _json(envelope(await self._ask(*ALL_TIME, lambda q: q.services())))

    async def service_operations(self, request: Request) -> Response:
        service = request.path_params["service"]
        pairs = await self._ask(*ALL_TIME, lambda q: q.span_names(service))
        return _json(envelope(sorted({name for name, _ in pairs})))

    async def operations(self, request: Request) -> Response:
        service = request.query_params.get("service", "")
        if not service:
            raise JaegerError("parameter 'service' is required")
        kind = request.query_params.get("spanKind", "")
        pairs = await self._ask(*ALL_TIME, lambda q: q.span_names(service))
        found = [
            {"name": name, "spanKind": _kind_name(k)}
            for name, k in pairs
            if not kind or _kind_name(k) == kind
        ]
        return _json(envelope(found))

    async def trace(self, request: Request) -> Response:
        try:
            trace_id = parse_trace_id(request.path_params["trace_id"])
        except ValueError as err:
            raise JaegerError(str(err)) from None
        mint, maxt = self._optional_range(request)
        spans = await self._ask(mint, maxt, lambda q: q.trace(trace_id))
        if not len(spans):
            raise JaegerError("trace not found", status=404)
        return _json(envelope([jaeger_trace(spans)]))

    async def search(self, request: Request) -> Response:
        params = request.query_params
        ids = params.getlist("traceID")
        mint, maxt = self._search_range(request)
        if ids:
            try:
                wanted = [parse_trace_id(text) for text in ids]
            except ValueError as err:
                raise JaegerError(str(err)) from None
            found = await self._ask(mint, maxt, lambda q: q.traces(wanted))
            return _json(envelope([jaeger_trace(spans) for spans in found if len(spans)]))
        span_filter = _span_filter(request)
        limit = _int(params.get("limit", ""), "limit", DEFAULT_LIMIT)
        traces = await self._ask(mint, maxt, lambda q: find_traces(q, span_filter, limit))
        return _json(envelope([jaeger_trace(t.spans) for t in traces]))

    async def dependencies(self, request: Request) -> Response:
        params = request.query_params
        end_ms = _int(params.get("endTs", ""), "endTs", self._now_ns() // NS_PER_MS)
        lookback_ms = _int(params.get("lookback", ""), "lookback", DEFAULT_DEPENDENCY_LOOKBACK_MS)
        mint, maxt = (end_ms - lookback_ms) * NS_PER_MS, end_ms * NS_PER_MS
        found = await self._ask(mint, maxt, dependencies)
        return _json(
            envelope(
                [{"parent": d.parent, "child": d.child, "callCount": d.call_count} for d in found]
            )
        )

    def _optional_range(self, request: Request) -> tuple[int, int]:
        """`start`/`end` in microseconds when given, else all time."""
        params = request.query_params
        mint, maxt = ALL_TIME
        if params.get("start"):
            mint = _time_ns(params["start"], "start")
        if params.get("end"):
            maxt = _time_ns(params["end"], "end")
        return mint, maxt

    def _search_range(self, request: Request) -> tuple[int, int]:
        """`start`/`end` in microseconds; without `start`, `lookback` (e.g. `2h`; `custom`
        means start and end say it) or an hour before `end`; without `end`, now."""
        params = request.query_params
        maxt = self._now_ns()
        if params.get("end"):
            maxt = _time_ns(params["end"], "end")
        lookback = params.get("lookback", "")
        span = DEFAULT_LOOKBACK_NS
        if lookback and lookback != "custom":
            try:
                span = parse_duration_ns(_go_days(lookback), "lookback")
            except ValueError as err:
                raise JaegerError(str(err)) from None
        mint = maxt - span
        if params.get("start"):
            mint = _time_ns(params["start"], "start")
        if mint > maxt:
            raise JaegerError("start time is after end time")
        return mint, maxt


def _kind_name(kind: int) -> str:
    return "" if kind == 0 else KIND_NAMES[kind]


def _go_days(text: str) -> str:
    """Jaeger UI's lookbacks include days (`2d`), which Go durations lack."""
    if text.endswith("d") and text[:-1].isdigit():
        return f"{int(text[:-1]) * 24}h"
    return text


def _time_ns(text: str, name: str) -> int:
    """A time in microseconds, as Jaeger reads `start` and `end`; a value too small to be
    one since 1973 is taken as milliseconds, which Grafana's trace-by-id time window sends."""
    value = _int(text, name, 0)
    return value * (NS_PER_MS if abs(value) < _MS_BELOW else NS_PER_US)


def _int(text: str, name: str, default: int) -> int:
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise JaegerError(f"unable to parse param '{name}': {text!r} is not an integer") from None


def _span_filter(request: Request) -> SpanFilter:
    params = request.query_params
    service = params.get("service", "")
    if not service:
        raise JaegerError("parameter 'service' is required")
    try:
        tags = json_or_logfmt_tags(params["tags"]) if params.get("tags") else ()
        tags += tuple((k, v) for k, _, v in (t.partition(":") for t in params.getlist("tag")))
        low = (
            parse_duration_ns(params["minDuration"], "minDuration")
            if params.get("minDuration")
            else None
        )
        high = (
            parse_duration_ns(params["maxDuration"], "maxDuration")
            if params.get("maxDuration")
            else None
        )
    except ValueError as err:
        raise JaegerError(str(err)) from None
    if low is not None and high is not None and high < low:
        raise JaegerError("'maxDuration' should be greater than 'minDuration'")
    return SpanFilter(
        service=service,
        name=params.get("operation", ""),
        tags=tags,
        min_duration_ns=low,
        max_duration_ns=high,
    )
