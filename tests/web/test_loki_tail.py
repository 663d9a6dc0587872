"""Loki's live tail: the history since `start` (newest `limit`, sent oldest first), then
each second's new entries, driven by a manual clock; over a WebSocket, Grafana's request
gets the messages it reads and a bad one a plain-text 400 before the upgrade."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient, WebSocketDenialResponse

from tests.web.loki_store import NOW_S, STREAMS, T0_S, seeded_store
from tests.web.test_loki_grafana import check_reads
from vigil.logs import Entries, Lines, MemoryLogStore
from vigil.logs.logql.engine import LogQLEngine
from vigil.logs.logql.result import Stream
from vigil.model.clock import ManualClock
from vigil.web.loki_api import LokiAPI, LokiContext
from vigil.web.loki_params import LokiError
from vigil.web.loki_tail import TailRequest, tail_batches, tail_request

NS = 1_000_000_000
DB = STREAMS[2].labels
FIXTURE = Path(__file__).parent / "testdata" / "grafana_loki" / "tail.json"


def _flat(batch: list[Stream]) -> list[tuple[int, str]]:
    return sorted(
        (int(t), line) for s in batch for t, line in zip(s.timestamps, s.lines, strict=True)
    )


def _push(store: MemoryLogStore, t_ns: int, line: str) -> None:
    store.push([Entries(DB, np.array([t_ns], dtype=np.int64), Lines.of([line]))])


async def _next(batches: AsyncIterator[list[Stream]], clock: ManualClock) -> Any:
    """The next batch, moving the clock a second each time the tail sleeps on it."""
    waiting = asyncio.ensure_future(anext(batches))
    while not waiting.done():
        if clock.next_deadline() is not None:
            clock.advance(1.0)
        await asyncio.sleep(0.001)
    return waiting.result()


def test_history_then_new_entries_each_second() -> None:
    store, clock = seeded_store(), ManualClock(NOW_S)
    engine = LogQLEngine(store)
    request = TailRequest('{job="db"}', (T0_S + 520) * NS, limit=2, delay_ns=0)

    async def scenario() -> list[list[tuple[int, str]]]:
        batches = tail_batches(engine, request, clock)
        seen = [_flat(await anext(batches))]
        _push(store, (NOW_S + 1) * NS - 1, "late")
        _push(store, (NOW_S + 3) * NS, "later")
        seen.append(_flat(await _next(batches, clock)))
        seen.append(_flat(await _next(batches, clock)))  # second 2 has nothing: second 3
        await batches.aclose()
        return seen

    assert asyncio.run(scenario()) == [
        [((T0_S + 560) * NS, "checkpoint 28"), ((T0_S + 580) * NS, "checkpoint 29")],
        [((NOW_S + 1) * NS - 1, "late")],
        [((NOW_S + 3) * NS, "later")],
    ]
    assert clock.now() == NOW_S + 3


def test_delay_for_holds_entries_back() -> None:
    store, clock = seeded_store(), ManualClock(NOW_S)
    request = TailRequest('{job="db"}', NOW_S * NS, limit=10, delay_ns=2 * NS)

    async def scenario() -> list[tuple[int, str]]:
        batches = tail_batches(LogQLEngine(store), request, clock)
        _push(store, (NOW_S + 1) * NS, "held")
        first = asyncio.ensure_future(anext(batches))
        for _ in range(3):  # seconds 1 and 2 send nothing: the entry is not 2 s old yet
            while clock.next_deadline() is None:
                await asyncio.sleep(0.001)
            assert not first.done()
            clock.advance(1.0)
        got = _flat(await first)
        await batches.aclose()
        return got

    assert asyncio.run(scenario()) == [((NOW_S + 1) * NS, "held")]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query": ['count_over_time({job="db"}[1m])']}, "tail only supports log queries"),
        ({"query": ['{job="db"}'], "delay_for": ["6"]}, "delay_for can't be greater than 5"),
        (
            {"query": ["{"]},
            "parse error at line 1, col 2: syntax error: unexpected end of input, expecting identifier",
        ),
    ],
)
def test_tail_refusals(params: dict[str, list[str]], message: str) -> None:
    with pytest.raises(LokiError) as caught:
        tail_request(params, NOW_S * NS)
    assert caught.value.message == message


def _client() -> TestClient:
    ctx = LokiContext(seeded_store(), clock=ManualClock(NOW_S))
    return TestClient(Starlette(routes=LokiAPI(ctx).routes()))


def test_grafana_tail_over_websocket() -> None:
    fixture = json.loads(FIXTURE.read_text())
    params = "&".join(f"{k}={v}" for k, v in fixture["request"]["params"])
    with _client().websocket_connect(f"{fixture['request']['path']}?{params}&limit=3") as ws:
        message = json.loads(ws.receive_text())
    assert check_reads(fixture, message) == []
    assert sorted((int(ts), line) for s in message["streams"] for ts, line in s["values"]) == [
        ((T0_S + 570) * NS, "GET /api/57 200"),  # the newest 3 of job="app"
        ((T0_S + 580) * NS, "GET /api/58 200"),
        ((T0_S + 590) * NS, "GET /api/59 200"),
    ]


def test_websocket_refusal_is_plain_text_400() -> None:
    with (
        pytest.raises(WebSocketDenialResponse) as caught,
        _client().websocket_connect("/loki/api/v1/tail?query=%7B"),
    ):
        pass
    assert (caught.value.status_code, caught.value.text) == (
        400,
        "parse error at line 1, col 2: syntax error: unexpected end of input, expecting identifier\n",
    )
