"""Tempo's query API under `/tempo/` (and at the root of `--tempo.listen-address`): what
Grafana's Tempo data source calls — echo (Save & test), trace by id v2 and v1 (protobuf for
`Accept: application/protobuf`, OTLP JSON otherwise), search, tag names and values v1/v2,
TraceQL metrics over a range, build info and readiness. Errors are Tempo's: plain text, 400
for bad parameters, 404 for an unknown trace.

Thin: it parses parameters, asks a `SpanQuerier` in a worker thread and renders."""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

import vigil
from vigil.model.clock import Clock, SystemClock
from vigil.traces import SpanQuerier, SpanQueryable, Spans, traceql
from vigil.traces.traceql.metrics import query_instant, query_range
from vigil.web import tempo_metrics
from vigil.web.tempo_search import (
    NS_PER_S,
    TempoError,
    search_answer,
    search_request,
    seconds_range,
    service_stats,
    traceql_answer,
    traceql_request,
)
from vigil.web.trace_params import parse_trace_id
from vigil.web.trace_search import find_traces

PROTOBUF = "application/protobuf"
ALL_TIME = (0, (1 << 63) - 1)
_T = TypeVar("_T")


def _json(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


@dataclass(slots=True)
class TempoAPI:
    queryable: SpanQueryable
    clock: Clock = field(default_factory=SystemClock)
    not_ready: Callable[[], str | None] = lambda: None

    def routes(self, prefix: str = "/tempo") -> list[BaseRoute]:
        """Tempo's routes under `prefix` (`""` for the listener of its own)."""
        api = f"{prefix}/api"
        return [
            Route(f"{api}/echo", self.echo, methods=["GET"]),
            Route(f"{prefix}/ready", self.ready, methods=["GET"]),
            Route(f"{api}/status/buildinfo", self.buildinfo, methods=["GET"]),
            Route(f"{api}/v2/traces/{{trace_id}}", self._wrap(self.trace_v2), methods=["GET"]),
            Route(f"{api}/traces/{{trace_id}}", self._wrap(self.trace_v1), methods=["GET"]),
            Route(f"{api}/search", self._wrap(self.search), methods=["GET"]),
            Route(
                f"{api}/metrics/query_range",
                self._wrap(self.metrics_query_range),
                methods=["GET"],
            ),
            Route(f"{api}/metrics/query", self._wrap(self.metrics_query), methods=["GET"]),
            Route(f"{api}/search/tags", self._wrap(self.tags_v1), methods=["GET"]),
            Route(f"{api}/v2/search/tags", self._wrap(self.tags_v2), methods=["GET"]),
            Route(f"{api}/search/tag/{{tag}}/values", self._wrap(self.values_v1), methods=["GET"]),
            Route(
                f"{api}/v2/search/tag/{{tag}}/values", self._wrap(self.values_v2), methods=["GET"]
            ),
        ]

    @staticmethod
    def _wrap(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except TempoError as err:
                return PlainTextResponse(err.message + "\n", status_code=err.status)

        return endpoint

    async def _ask(self, span: tuple[int, int], ask: Callable[[SpanQuerier], _T]) -> _T:
        def run() -> _T:
            querier = self.queryable.querier(*span)
            try:
                return ask(querier)
            finally:
                querier.close()

        return await anyio.to_thread.run_sync(run)

    def _now_ns(self) -> int:
        return round(self.clock.now() * NS_PER_S)

    async def echo(self, _: Request) -> Response:
        return PlainTextResponse("echo")

    async def ready(self, _: Request) -> Response:
        problem = self.not_ready()
        if problem is not None:
            return PlainTextResponse(f"Not ready: {problem}\n", status_code=503)
        return PlainTextResponse("ready\n")

    async def buildinfo(self, _: Request) -> Response:
        return _json(
            {
                "version": vigil.__version__,
                "revision": "",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": f"python{platform.python_version()}",
            }
        )

    async def _trace(self, request: Request) -> Spans:
        try:
            trace_id = parse_trace_id(request.path_params["trace_id"])
        except ValueError as err:
            raise TempoError(str(err)) from None
        span = ALL_TIME
        if request.query_params.get("start") or request.query_params.get("end"):
            span = seconds_range(request.query_params, self._now_ns())
            span = (span[0], span[1] + NS_PER_S - 1)
        spans = await self._ask(span, lambda q: q.trace(trace_id))
        if not len(spans):
            raise TempoError("trace not found", status=404)
        return spans

    async def trace_v2(self, request: Request) -> Response:
        from vigil.web.tempo_trace import batches_json, trace_by_id_protobuf  # protobuf classes

        spans = await self._trace(request)
        if _wants_protobuf(request):
            return Response(trace_by_id_protobuf(spans), media_type=PROTOBUF)
        return _json({"trace": {"resourceSpans": batches_json(spans)}})

    async def trace_v1(self, request: Request) -> Response:
        from vigil.web.tempo_trace import batches_json, trace_protobuf

        spans = await self._trace(request)
        if _wants_protobuf(request):
            return Response(trace_protobuf(spans), media_type=PROTOBUF)
        return _json({"batches": batches_json(spans)})

    async def search(self, request: Request) -> Response:
        """TraceQL when `q` is given (Grafana's search builder sends `{}` for every trace),
        else the legacy search by `tags`, `minDuration` and `maxDuration`."""
        params = request.query_params
        span = seconds_range(params, self._now_ns())
        if params.get("q", "").strip():
            query = traceql_request(params)

            def run(querier: SpanQuerier) -> dict[str, Any]:
                found = traceql.search(querier, query.query, query.limit, query.spans_per_set)
                return traceql_answer(found, service_stats(querier, found))

            return _json(await self._ask(span, run))
        wanted = search_request(params)
        traces = await self._ask(
            span, lambda q: find_traces(q, wanted.span_filter, wanted.limit, wanted.keep)
        )
        return _json(search_answer(traces, wanted))

    async def metrics_query_range(self, request: Request) -> Response:
        """A TraceQL metrics query (`| rate()`, `| count_over_time()`) over a range by step."""
        wanted = tempo_metrics.range_request(request.query_params, self._now_ns())
        series = await self._ask(
            wanted.span,
            lambda q: query_range(q, wanted.query, wanted.start_ns, wanted.end_ns, wanted.step_ns),
        )
        return _json(tempo_metrics.range_answer(series))

    async def metrics_query(self, request: Request) -> Response:
        """A TraceQL metrics query's one value per series over `start`/`end`."""
        wanted = tempo_metrics.instant_request(request.query_params, self._now_ns())
        series = await self._ask(
            (wanted.start_ns, wanted.end_ns),
            lambda q: query_instant(q, wanted.query, wanted.start_ns, wanted.end_ns),
        )
        return _json(tempo_metrics.instant_answer(series))

    @staticmethod
    def _scope(request: Request) -> str | None:
        """`scope`; empty or `none` means every scope."""
        scope = request.query_params.get("scope", "")
        return None if scope in ("", "none") else scope

    async def _tags(self, request: Request, ask: Callable[[SpanQuerier], _T], tag: str = "") -> _T:
        """A tag API's answer from vigil's TraceQL tag autocomplete, over `start`/`end` (the
        last hour by default); a bad `q`, scope or tag is a 400 that names it."""
        query = request.query_params.get("q", "")
        if query.strip():
            try:
                traceql.parse(query)
            except traceql.ParseError as err:
                raise TempoError(f"invalid TraceQL query: {err}") from None
        span = seconds_range(request.query_params, self._now_ns())
        try:
            return await self._ask(span, ask)
        except traceql.ParseError as err:
            raise TempoError(f"invalid tag {tag!r}: {err.message}") from None
        except ValueError as err:
            raise TempoError(str(err)) from None

    async def tags_v1(self, request: Request) -> Response:
        """Tag names of one scope, or the span and resource ones together."""
        scope, query = self._scope(request), request.query_params.get("q")
        names = await self._tags(request, lambda q: traceql.tag_names(q, scope, query))
        if scope is None:
            return _json({"tagNames": sorted({*names["resource"], *names["span"]})})
        return _json({"tagNames": names[scope]})

    async def tags_v2(self, request: Request) -> Response:
        scope, query = self._scope(request), request.query_params.get("q")
        names = await self._tags(request, lambda q: traceql.tag_names(q, scope, query))
        return _json({"scopes": [{"name": s, "tags": tags} for s, tags in names.items()]})

    async def values_v1(self, request: Request) -> Response:
        """Values of an unscoped attribute as strings; `name` and `status.code` are the
        span's intrinsics, as Tempo's v1 search had them."""
        tag = request.path_params["tag"]
        field = _V1_INTRINSICS.get(tag, f".{tag}")
        query = request.query_params.get("q")
        values = await self._tags(request, lambda q: traceql.tag_values(q, field, query), tag)
        return _json({"tagValues": sorted({v.value for v in values})})

    async def values_v2(self, request: Request) -> Response:
        tag, query = request.path_params["tag"], request.query_params.get("q")
        values = await self._tags(request, lambda q: traceql.tag_values(q, tag, query), tag)
        return _json({"tagValues": [{"type": v.type, "value": v.value} for v in values]})


_V1_INTRINSICS = {"name": "name", "status.code": "status"}


def _wants_protobuf(request: Request) -> bool:
    return PROTOBUF in request.headers.get("accept", "")
