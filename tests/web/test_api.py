"""The Prometheus HTTP API over an in-memory store: envelope, value formats, error types."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.model import Labels
from vigil.promql.engine import Engine
from vigil.tsdb import MemoryStorage
from vigil.web.api import APIContext, PrometheusAPI, parse_duration


@pytest.fixture
def client() -> TestClient:
    storage = MemoryStorage()
    for i in range(0, 600_000, 15_000):
        storage.add(Labels.from_dict({"__name__": "up", "job": "node", "instance": "a"}), i, 1.0)
        storage.add(Labels.from_dict({"__name__": "up", "job": "vigil", "instance": "b"}), i, 0.0)
        storage.add(Labels.from_dict({"__name__": "reqs_total", "job": "node"}), i, i / 1000)
    ctx = APIContext(
        engine=Engine(storage.queryable),
        queryable=storage.queryable,
        clock=lambda: 300.0,
        flags={"storage.tsdb.path": "data"},
    )
    return TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "success"
    return body["data"]


def test_instant_vector(client: TestClient) -> None:
    data = _ok(client.get("/api/v1/query", params={"query": "up", "time": "300"}))
    assert data["resultType"] == "vector"
    assert sorted((r["metric"]["job"], r["value"]) for r in data["result"]) == [
        ("node", [300, "1"]),
        ("vigil", [300, "0"]),
    ]


def test_post_form_and_default_time(client: TestClient) -> None:
    data = _ok(client.post("/api/v1/query", data={"query": "sum(up)"}))
    assert data == {"resultType": "vector", "result": [{"metric": {}, "value": [300, "1"]}]}


def test_scalar_and_string(client: TestClient) -> None:
    assert _ok(client.get("/api/v1/query", params={"query": "1.5", "time": "10.5"})) == {
        "resultType": "scalar",
        "result": [10.5, "1.5"],
    }
    assert _ok(client.get("/api/v1/query", params={"query": '"x"', "time": "10"}))["result"] == [
        10,
        "x",
    ]


def test_range_query(client: TestClient) -> None:
    data = _ok(
        client.get(
            "/api/v1/query_range",
            params={"query": "rate(reqs_total[1m])", "start": "120", "end": "180", "step": "30s"},
        )
    )
    assert data["resultType"] == "matrix"
    [series] = data["result"]
    assert series["metric"] == {"job": "node"}
    assert [t for t, _ in series["values"]] == [120, 150, 180]
    assert [float(v) for _, v in series["values"]] == pytest.approx([1.0, 1.0, 1.0])


GROUPING_ERROR = (
    '1:11: parse error: unexpected identifier "b" in grouping opts, expected "," or ")"'
)


@pytest.mark.parametrize(
    ("path", "params", "message"),
    [
        ("/api/v1/query", {}, f'invalid parameter "query": {GROUPING_ERROR}'),
        ("/api/v1/query_range", {"start": "0", "end": "60", "step": "15"}, GROUPING_ERROR),
        ("/api/v1/format_query", {}, f'invalid parameter "query": {GROUPING_ERROR}'),
    ],
)
def test_parse_errors_say_where_as_prometheus(
    client: TestClient, path: str, params: dict[str, str], message: str
) -> None:
    """Prometheus 2.42's words: the instant query names its parameter, the range query not."""
    response = client.post(path, data={"query": "sum by (a b) (up)", **params})
    assert (response.status_code, response.json()) == (
        400,
        {"status": "error", "errorType": "bad_data", "error": message},
    )


