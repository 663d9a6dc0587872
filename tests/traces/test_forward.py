"""The span forwarder sends what the span store's WAL takes to an OTLP/HTTP traces endpoint
(here vigil's own route over a real server): exactly the stored spans; a far end answering
503 is retried after a back-off without losing or repeating spans; a restarted forwarder
resumes from its saved position."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.logs.ingest.stores import serving
from vigil.model.clock import ManualClock
from vigil.traces import KIND_SERVER, MemorySpanStore, Resource, Scope, Span, Spans
from vigil.traces.forward import SpanForwarder, SpanForwardOptions
from vigil.traces.store import TraceStore
from vigil.web.ingest.otlp_traces import PATH, OTLPTraces

SHOP = Resource((("service.name", "shop"),))


def _batch(first: int, count: int) -> list[Span]:
    return [
        Span(
            trace_id=(first + i + 1).to_bytes(16, "big"),
            span_id=(first + i + 1).to_bytes(8, "big"),
            name=f"GET /item/{first + i}",
            start_ns=1_700_000_000_000_000_000 + first + i,
            end_ns=1_700_000_000_000_001_000 + first + i,
            kind=KIND_SERVER,
            attributes=(("http.route", "/item/{id}"), ("n", first + i)),
            resource=SHOP,
            scope=Scope("shop", "1"),
        )
        for i in range(count)
    ]


class FarEnd:
    """vigil's OTLP traces route, or 503 while `down`."""

    def __init__(self) -> None:
        self.store = MemorySpanStore()
        self.down = False
        self._route = OTLPTraces(lambda: self.store)

    async def export(self, request: Request) -> Response:
        if self.down:
            return Response(b"", 503)
        return await self._route.export(request)

    def received(self) -> list[Span]:
        return [
            span for batch in self.store.querier(0, 2**63 - 1).select() for span in batch.rows()
        ]


@pytest.fixture
def far_end() -> Iterator[tuple[FarEnd, str]]:
    end = FarEnd()
    with serving([Route(PATH, end.export, methods=["POST"])]) as url:
        yield end, url + PATH


def test_spans_are_forwarded_retried_and_resumed(
    tmp_path: Path, far_end: tuple[FarEnd, str]
) -> None:
    end, url = far_end
    clock = ManualClock()
    store = TraceStore.open(tmp_path / "traces")
    position = tmp_path / "forward-position.json"

    def forwarder() -> SpanForwarder:
        return SpanForwarder(
            tmp_path / "traces" / "wal",
            position,
            SpanForwardOptions(url=url),
            CollectorRegistry(),
            clock.now,
        )

    try:
        first = forwarder()
        store.append(Spans.of(_batch(0, 3)))
        store.append(Spans.of(_batch(3, 2)))
        assert first.tick() == 5
        assert end.received() == _batch(0, 5)

        end.down = True
        store.append(Spans.of(_batch(5, 2)))
        assert first.tick() == 0
        assert "HTTP 503" in first.last_error
        end.down = False
        assert first.tick() == 0  # still backing off
        clock.advance(1)
        assert first.tick() == 2
        first.stop()

        store.append(Spans.of(_batch(7, 4)))
        again = forwarder()
        assert again.tick() == 4
        again.stop()
    finally:
        store.close()
    assert end.received() == _batch(0, 11)
