"""Loki's HTTP read API under `/loki/` (label browser, series, index stats and volume, build
info, readiness): what Grafana's Loki data source and `logcli` call, in Loki's JSON shapes
(`{"status":"success","data":...}`; `index/stats` and `status/buildinfo` bare) and with
Loki's plain-text 400s. `X-Scope-OrgID` is accepted and ignored: vigil has one tenant.

Thin: it parses parameters, asks a `LogQuerier` (in a worker thread: a disk store reads
files) and renders. The same routes serve the main port and `--loki.listen-address`."""

from __future__ import annotations

import platform
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import anyio.to_thread
import orjson
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket

import vigil
from vigil.logs import LogQuerier, LogQueryable, logql
from vigil.logs.logql.engine import LogQLEngine
from vigil.model import Labels, Matcher
from vigil.model.clock import Clock, SystemClock
from vigil.rules.group import Group
from vigil.web.loki_categories import wanted
from vigil.web.loki_detected import (
    DEFAULT_FIELD_LIMIT,
    DEFAULT_LINE_LIMIT,
    detected_field_values,
    detected_fields,
)
from vigil.web.loki_params import (
    NS_PER_S,
    Bounds,
    Direction,
    LokiError,
    Params,
    bounds,
    first,
    parse_duration_ns,
    read_params,
)
from vigil.web.loki_query import instant, ranged, run_query
from vigil.web.loki_rules import LokiRulerAPI
from vigil.web.loki_tail import serve_tail
from vigil.web.loki_volume import DEFAULT_VOLUME_LIMIT, VolumeQuery, volume, volume_range

Handler = Callable[[Params, Request], Awaitable[Response]]
_T = TypeVar("_T")


def stream_selector(text: str) -> list[Matcher]:
    """The matchers of a stream selector (`{job="app"}`), as the `query` and `match[]` of
    labels, series, index stats and volume take it; a log query's pipeline is ignored.
    Anything else is refused in Loki's words."""
    try:
        expr = logql.parse(text)
    except logql.ParseError as err:
        raise LokiError(str(err)) from None
    if not isinstance(expr, logql.ast.LogQuery):
        raise LokiError("only label matchers is supported")
    return list(expr.matchers)


@dataclass(slots=True)
class LokiContext:
    """What the API reads from the rest of the process; each piece passed in by the server
    (`engine`: LogQL over `queryable` with the server's query limits; by default, Loki's;
    `rule_groups`: the Loki-ruler groups the ruler API lists)."""

    queryable: LogQueryable
    clock: Clock = field(default_factory=SystemClock)
    not_ready: Callable[[], str | None] = lambda: None
    engine: LogQLEngine | None = None
    rule_groups: Callable[[], list[Group]] = list


def success(data: object) -> Response:
    return json_response({"status": "success", "data": data})


def json_response(body: object) -> Response:
    return Response(orjson.dumps(body), media_type="application/json")


