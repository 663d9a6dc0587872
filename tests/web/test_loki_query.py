"""Loki's query and query_range over the seeded store: log queries in either direction with
limit and interval, metric queries as matrix and vector, and Loki's refusals; expected
entries and counts are computed here from the seeded lines."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.loki_store import APP_ERROR, APP_INFO, NOW_S, STREAMS, T0_S, seeded_store
from vigil.logs.logql.engine import LogQLEngine
from vigil.model.clock import ManualClock
from vigil.web.loki_api import LokiAPI, LokiContext

NS = 1_000_000_000


def _client(max_entries: int = 5000) -> TestClient:
    store = seeded_store()
    engine = LogQLEngine(store, max_entries=max_entries)
    ctx = LokiContext(store, clock=ManualClock(NOW_S), engine=engine)
    return TestClient(Starlette(routes=LokiAPI(ctx).routes()))


def _seeded(streams: list[int], since_s: int, until_s: int) -> list[tuple[int, str]]:
    """(ns, line) of the seeded streams' entries in [since, until], oldest first."""
    return sorted(
        (t, line.decode())
        for i in streams
        for t, line in zip(STREAMS[i].timestamps.tolist(), STREAMS[i].lines, strict=True)
        if since_s * NS <= t <= until_s * NS
    )


def _entries(data: dict[str, Any]) -> list[tuple[int, str]]:
    return [(int(ts), line) for s in data["result"] for ts, line in s["values"]]


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    assert set(body["data"]["stats"]["summary"]) >= {"totalBytesProcessed", "execTime"}
    return dict(body["data"])


@pytest.mark.parametrize(
    ("params", "want"),
    [
        (
            {"query": '{job="app"} |= "api"', "limit": "3"},
            _seeded([0], T0_S, NOW_S)[-3:][::-1],  # newest first
        ),
        (
            {"query": '{job=~"app|db"} != "GET"', "limit": "4", "direction": "forward"},
            _seeded([1, 2], T0_S, NOW_S)[:4],
        ),
        (
            {
                "query": '{job="db"}',
                "direction": "FORWARD",
                "interval": "1m",
                "end": str(T0_S + 200),
            },
            [e for e in _seeded([2], T0_S, T0_S + 199) if (e[0] // NS - T0_S) % 60 == 0],
        ),
        (
            {"query": '{job="db"}', "start": str(T0_S + 100), "end": f"{T0_S + 140}000000000"},
            _seeded([2], T0_S + 100, T0_S + 139)[::-1],  # end is exclusive, as in Loki
        ),
    ],
)
def test_log_queries(params: dict[str, str], want: list[tuple[int, str]]) -> None:
    query = {"start": str(T0_S), **params}
    data = _ok(_client().get("/loki/api/v1/query_range", params=query))
    assert data["resultType"] == "streams"
    forward = query.get("direction", "").lower() == "forward"
    assert sorted(_entries(data), reverse=not forward) == want
    for stream in data["result"]:
        times = [int(ts) for ts, _ in stream["values"]]
        assert times == sorted(times, reverse=not forward)


def test_structured_metadata_is_folded_into_stream_labels() -> None:
    data = _ok(
        _client().get(
            "/loki/api/v1/query_range",
            params={"query": '{level="info"} |= "/api/7 "', "start": str(T0_S)},
        )
    )
    assert data["result"] == [
        {
            "stream": {"job": "app", "level": "info", "service_name": "app", "trace_id": "t7"},
            "values": [[str((T0_S + 70) * NS), "GET /api/7 200"]],
        }
    ]


def test_metric_range_query() -> None:
    params = {
        "query": 'count_over_time({job="db"}[5m])',
        "start": str(T0_S),
        "end": str(NOW_S),
        "step": "300",
    }
    data = _ok(_client().get("/loki/api/v1/query_range", params=params))
    points = (T0_S, T0_S + 300, T0_S + 600)
    assert (data["resultType"], data["result"]) == (
        "matrix",
        [
            {
                "metric": {"job": "db", "service_name": "db"},
                "values": [[t, str(len(_seeded([2], t - 299, t)))] for t in points],
            }
        ],
    )


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ("vector(1)+vector(1)", [{"metric": {}, "value": [NOW_S, "2"]}]),
        (
            'sum by (job) (count_over_time({service_name="app"}[10m]))',
            [
                {
                    "metric": {"job": "app"},
                    "value": [NOW_S, str(len(_seeded([0, 1], T0_S + 1, NOW_S)))],
                }
            ],
        ),
    ],
)
def test_instant_metric_queries(query: str, want: list[dict[str, Any]]) -> None:
    data = _ok(_client().post("/loki/api/v1/query", data={"query": query}))
    assert (data["resultType"], data["result"]) == ("vector", want)


