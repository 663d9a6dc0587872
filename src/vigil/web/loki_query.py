"""Loki's `query` and `query_range`: the parameters Grafana and logcli send, the LogQL engine
run in a worker thread, and the answer in Loki's JSON — `streams` for a log query (values
`["<ns>", "<line>"]` in the query's direction), `matrix`, `vector` or `scalar` for a metric
query (Prometheus's encoding) — with Loki's `stats.summary`."""

from __future__ import annotations

from collections.abc import Sequence

import anyio.to_thread
import orjson
from starlette.responses import Response

from vigil.logs import LogQueryable, logql
from vigil.logs.logql.engine import LogQLEngine
from vigil.logs.logql.errors import LogQLError, QueryCancelledError, QueryTimeoutError
from vigil.logs.logql.result import Direction as EngineDirection
from vigil.logs.logql.result import LogQLResult, Stream, Streams
from vigil.model import Labels, Matcher
from vigil.web.api import render_value
from vigil.web.loki_categories import FLAG, categorized_json, category
from vigil.web.loki_params import (
    Direction,
    LokiError,
    Params,
    first,
    parse_direction,
    parse_limit,
    parse_timestamp,
    range_params,
)

INSTANT_LOG_QUERY = (
    "log queries are not supported as an instant query type, please change your query to a "
    "range query type"
)


def _engine_direction(direction: Direction) -> EngineDirection:
    return EngineDirection.FORWARD if direction is Direction.FORWARD else EngineDirection.BACKWARD


async def run_query(
    engine: LogQLEngine,
    text: str,
    start_ns: int,
    end_ns: int,
    step_ns: int,
    direction: Direction,
    limit: int,
) -> LogQLResult:
    """The engine's answer, computed in a worker thread; its refusals as Loki's errors."""
    try:
        return await anyio.to_thread.run_sync(
            lambda: engine.query(
                text, start_ns, end_ns, step_ns, _engine_direction(direction), limit
            )
        )
    except logql.ParseError as err:
        raise LokiError(str(err)) from None
    except QueryTimeoutError as err:
        raise LokiError(str(err), status=504) from None
    except QueryCancelledError as err:
        raise LokiError(str(err), status=503) from None
    except LogQLError as err:
        raise LokiError(str(err)) from None


async def instant(engine: LogQLEngine, params: Params, now_ns: int) -> Response:
    text = first(params, "query")
    at = parse_timestamp(first(params, "time"), now_ns)
    limit, direction = parse_limit(params), parse_direction(params)
    if _is_log_query(text):
        raise LokiError(INSTANT_LOG_QUERY)
    return render(await run_query(engine, text, at, at, 0, direction, limit))


async def ranged(
    engine: LogQLEngine, params: Params, now_ns: int, categorize: bool = False
) -> Response:
    """`categorize`: the request's categorize-labels flag (see loki_categories)."""
    text = first(params, "query")
    span = range_params(params, now_ns)
    # Loki answers a log query's entries in [start, end): Grafana's log context asks for the
    # lines before a row with end = the row's time, and does not expect the row.
    end = span.end_ns - 1 if _is_log_query(text) else span.end_ns
    result = await run_query(
        engine, text, span.start_ns, end, span.step_ns, span.direction, span.limit
    )
    if span.interval_ns and isinstance(result.value, Streams):
        result = LogQLResult(
            Streams(tuple(_every(s, span.interval_ns) for s in result.value.streams)),
            result.stats,
        )
    if categorize and isinstance(result.value, Streams):
        query = logql.parse(text)
        assert isinstance(query, logql.ast.LogQuery)
        series = await anyio.to_thread.run_sync(
            lambda: _series(engine.queryable, query.matchers, span.start_ns, span.end_ns)
        )
        backward = span.direction is Direction.BACKWARD
        body = categorized_json(result.value.streams, series, category(query), backward)
        return render(result, body, flags=(FLAG,))
    return render(result)


def _series(
    queryable: LogQueryable, matchers: Sequence[Matcher], start_ns: int, end_ns: int
) -> list[Labels]:
    querier = queryable.querier(start_ns, end_ns)
    try:
        return querier.series(matchers)
    finally:
        querier.close()


def _is_log_query(text: str) -> bool:
    try:
        return isinstance(logql.parse(text), logql.ast.LogQuery)
    except logql.ParseError as err:
        raise LokiError(str(err)) from None


def _every(stream: Stream, interval_ns: int) -> Stream:
    """Loki's `interval`: an entry only when at least `interval` after the last one kept,
    in the stream's order (the query's direction)."""
    kept: list[int] = []
    last: int | None = None
    for i, t in enumerate(stream.timestamps.tolist()):
        if last is None or abs(t - last) >= interval_ns:
            kept.append(i)
            last = t
    return Stream(stream.labels, stream.timestamps[kept], tuple(stream.lines[i] for i in kept))


def streams_json(streams: Sequence[Stream]) -> bytes:
    """A `streams` result: per stream its labels and `["<ns>", "<line>"]` values."""
    return orjson.dumps(
        [
            {
                "stream": dict(s.labels),
                "values": [
                    [str(t), line] for t, line in zip(s.timestamps.tolist(), s.lines, strict=True)
                ],
            }
            for s in streams
        ]
    )


def render(
    result: LogQLResult, streams: bytes | None = None, flags: Sequence[str] = ()
) -> Response:
    """The answer; `streams`, when given, is the `result` of a streams answer, encoded with
    `flags` (echoed as `encodingFlags`)."""
    stats = orjson.dumps({"summary": result.stats.summary()})
    if isinstance(result.value, Streams):
        body = streams if streams is not None else streams_json(result.value.streams)
        data = b'{"resultType":"streams","result":' + body
        if flags:
            data += b',"encodingFlags":' + orjson.dumps(list(flags))
    else:
        data = render_value(result.value)[:-1]
    body = b'{"status":"success","data":' + data + b',"stats":' + stats + b"}}"
    return Response(body, media_type="application/json")