class LokiAPI:
    def __init__(self, ctx: LokiContext) -> None:
        self.ctx = ctx
        self.engine = ctx.engine or LogQLEngine(ctx.queryable, clock=ctx.clock)

    def routes(self) -> list[BaseRoute]:
        """The routes of the main port: everything under `/loki/`."""
        both = ["GET", "POST"]
        v1 = "/loki/api/v1"
        return [
            Route(f"{v1}/query", self._wrap(self.query), methods=both),
            Route(f"{v1}/query_range", self._wrap(self.query_range), methods=both),
            WebSocketRoute(f"{v1}/tail", self.tail),
            Route(f"{v1}/labels", self._wrap(self.labels), methods=["GET"]),
            Route(f"{v1}/label", self._wrap(self.labels), methods=["GET"]),
            Route(f"{v1}/label/{{name}}/values", self._wrap(self.label_values), methods=["GET"]),
            Route(f"{v1}/series", self._wrap(self.series), methods=both),
            Route(f"{v1}/index/stats", self._wrap(self.index_stats), methods=both),
            Route(f"{v1}/detected_fields", self._wrap(self.detected_fields), methods=["GET"]),
            Route(
                f"{v1}/detected_field/{{name}}/values",
                self._wrap(self.detected_field_values),
                methods=["GET"],
            ),
            Route(f"{v1}/index/volume", self._wrap(self.index_volume), methods=both),
            Route(f"{v1}/index/volume_range", self._wrap(self.index_volume_range), methods=both),
            Route(f"{v1}/status/buildinfo", self._wrap(self.buildinfo), methods=["GET"]),
            Route(f"{v1}/format_query", self._wrap(self.format_query), methods=both),
            Route("/loki/ready", self.ready, methods=["GET"]),
            *LokiRulerAPI(self.ctx.rule_groups).routes(),
        ]

    def listener_routes(self) -> list[BaseRoute]:
        """The routes of `--loki.listen-address`: the same, plus Loki's own `/ready`."""
        return [*self.routes(), Route("/ready", self.ready, methods=["GET"])]

    @staticmethod
    def _wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(await read_params(request), request)
            except LokiError as err:
                return err.response()

        return endpoint

    def _now_ns(self) -> int:
        return round(self.ctx.clock.now() * NS_PER_S)

    @staticmethod
    def _matchers(text: str) -> list[Matcher]:
        return stream_selector(text)

    async def _ask(self, span: Bounds, ask: Callable[[LogQuerier], _T]) -> _T:
        def run() -> _T:
            querier = self.ctx.queryable.querier(span.start_ns, span.end_ns)
            try:
                return ask(querier)
            finally:
                querier.close()

        return await anyio.to_thread.run_sync(run)

    async def query(self, params: Params, _: Request) -> Response:
        return await instant(self.engine, params, self._now_ns())

    async def query_range(self, params: Params, request: Request) -> Response:
        categorize = wanted(request.headers)
        return await ranged(self.engine, params, self._now_ns(), categorize)

    async def tail(self, websocket: WebSocket) -> None:
        params: Params = {}
        for key, value in websocket.query_params.multi_items():
            params.setdefault(key, []).append(value)
        await serve_tail(websocket, params, self.engine, self.ctx.clock)

    async def labels(self, params: Params, _: Request) -> Response:
        span = bounds(params, self._now_ns())
        matchers = self._matchers(first(params, "query")) if first(params, "query") else []
        return success(await self._ask(span, lambda q: q.label_names(matchers)))

    async def label_values(self, params: Params, request: Request) -> Response:
        name = request.path_params["name"]
        span = bounds(params, self._now_ns())
        matchers = self._matchers(first(params, "query")) if first(params, "query") else []
        return success(await self._ask(span, lambda q: q.label_values(name, matchers)))

    async def series(self, params: Params, _: Request) -> Response:
        span = bounds(params, self._now_ns())
        selectors = [self._matchers(text) for text in params.get("match[]", [])] or [[]]

        def union(querier: LogQuerier) -> list[Labels]:
            found = {labels for matchers in selectors for labels in querier.series(matchers)}
            return sorted(found)

        return success([dict(labels) for labels in await self._ask(span, union)])

    async def index_stats(self, params: Params, _: Request) -> Response:
        span = bounds(params, self._now_ns())
        matchers = self._matchers(first(params, "query"))
        stats = await self._ask(span, lambda q: q.stats(matchers))
        return json_response(
            {
                "streams": stats.streams,
                "chunks": stats.chunks,
                "bytes": stats.bytes,
                "entries": stats.entries,
            }
        )

    def _volume_query(self, params: Params) -> VolumeQuery:
        matchers = self._matchers(first(params, "query"))
        targets = [name for name in first(params, "targetLabels").split(",") if name]
        aggregate_by = first(params, "aggregateBy") or "series"
        if aggregate_by != "series":
            raise LokiError(f"unsupported aggregateBy '{aggregate_by}': vigil aggregates by series")
        limit = _count(params, "limit", DEFAULT_VOLUME_LIMIT)
        return VolumeQuery(matchers, tuple(targets or _names(matchers)), limit)

    async def index_volume(self, params: Params, _: Request) -> Response:
        span = bounds(params, self._now_ns())
        query = self._volume_query(params)
        result = await self._ask(span, lambda q: volume(q, query, span.end_ns))
        return success({"resultType": "vector", "result": result})

    async def index_volume_range(self, params: Params, _: Request) -> Response:
        span = bounds(params, self._now_ns())
        query = self._volume_query(params)
        step = max((span.end_ns - span.start_ns) // NS_PER_S // 250, 1) * NS_PER_S
        if first(params, "step"):
            step = parse_duration_ns(first(params, "step"), "step")
        if step <= 0:
            raise LokiError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        result = await self._ask(span, lambda q: volume_range(q, query, span, step))
        return success({"resultType": "matrix", "result": result})

    async def _sample(self, params: Params) -> object:
        """The newest `line_limit` lines of the log query `query` in range."""
        text = first(params, "query")
        if not isinstance(self._parsed(text), logql.ast.LogQuery):
            raise LokiError("detected fields need a log query")
        span = bounds(params, self._now_ns())
        line_limit = _count(params, "line_limit", DEFAULT_LINE_LIMIT)
        result = await run_query(
            self.engine, text, span.start_ns, span.end_ns, 0, Direction.BACKWARD, line_limit
        )
        return result.value

    @staticmethod
    def _parsed(text: str) -> logql.ast.Expr:
        try:
            return logql.parse(text)
        except logql.ParseError as err:
            raise LokiError(str(err)) from None

    async def detected_fields(self, params: Params, _: Request) -> Response:
        limit = _count(params, "limit", DEFAULT_FIELD_LIMIT)
        return json_response(detected_fields(await self._sample(params), limit))

    async def detected_field_values(self, params: Params, request: Request) -> Response:
        limit = _count(params, "limit", DEFAULT_FIELD_LIMIT)
        sample = await self._sample(params)
        return json_response(detected_field_values(sample, request.path_params["name"], limit))

    async def buildinfo(self, _params: Params, _: Request) -> Response:
        return json_response(
            {
                "version": vigil.__version__,
                "revision": "",
                "branch": "",
                "buildUser": "",
                "buildDate": "",
                "goVersion": f"python{platform.python_version()}",
            }
        )

    async def format_query(self, params: Params, _: Request) -> Response:
        try:
            return success(logql.format_expr(logql.parse(first(params, "query"))))
        except logql.ParseError as err:
            raise LokiError(str(err)) from None

    async def ready(self, _: Request) -> Response:
        problem = self.ctx.not_ready()
        if problem is not None:
            return PlainTextResponse(f"Not ready: {problem}\n", status_code=503)
        return PlainTextResponse("ready\n")


def _count(params: Params, name: str, default: int) -> int:
    text = first(params, name)
    if not text:
        return default
    if not text.isdigit() or int(text) <= 0:
        raise LokiError(f"{name} must be a positive value")
    return int(text)


def _names(matchers: Sequence[Matcher]) -> list[str]:
    return list(dict.fromkeys(m.name for m in matchers))