@pytest.mark.parametrize(
    ("path", "params", "code", "error_type", "fragment"),
    [
        ("/api/v1/query", {"query": "sum(", "time": "1"}, 400, "bad_data", "parse error"),
        ("/api/v1/query", {"time": "1"}, 400, "bad_data", "query must not be empty"),
        (
            "/api/v1/query",
            {"query": "up", "time": "yesterday"},
            400,
            "bad_data",
            'invalid parameter "time"',
        ),
        (
            "/api/v1/query",
            {"query": "up + ignoring(job, instance) up", "time": "300"},
            422,
            "execution",
            "duplicate series",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "100000", "step": "1"},
            400,
            "bad_data",
            "11,000 points",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "10", "end": "0", "step": "1"},
            400,
            "bad_data",
            "end timestamp",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "10", "step": "0"},
            400,
            "bad_data",
            "zero or negative",
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "10", "step": "x"},
            400,
            "bad_data",
            'invalid parameter "step"',
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "7200", "step": "1m1h"},
            400,
            "bad_data",
            'invalid parameter "step": cannot parse "1m1h" to a valid duration',
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "7200", "step": "1m1m"},
            400,
            "bad_data",
            'invalid parameter "step": cannot parse "1m1m" to a valid duration',
        ),
        (
            "/api/v1/query",
            {"query": "up", "time": "300", "timeout": "1s1m"},
            400,
            "bad_data",
            'invalid parameter "timeout": cannot parse "1s1m" to a valid duration',
        ),
        ("/api/v1/series", {}, 400, "bad_data", "no match[] parameter provided"),
        ("/api/v1/series", {"match[]": "rate(up[1m])"}, 400, "bad_data", "not a series selector"),
        (
            "/api/v1/query_range",
            {"query": "up[5m]", "start": "0", "end": "10", "step": "1"},
            400,
            "bad_data",
            'invalid expression type "range vector" for range query',
        ),
        (
            "/api/v1/query",
            {"query": "up", "time": "300", "timeout": "abc"},
            400,
            "bad_data",
            'invalid parameter "timeout"',
        ),
        (
            "/api/v1/query",
            {"query": "up", "timeout": "99999999999999y"},
            400,
            "bad_data",
            'cannot parse "99999999999999y" to a valid duration',
        ),
        (
            "/api/v1/query_range",
            {"query": "up", "start": "0", "end": "10", "step": "1e10"},
            400,
            "bad_data",
            "It overflows int64",
        ),
        ("/api/v1/query", {"query": "up @ 1e300"}, 400, "bad_data", "timestamp out of bounds"),
        ("/api/v1/query", {"query": "up", "timeout": "0s"}, 503, "timeout", "query queue"),
        ("/api/v1/query", {"query": "up", "timeout": "-1"}, 503, "timeout", "query queue"),
        ("/api/v1/query_exemplars", {"query": "((("}, 400, "bad_data", "parse error"),
        ("/api/v1/query_exemplars", {}, 400, "bad_data", "parse error"),
        (
            "/api/v1/query_exemplars",
            {"query": "up", "start": "5", "end": "1"},
            400,
            "bad_data",
            "end timestamp must not be before start time",
        ),
    ],
)
def test_errors(
    client: TestClient, path: str, params: dict[str, str], code: int, error_type: str, fragment: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == code, response.text
    body = response.json()
    assert (body["status"], body["errorType"]) == ("error", error_type)
    assert fragment in body["error"]


def test_series_labels_and_values(client: TestClient) -> None:
    assert _ok(client.get("/api/v1/series", params={"match[]": 'up{job=~"n.*"}'})) == [
        {"__name__": "up", "instance": "a", "job": "node"}
    ]
    assert _ok(client.get("/api/v1/labels")) == ["__name__", "instance", "job"]
    assert _ok(client.get("/api/v1/label/job/values")) == ["node", "vigil"]
    assert _ok(client.get("/api/v1/label/__name__/values", params={"match[]": "up"})) == ["up"]
    assert _ok(client.get("/api/v1/label/job/values", params={"limit": "1"})) == ["node"]


def test_status(client: TestClient) -> None:
    assert _ok(client.get("/api/v1/status/flags")) == {"storage.tsdb.path": "data"}
    assert "version" in _ok(client.get("/api/v1/status/buildinfo"))
    assert (
        _ok(client.get("/api/v1/format_query", params={"query": "sum by(job)(up)"}))
        == "sum by (job) (up)"
    )
    assert _ok(client.get("/api/v1/query_exemplars", params={"query": "up"})) == []
    assert _ok(client.get("/api/v1/label/U__a_2e_b/values")) == []
    assert (
        _ok(client.get("/api/v1/label/0bad-na me/values")) == []
    )  # any UTF-8 name, as Prometheus 3
    assert _ok(client.get("/api/v1/query", params={"query": "up @ 1e12"}))["result"] == []
    assert _ok(client.get("/api/v1/query", params={"query": "up", "time": "1e305"}))["result"] == []


@pytest.mark.parametrize(
    ("text", "ms"),
    [("15", 15_000), ("0.5", 500), ("1m30s", 90_000), ("100ms", 100), ("1h", 3_600_000)],
)
def test_step_durations(text: str, ms: int) -> None:
    assert parse_duration(text, "step") == ms


@pytest.mark.parametrize(("step", "times"), [("15", [120, 135, 150]), ("1.5", [120, 121.5, 123])])
def test_range_query_step_in_float_seconds(
    client: TestClient, step: str, times: list[float]
) -> None:
    params = {"query": "up", "start": "120", "end": str(times[-1]), "step": step}
    [series, *_] = _ok(client.get("/api/v1/query_range", params=params))["result"]
    assert [t for t, _ in series["values"]] == times


@pytest.mark.parametrize("when", ["1e30", "-1e30"])
def test_far_off_time_is_an_empty_answer(client: TestClient, when: str) -> None:
    """Prometheus answers, it does not refuse (and vigil once overflowed int64: a 500)."""
    assert _ok(client.get("/api/v1/query", params={"query": "up", "time": when}))["result"] == []


def test_a_query_during_shutdown_is_answered_canceled() -> None:
    storage = MemoryStorage()
    engine = Engine(storage.queryable)
    client = TestClient(
        Starlette(routes=PrometheusAPI(APIContext(engine, storage.queryable)).routes())
    )
    engine.cancel()
    answer = client.get("/api/v1/query", params={"query": "vector(1)"})
    assert (answer.status_code, answer.json()) == (
        503,
        {
            "status": "error",
            "errorType": "canceled",
            "error": "query cancelled: the server is shutting down",
        },
    )
