"""The service graph: client and server halves paired across batches, databases and
virtual nodes, expiry on the clock, a bounded store; Tempo's series."""

from __future__ import annotations

from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.traces import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_PRODUCER,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_UNSET,
    Resource,
    Span,
    Spans,
)
from vigil.traces.spanmetrics_generator import GeneratorOptions, MetricsGenerator
from vigil.tsdb._api import MemoryStorage

from .test_spanmetrics import START, series

TRACE = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")


def _span(
    service: str,
    kind: int,
    span_id: int,
    parent: int = 0,
    *,
    ms: float = 100.0,
    status: int = STATUS_UNSET,
    attributes: tuple[tuple[str, object], ...] = (),
    trace: bytes = TRACE,
) -> Span:
    return Span(
        trace_id=trace,
        span_id=span_id.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big"),
        name="call",
        start_ns=0,
        end_ns=round(ms * 1e6),
        kind=kind,
        status_code=status,
        attributes=attributes,  # type: ignore[arg-type]
        resource=Resource((("service.name", service),)),
    )


def _edges(storage: MemoryStorage, name: str) -> dict[tuple[str, str, str], float]:
    return {
        (lb.get("client"), lb.get("server"), lb.get("connection_type")): values[-1]
        for lb, values in series(storage, name).items()
    }


def _setup(**options: object) -> tuple[MemoryStorage, ManualClock, MetricsGenerator]:
    storage, clock = MemoryStorage(), ManualClock(START)
    opts = GeneratorOptions(**options)  # type: ignore[arg-type]
    return storage, clock, MetricsGenerator(storage.appender, clock, opts)


def test_a_client_and_its_server_pair_across_batches() -> None:
    storage, clock, generator = _setup()
    generator.observe(Spans.of([_span("frontend", KIND_CLIENT, 2, 1, ms=250)]))
    clock.advance(3)
    generator.observe(Spans.of([_span("shop", KIND_SERVER, 3, 2, ms=200, status=STATUS_ERROR)]))
    generator.collect()
    edge = ("frontend", "shop", "")
    assert _edges(storage, "traces_service_graph_request_total") == {edge: 1.0}
    assert _edges(storage, "traces_service_graph_request_failed_total") == {edge: 1.0}
    labels = Labels.from_dict({"client": "frontend", "server": "shop", "connection_type": ""})
    assert series(storage, "traces_service_graph_request_server_seconds_sum") == {
        labels: [0.0, 0.2]
    }
    assert series(storage, "traces_service_graph_request_client_seconds_sum") == {
        labels: [0.0, 0.25]
    }
    buckets = series(storage, "traces_service_graph_request_server_seconds_bucket")
    assert {lb.get("le"): v[-1] for lb, v in buckets.items()} == {
        "0.1": 0.0,
        "0.2": 1.0,
        "0.4": 1.0,
        "0.8": 1.0,
        "1.6": 1.0,
        "3.2": 1.0,
        "6.4": 1.0,
        "12.8": 1.0,
        "+Inf": 1.0,
    }
    assert generator.service_graph.pending() == 0


def test_producer_and_consumer_are_a_messaging_edge() -> None:
    storage, _, generator = _setup()
    generator.observe(
        Spans.of([_span("orders", KIND_PRODUCER, 2, 1), _span("billing", KIND_CONSUMER, 3, 2)])
    )
    generator.collect()
    assert _edges(storage, "traces_service_graph_request_total") == {
        ("orders", "billing", "messaging_system"): 1.0
    }


def test_database_calls_are_edges_to_the_database_at_once() -> None:
    storage, _, generator = _setup()
    calls = [
        _span(
            "shop",
            KIND_CLIENT,
            2,
            1,
            attributes=(("db.system", "postgresql"), ("db.name", "orders")),
        ),
        _span("shop", KIND_CLIENT, 3, 1, attributes=(("db.system", "redis"),)),
        _span(
            "shop",
            KIND_CLIENT,
            4,
            1,
            attributes=(("db.system", "mysql"), ("server.address", "db-1"), ("db.name", "x")),
        ),
        _span(
            "shop",
            KIND_CLIENT,
            5,
            1,
            attributes=(
                ("db.system", "postgresql"),
                ("network.peer.address", "10.0.0.7"),
                ("network.peer.port", 5432),
            ),
        ),
        _span(
            "shop",
            KIND_CLIENT,
            6,
            1,
            attributes=(("db.namespace", "ledger"), ("network.peer.address", "10.0.0.8")),
        ),
        _span("shop", KIND_CLIENT, 7, 1, attributes=(("db.name", ""), ("db.system", ""))),
    ]
    generator.observe(Spans.of(calls))
    generator.collect()
    assert _edges(storage, "traces_service_graph_request_total") == {
        ("shop", "orders", "database"): 1.0,
        ("shop", "redis", "database"): 1.0,
        ("shop", "db-1", "database"): 1.0,
        ("shop", "10.0.0.7:5432", "database"): 1.0,
        ("shop", "10.0.0.8", "database"): 1.0,
    }
    assert generator.service_graph.pending() == 1  # the last names no database: a half


def test_root_servers_and_expired_peers_are_virtual_nodes() -> None:
    storage, clock, generator = _setup()
    batch = [
        _span("frontend", KIND_SERVER, 1),
        _span("frontend", KIND_CLIENT, 2, 1, attributes=(("peer.service", "payments-api"),)),
        _span("frontend", KIND_CLIENT, 3, 1),
        _span("shop", KIND_SERVER, 9, 8),
    ]
    generator.observe(Spans.of(batch))
    clock.advance(9)
    generator.collect()
    assert _edges(storage, "traces_service_graph_request_total") == {
        ("user", "frontend", "virtual_node"): 1.0
    }
    clock.advance(1)
    generator.collect()
    assert _edges(storage, "traces_service_graph_request_total") == {
        ("user", "frontend", "virtual_node"): 1.0,
        ("frontend", "payments-api", "virtual_node"): 1.0,
    }
    assert _edges(storage, "traces_service_graph_unpaired_spans_total") == {
        ("frontend", "", ""): 1.0,
        ("", "shop", ""): 1.0,
    }
    assert generator.service_graph.pending() == 0


def test_a_full_store_drops_new_halves_and_counts_them() -> None:
    storage, _, generator = _setup(edge_max_items=2)
    batch = [_span("frontend", KIND_CLIENT, i, 1) for i in range(2, 6)]
    generator.observe(Spans.of(batch))
    generator.collect()
    assert generator.service_graph.pending() == 2
    assert _edges(storage, "traces_service_graph_dropped_spans_total") == {
        ("frontend", "", ""): 2.0
    }
