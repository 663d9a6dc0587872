"""Loki's live tail, `GET /loki/api/v1/tail` over a WebSocket (Grafana's live view, `logcli
query --tail`): first the newest `limit` entries since `start`, oldest first, then every
second the entries that arrived up to `delay_for` seconds ago, each batch one message
`{"streams": [...]}`. A refused request is a plain-text 400 before the upgrade.

The tail polls the store through the LogQL engine, so an entry that arrives later than
`delay_for` behind the newest one already sent is not sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio
from starlette.responses import PlainTextResponse
from starlette.websockets import WebSocket, WebSocketDisconnect

from vigil.logs import logql
from vigil.logs.logql.engine import LogQLEngine
from vigil.logs.logql.result import Stream, Streams
from vigil.model.clock import Clock
from vigil.web.loki_params import (
    DEFAULT_SINCE_NS,
    NS_PER_S,
    Direction,
    LokiError,
    Params,
    first,
    parse_limit,
    parse_timestamp,
)
from vigil.web.loki_query import run_query, streams_json

TICK_S = 1.0
MAX_DELAY_S = 5


@dataclass(frozen=True, slots=True)
class TailRequest:
    query: str
    start_ns: int
    limit: int
    delay_ns: int


def tail_request(params: Params, now_ns: int) -> TailRequest:
    text = first(params, "query")
    try:
        if not isinstance(logql.parse(text), logql.ast.LogQuery):
            raise LokiError("tail only supports log queries")
    except logql.ParseError as err:
        raise LokiError(str(err)) from None
    delay = 0
    if first(params, "delay_for"):
        text_delay = first(params, "delay_for")
        if not text_delay.isdigit():
            raise LokiError(f'strconv.Atoi: parsing "{text_delay}": invalid syntax')
        delay = int(text_delay)
        if delay > MAX_DELAY_S:
            raise LokiError(f"delay_for can't be greater than {MAX_DELAY_S}")
    start = parse_timestamp(first(params, "start"), now_ns - DEFAULT_SINCE_NS)
    return TailRequest(text, start, parse_limit(params), delay * NS_PER_S)


async def tail_batches(
    engine: LogQLEngine, request: TailRequest, clock: Clock
) -> AsyncIterator[list[Stream]]:
    """The history, then each second's new entries (only non-empty batches)."""
    now = round(clock.now() * NS_PER_S) - request.delay_ns
    last = request.start_ns - 1
    if now > last:
        history = await run_query(
            engine, request.query, request.start_ns, now, 0, Direction.BACKWARD, request.limit
        )
        batch = _ascending(history.value)
        if batch:
            last = max(int(s.timestamps[-1]) for s in batch)
            yield batch
    while True:
        await clock.sleep_until(clock.now() + TICK_S)
        now = round(clock.now() * NS_PER_S) - request.delay_ns
        if now <= last:
            continue
        found = await run_query(
            engine, request.query, last + 1, now, 0, Direction.FORWARD, engine.max_entries
        )
        batch = _ascending(found.value)
        if batch:
            last = max(int(s.timestamps[-1]) for s in batch)
            yield batch


def _ascending(value: object) -> list[Stream]:
    assert isinstance(value, Streams)
    streams = []
    for s in value.streams:
        order = s.timestamps.argsort(kind="stable")
        streams.append(Stream(s.labels, s.timestamps[order], tuple(s.lines[i] for i in order)))
    return [s for s in streams if len(s.lines)]


async def serve_tail(
    websocket: WebSocket, params: Params, engine: LogQLEngine, clock: Clock
) -> None:
    try:
        request = tail_request(params, round(clock.now() * NS_PER_S))
    except LokiError as err:
        await websocket.send_denial_response(
            PlainTextResponse(err.message + "\n", status_code=err.status)
        )
        return
    await websocket.accept()
    async with anyio.create_task_group() as group:

        async def until_closed() -> None:
            try:
                while (await websocket.receive())["type"] != "websocket.disconnect":
                    pass
            finally:
                group.cancel_scope.cancel()

        group.start_soon(until_closed)
        try:
            async for batch in tail_batches(engine, request, clock):
                await websocket.send_text((b'{"streams":' + streams_json(batch) + b"}").decode())
        except LokiError as err:
            await websocket.close(code=1011, reason=err.message[:120])
        except WebSocketDisconnect:
            pass
        group.cancel_scope.cancel()
