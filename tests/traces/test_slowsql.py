"""Slow SQL: statements normalised, p95 per (service, statement) over a window with the
slowest calls' trace ids, bounded memory; the JSON route the UI calls."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.model.clock import ManualClock
from vigil.traces import KIND_CLIENT, KIND_SERVER, Resource, Span, Spans
from vigil.traces.slowsql import normalize
from vigil.traces.spanmetrics_generator import MetricsGenerator
from vigil.tsdb._api import MemoryStorage
from vigil.web.slowsql_api import SlowSQLAPI

from .test_spanmetrics import START


@pytest.mark.parametrize(
    ("statement", "want"),
    [
        ("SELECT * FROM orders WHERE id = 42", "SELECT * FROM orders WHERE id = ?"),
        (
            "select name from users where email='a@b.c' and age > -3.5e2;",
            "select name from users where email=? and age > ?",
        ),
        ("SELECT 'it''s' FROM t2 WHERE x IN (1, 2,3)", "SELECT ? FROM t2 WHERE x IN (?)"),
        (
            "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')",
            "INSERT INTO t (a, b) VALUES (?)",
        ),
        (
            "SELECT /* hint */ col1\n  FROM   t -- trailing\nWHERE h = 0xFF",
            "SELECT col1 FROM t WHERE h = ?",
        ),
        ("SELECT * FROM orders WHERE id = $1", "SELECT * FROM orders WHERE id = $1"),
    ],
)
def test_statements_are_normalised(statement: str, want: str) -> None:
    assert normalize(statement) == want


def _call(
    statement: str, ms: float, n: int, service: str = "shop", key: str = "db.statement"
) -> Span:
    return Span(
        trace_id=n.to_bytes(16, "big"),
        span_id=(n + 1).to_bytes(8, "big"),
        name="SELECT",
        start_ns=int(START * 1e9) + n,
        end_ns=int(START * 1e9) + n + round(ms * 1e6),
        kind=KIND_CLIENT,
        attributes=((key, statement), ("db.system", "postgresql")),
        resource=Resource((("service.name", service),)),
    )


def _generator() -> tuple[ManualClock, MetricsGenerator]:
    clock = ManualClock(START)
    return clock, MetricsGenerator(MemoryStorage().appender, clock)


def test_p95_and_the_slowest_calls_per_statement() -> None:
    _clock, generator = _generator()
    calls = [_call(f"SELECT * FROM orders WHERE id = {n}", ms=n + 1, n=n) for n in range(100)]
    calls += [_call("SELECT 1", ms=500, n=1000, service="billing", key="db.query.text")]
    calls += [Span(bytes(16), bytes(8), "GET", 0, 1, kind=KIND_SERVER)]
    generator.observe(Spans.of(calls))
    rows = generator.slow_statements(3600)
    assert [(r.service, r.statement, r.calls) for r in rows] == [
        ("billing", "SELECT ?", 1),
        ("shop", "SELECT * FROM orders WHERE id = ?", 100),
    ]
    orders = rows[1]
    assert (orders.db_system, orders.p95_s, orders.max_s) == (
        "postgresql",
        pytest.approx(0.09505),
        0.1,
    )
    assert [(e.trace_id, e.duration_s) for e in orders.examples] == [
        ((99).to_bytes(16, "big"), 0.1),
        ((98).to_bytes(16, "big"), 0.099),
        ((97).to_bytes(16, "big"), 0.098),
    ]
    assert generator.slow_statements(3600, service="billing", limit=5)[0].service == "billing"


def test_the_window_counts_calls_received_in_it() -> None:
    clock, generator = _generator()
    generator.observe(Spans.of([_call("SELECT 1", ms=900, n=1)]))
    clock.advance(1800)
    generator.observe(Spans.of([_call("SELECT 1", ms=10, n=2)]))
    assert [r.calls for r in generator.slow_statements(3600)] == [2]
    assert [(r.calls, r.max_s) for r in generator.slow_statements(600)] == [(1, 0.01)]
    clock.advance(3600)
    assert generator.slow_statements(3600) == []


def test_statements_and_calls_kept_are_bounded() -> None:
    _clock, generator = _generator()
    slow = generator.slow_sql
    slow.max_statements, slow.samples_per_statement = 3, 4
    generator.observe(Spans.of([_call(f"SELECT c{n} FROM t", ms=1, n=n) for n in range(5)]))
    generator.observe(Spans.of([_call("SELECT c4 FROM t", ms=1, n=n) for n in range(10, 20)]))
    rows = generator.slow_statements(3600)
    assert (len(slow), sorted((r.statement, r.calls) for r in rows)) == (
        3,
        [("SELECT c2 FROM t", 1), ("SELECT c3 FROM t", 1), ("SELECT c4 FROM t", 4)],
    )


def test_the_route_answers_the_documented_shape() -> None:
    _clock, generator = _generator()
    generator.observe(Spans.of([_call("SELECT * FROM t WHERE a = 1", ms=250, n=7)]))
    client = TestClient(Starlette(routes=SlowSQLAPI(lambda: generator).routes()))
    answer = client.get("/api/v1/traces/slow_sql", params={"window": "30m"})
    assert answer.json() == {
        "status": "success",
        "data": {
            "window_seconds": 1800.0,
            "statements": [
                {
                    "service": "shop",
                    "db_system": "postgresql",
                    "statement": "SELECT * FROM t WHERE a = ?",
                    "calls": 1,
                    "p95_seconds": 0.25,
                    "max_seconds": 0.25,
                    "examples": [
                        {
                            "trace_id": "00000000000000000000000000000007",
                            "span_id": "0000000000000008",
                            "duration_seconds": 0.25,
                            "time": START + 7e-9,
                        }
                    ],
                }
            ],
        },
    }


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"window": "soon"}, 'invalid parameter "window"'),
        ({"window": "48h"}, 'invalid parameter "window": must be in (0, 24h]'),
        ({"limit": "0"}, 'invalid parameter "limit": want 1 to 1000, got "0"'),
    ],
)
def test_the_route_refuses_bad_parameters(params: dict[str, str], error: str) -> None:
    client = TestClient(Starlette(routes=SlowSQLAPI(lambda: None).routes()))
    answer = client.get("/api/v1/traces/slow_sql", params=params)
    assert (answer.status_code, answer.json()["errorType"]) == (400, "bad_data")
    assert answer.json()["error"].startswith(error)


def test_without_traces_the_table_is_empty() -> None:
    client = TestClient(Starlette(routes=SlowSQLAPI(lambda: None).routes()))
    assert client.get("/api/v1/traces/slow_sql").json()["data"] == {
        "window_seconds": 3600.0,
        "statements": [],
    }
