"""Spans starting further ahead of the server's (driven) clock than --traces.max-future are
refused: the rest of the export is stored, the exporter reads how many and why in OTLP's
`partial_success`, and vigil_traces_discarded_spans_total{reason} counts them."""

from __future__ import annotations

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client import CollectorRegistry

from tests.logs.ingest.stores import serving
from vigil.model.clock import ManualClock
from vigil.traces import MemorySpanStore, Span, Spans
from vigil.traces.future_guard import FutureSpanGuard
from vigil.web.ingest.otlp_traces import PATH, OTLPTraces

S = 10**9
TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")


def _span(n: int, start_ns: int) -> Span:
    return Span(
        trace_id=TRACE, span_id=bytes([n]) * 8, name=f"op{n}", start_ns=start_ns, end_ns=start_ns
    )


def _stored(store: MemorySpanStore) -> list[str]:
    return sorted(s.name for batch in store.querier(0, 2**63 - 1).select() for s in batch.rows())


def _discarded(registry: CollectorRegistry) -> float | None:
    return registry.get_sample_value(
        "vigil_traces_discarded_spans_total", {"reason": "too_far_in_future"}
    )


def test_spans_beyond_the_window_are_refused_as_the_clock_moves() -> None:
    clock = ManualClock(1_800_000_000.0)
    store, registry = MemorySpanStore(), CollectorRegistry()
    guard = FutureSpanGuard(store, clock.now, 600 * S, registry)
    now_ns = int(clock.now() * S)
    spans = Spans.of([_span(1, now_ns), _span(2, now_ns + 600 * S), _span(3, now_ns + 601 * S)])
    result = guard.append(spans)
    assert (result.accepted, result.rejected, result.message) == (
        2,
        1,
        "refused 1 spans starting too far in the future (the first 601s ahead of the "
        "server's clock, more than --traces.max-future=600s: is the sender's clock right?)",
    )
    assert (_stored(store), _discarded(registry)) == (["op1", "op2"], 1.0)
    clock.advance(1)  # the same span is now within the window
    late = guard.append(Spans.of([_span(3, now_ns + 601 * S)]))
    assert (late.accepted, late.rejected, _stored(store)) == (1, 0, ["op1", "op2", "op3"])
    assert _discarded(registry) == 1.0


def test_a_batch_of_only_future_spans_stores_nothing() -> None:
    clock = ManualClock(1_800_000_000.0)
    store = MemorySpanStore()
    now_ns = int(clock.now() * S)
    result = FutureSpanGuard(store, clock.now, 60 * S).append(
        Spans.of([_span(1, now_ns + 3600 * S), _span(2, now_ns + 7200 * S)])
    )
    assert (result.accepted, result.rejected, _stored(store)) == (0, 2, [])


def test_zero_turns_the_bound_off() -> None:
    clock = ManualClock(1_800_000_000.0)
    store = MemorySpanStore()
    far = int(clock.now() * S) + 365 * 86_400 * S
    result = FutureSpanGuard(store, clock.now, 0).append(Spans.of([_span(1, far)]))
    assert (result.accepted, result.rejected, _stored(store)) == (1, 0, ["op1"])


def test_an_otlp_export_from_a_fast_clock_is_a_partial_success() -> None:
    clock = ManualClock(1_800_000_000.0)
    store, registry = MemorySpanStore(), CollectorRegistry()
    guard = FutureSpanGuard(store, clock.now, 600 * S, registry)
    now_ns = int(clock.now() * S)
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for n, start in ((1, now_ns), (2, now_ns + 3600 * S)):
        spans.add(trace_id=TRACE, span_id=bytes([n]) * 8, name=f"op{n}", start_time_unix_nano=start)
    with serving(OTLPTraces(lambda: guard).routes()) as url:
        answer = httpx.post(
            url + PATH,
            content=request.SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )
    partial = ExportTraceServiceResponse.FromString(answer.content).partial_success
    assert (answer.status_code, partial.rejected_spans) == (200, 1)
    assert partial.error_message.startswith("refused 1 spans starting too far in the future")
    assert (_stored(store), _discarded(registry)) == (["op1"], 1.0)