@pytest.mark.parametrize(
    ("path", "params", "status", "body"),
    [
        (
            "/loki/api/v1/query",
            {"query": '{job="app"}'},
            400,
            "log queries are not supported as an instant query type, please change your query "
            "to a range query type\n",
        ),
        (
            "/loki/api/v1/query_range",
            {"query": '{job="app"} |= '},
            400,
            "parse error at line 1, col 16: syntax error: unexpected end of input, expecting string\n",
        ),
        (
            "/loki/api/v1/query_range",
            {"query": '{job="app"}', "limit": "11"},
            400,
            "max entries limit per query exceeded, limit > max_entries_limit (11 > 10)\n",
        ),
        (
            "/loki/api/v1/query_range",
            {"query": '{job="app"}', "start": "2", "end": "1"},
            400,
            "end timestamp must not be before or equal to start time\n",
        ),
    ],
)
def test_refusals(path: str, params: dict[str, str], status: int, body: str) -> None:
    response = _client(max_entries=10).get(path, params=params)
    assert (response.status_code, response.text) == (status, body)


CATEGORIZE = {"X-Loki-Response-Encoding-Flags": "categorize-labels"}


@pytest.mark.parametrize(
    ("query", "direction", "want"),
    [
        (
            '{level=~"info|error"} |~ "/api/[78] |boom 0"',
            "backward",
            [
                {"stream": dict(APP_ERROR), "values": [[str((T0_S + 5) * NS), "boom 0"]]},
                {
                    "stream": dict(APP_INFO),
                    "values": [
                        [
                            str((T0_S + 80) * NS),
                            "GET /api/8 200",
                            {"structuredMetadata": {"trace_id": "t8"}},
                        ],
                        [
                            str((T0_S + 70) * NS),
                            "GET /api/7 200",
                            {"structuredMetadata": {"trace_id": "t7"}},
                        ],
                    ],
                },
            ],
        ),
        (
            # with a parser, what is not a stream label is answered as parsed (metadata too)
            '{level="info"} |~ "/api/[78] " | regexp "GET (?P<path>[^ ]+)"',
            "forward",
            [
                {
                    "stream": dict(APP_INFO),
                    "values": [
                        [
                            str((T0_S + 70) * NS),
                            "GET /api/7 200",
                            {"parsed": {"path": "/api/7", "trace_id": "t7"}},
                        ],
                        [
                            str((T0_S + 80) * NS),
                            "GET /api/8 200",
                            {"parsed": {"path": "/api/8", "trace_id": "t8"}},
                        ],
                    ],
                },
            ],
        ),
    ],
)
def test_categorized_labels(query: str, direction: str, want: list[dict[str, Any]]) -> None:
    params = {"query": query, "direction": direction, "start": str(T0_S)}
    data = _ok(_client().get("/loki/api/v1/query_range", params=params, headers=CATEGORIZE))
    assert (data["encodingFlags"], data["result"]) == (["categorize-labels"], want)


def test_metric_queries_ignore_the_flag() -> None:
    params = {"query": 'count_over_time({job="db"}[10m])', "start": str(NOW_S), "end": str(NOW_S)}
    data = _ok(_client().get("/loki/api/v1/query_range", params=params, headers=CATEGORIZE))
    assert "encodingFlags" not in data and data["resultType"] == "matrix"
