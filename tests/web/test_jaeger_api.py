"""Jaeger's query API over the seeded traces: services and operations, search by service,
operation, tags and duration, a trace in Jaeger's JSON, dependencies, and refusals in
Jaeger's error envelope."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.trace_store import CRON, NOW_S, T0_S, seeded_store, spans
from vigil.model.clock import ManualClock
from vigil.traces import MemorySpanStore, Span, Spans
from vigil.web.jaeger_api import JaegerAPI
from vigil.web.jaeger_dependencies import Dependency, dependencies

US = 1_000_000
WINDOW = {"start": str(T0_S * US), "end": str(NOW_S * US)}


def _client(prefix: str = "/jaeger") -> TestClient:
    api = JaegerAPI(seeded_store(), ManualClock(NOW_S))
    return TestClient(Starlette(routes=api.routes(prefix)))


def _data(path: str, params: dict[str, str] | None = None) -> Any:
    response = _client().get(path, params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["limit"], body["offset"], body["errors"]) == (0, 0, None)
    return body["data"]


@pytest.mark.parametrize(
    ("path", "params", "want"),
    [
        ("/jaeger/api/services", {}, ["frontend", "payments"]),
        (
            "/jaeger/api/services/frontend/operations",
            {},
            ["GET /checkout", "GET /health", "POST /pay"],
        ),
        ("/jaeger/api/services/nothing/operations", {}, []),
        (
            "/jaeger/api/operations",
            {"service": "payments"},
            [
                {"name": "POST /pay", "spanKind": "server"},
                {"name": "SELECT orders", "spanKind": "client"},
                {"name": "cron", "spanKind": "internal"},
            ],
        ),
        (
            "/jaeger/api/operations",
            {"service": "frontend", "spanKind": "client"},
            [{"name": "POST /pay", "spanKind": "client"}],
        ),
    ],
)
def test_services_and_operations(path: str, params: dict[str, str], want: Any) -> None:
    assert _data(path, params) == want


@pytest.mark.parametrize(
    ("params", "want"),
    [
        ({"service": "frontend"}, ["0000000000000abc", "0af7651916cd43dd8448eb211c80319c"]),
        ({"service": "frontend", "limit": "1"}, ["0000000000000abc"]),
        ({"service": "frontend", "operation": "POST /pay"}, ["0af7651916cd43dd8448eb211c80319c"]),
        ({"service": "payments", "tags": '{"error":"true"}'}, ["0af7651916cd43dd8448eb211c80319c"]),
        ({"service": "payments", "tags": "http.status_code=402"}, ["0af7651916cd43dd8448eb211c80319c"]),
        ({"service": "payments", "tags": '{"cached":"true","ratio":"0.5"}'}, ["5b8efff798038103d269b633813fc60c"]),
        ({"service": "payments", "tag": "db.system:postgresql"}, ["0af7651916cd43dd8448eb211c80319c"]),
        ({"service": "payments", "tags": '{"deployment.environment":"prod"}', "limit": "5"}, ["5b8efff798038103d269b633813fc60c", "0af7651916cd43dd8448eb211c80319c"]),
        ({"service": "payments", "minDuration": "1s"}, ["5b8efff798038103d269b633813fc60c"]),
        ({"service": "frontend", "maxDuration": "2ms"}, ["0000000000000abc"]),
        ({"service": "frontend", "minDuration": "250ms", "maxDuration": "1.5s"}, ["0af7651916cd43dd8448eb211c80319c"]),
        ({"service": "frontend", "tags": '{"http.status_code":"500"}'}, []),
    ],
)  # fmt: skip
def test_search(params: dict[str, str], want: list[str]) -> None:
    traces = _data("/jaeger/api/traces", {**WINDOW, **params})
    assert [t["traceID"] for t in traces] == want


def test_search_window_and_lookback() -> None:
    end = str((T0_S + 150) * US)
    found = _data("/jaeger/api/traces", {"service": "frontend", "end": end, "lookback": "1h"})
    assert [t["traceID"] for t in found] == ["0000000000000abc", "0af7651916cd43dd8448eb211c80319c"]
    later = {"service": "frontend", "start": str((T0_S + 50) * US), "end": end}
    assert [t["traceID"] for t in _data("/jaeger/api/traces", later)] == ["0000000000000abc"]
    by_id = _data("/jaeger/api/traces", {**WINDOW, "traceID": "abc"})
    assert [t["traceID"] for t in by_id] == ["0000000000000abc"]


def test_a_trace_in_jaegers_json() -> None:
    trace = _data("/jaeger/api/traces/0000000000000abc")
    assert trace == [
        {
            "traceID": "0000000000000abc",
            "spans": [
                {
                    "traceID": "0000000000000abc",
                    "spanID": "00000000000000b1",
                    "operationName": "GET /health",
                    "references": [],
                    "startTime": (T0_S + 100) * US,
                    "duration": 2000,
                    "tags": [
                        {"key": "http.route", "type": "string", "value": "/health"},
                        {"key": "http.status_code", "type": "int64", "value": 200},
                        {"key": "otel.scope.name", "type": "string", "value": "io.opentelemetry.flask"},
                        {"key": "otel.scope.version", "type": "string", "value": "0.66b0"},
                        {"key": "span.kind", "type": "string", "value": "server"},
                    ],
                    "logs": [],
                    "processID": "p1",
                    "warnings": None,
                }
            ],
            "processes": {
                "p1": {
                    "serviceName": "frontend",
                    "tags": [{"key": "host.name", "type": "string", "value": "vm-1"}],
                }
            },
            "warnings": None,
        }
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "found"),
    [
        (str(T0_S * US), str(NOW_S * US), True),
        (str(T0_S * 1000), str(NOW_S * 1000), True),  # Grafana's trace-by-id window, in ms
        (str((T0_S + 200) * US), str(NOW_S * US), False),
    ],
)
def test_trace_by_id_in_a_window(start: str, end: str, found: bool) -> None:
    response = _client().get("/jaeger/api/traces/abc", params={"start": start, "end": end})
    assert response.status_code == (200 if found else 404)


def test_references_logs_status_and_processes() -> None:
    (trace,) = _data("/jaeger/api/traces/0af7651916cd43dd8448eb211c80319c")
    spans = {s["spanID"]: s for s in trace["spans"]}
    pay, sql = spans["00000000000000a2"], spans["00000000000000a3"]
    assert pay["references"] == [
        {"refType": "CHILD_OF", "traceID": trace["traceID"], "spanID": "00000000000000a1"}
    ]
    assert sql["references"][1] == {
        "refType": "FOLLOWS_FROM",
        "traceID": "0000000000000abc",
        "spanID": "00000000000000b1",
    }
    assert pay["logs"] == [
        {
            "timestamp": pay["startTime"] + 170_000,
            "fields": [
                {"key": "event", "type": "string", "value": "exception"},
                {"key": "exception.type", "type": "string", "value": "Declined"},
            ],
        }
    ]
    assert {t["key"]: t["value"] for t in pay["tags"]} == {
        "http.status_code": 402,
        "span.kind": "server",
        "otel.status_code": "ERROR",
        "error": True,
        "otel.status_description": "card declined",
    }
    assert (pay["processID"], trace["processes"]["p2"]["serviceName"]) == ("p2", "payments")
    assert [s["processID"] for s in trace["spans"]] == ["p1", "p1", "p2", "p2"]


def test_dependencies_count_calls_between_services() -> None:
    params = {"endTs": str(NOW_S * 1000), "lookback": str(3600 * 1000)}
    assert _data("/jaeger/api/dependencies", params) == [
        {"parent": "frontend", "child": "payments", "callCount": 1}
    ]
    before = {"endTs": str(T0_S * 1000), "lookback": "60000"}
    assert _data("/jaeger/api/dependencies", before) == []


@pytest.mark.parametrize(
    ("path", "params", "status", "msg"),
    [
        ("/jaeger/api/traces/0123", {}, 404, "trace not found"),
        ("/jaeger/api/traces/xyz", {}, 400, "invalid trace id 'xyz': want 1 to 32 hex digits"),
        ("/jaeger/api/traces", {}, 400, "parameter 'service' is required"),
        ("/jaeger/api/operations", {}, 400, "parameter 'service' is required"),
        (
            "/jaeger/api/traces",
            {"service": "x", "minDuration": "fast"},
            400,
            "invalid minDuration 'fast': want a duration such as 100ms or 1.5s",
        ),
        (
            "/jaeger/api/traces",
            {"service": "x", "minDuration": "2s", "maxDuration": "1s"},
            400,
            "'maxDuration' should be greater than 'minDuration'",
        ),
        (
            "/jaeger/api/traces",
            {"service": "x", "limit": "many"},
            400,
            "unable to parse param 'limit': 'many' is not an integer",
        ),
        (
            "/jaeger/api/traces",
            {"service": "x", "tags": "{not json"},
            400,
            "malformed 'tags' parameter: unexpected character, expected a string key: line 1 column 2 (char 1)",
        ),
        (
            "/jaeger/api/dependencies",
            {"endTs": "yesterday"},
            400,
            "unable to parse param 'endTs': 'yesterday' is not an integer",
        ),
    ],
)
def test_refusals(path: str, params: dict[str, str], status: int, msg: str) -> None:
    response = _client().get(path, params=params)
    assert (response.status_code, response.json()) == (
        status,
        {
            "data": None,
            "total": 0,
            "limit": 0,
            "offset": 0,
            "errors": [{"code": status, "msg": msg}],
        },
    )


def test_the_listener_serves_jaegers_own_paths() -> None:
    response = _client(prefix="").get("/api/services")
    assert response.json()["data"] == ["frontend", "payments"]


def test_dependencies_join_parents_across_batches() -> None:
    """A child stored in a later batch than its parent still counts as a call; a span whose
    parent is not stored counts as none."""
    rows = spans()
    store = MemorySpanStore()
    for row in rows:
        store.append(Spans.of([row]))
    orphan = Span(CRON, bytes(7) + b"\x09", "lost", NOW_S * 10**9 - 1, NOW_S * 10**9,
                  parent_span_id=bytes(7) + b"\x08", resource=rows[0].resource)  # fmt: skip
    store.append(Spans.of([orphan]))
    found = dependencies(store.querier(0, NOW_S * 10**9))
    assert found == [Dependency("frontend", "payments", 1)]
