"""`RemoteEngine` against canned answers of a Prometheus-compatible API: each result type
becomes vigil's value, each failure a PromQLError naming the remote and the reason, which
the rule engine shows as the rule's error and the HTTP API answers in Prometheus's envelope."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from tests.conftest import free_port

from vigil.cmd import build_parser
from vigil.model import Labels
from vigil.promql.errors import InvalidQueryError, PromQLError, QueryError, QueryTimeoutError
from vigil.promql.value import Matrix, QueryResult, Sample, Scalar, String, Vector
from vigil.remote.remote_query import RemoteEngine
from vigil.rules.group import Group, GroupOptions
from vigil.rules.query import RuleHealth, engine_query_func
from vigil.rules.rulefile import parse_rule_file
from vigil.rules.unittest import MemoryAppender
from vigil.tsdb import MemoryStorage
from vigil.web.api import APIContext, PrometheusAPI

URL = "http://remote.test:9090"


def _engine(answer: Callable[[httpx.Request], httpx.Response]) -> RemoteEngine:
    return RemoteEngine(
        URL, timeout_s=5, client=httpx.Client(transport=httpx.MockTransport(answer))
    )


def _ok(data: dict[str, Any], **extra: Any) -> Callable[[httpx.Request], httpx.Response]:
    return lambda _: httpx.Response(200, json={"status": "success", "data": data, **extra})


def _series_values(result: QueryResult) -> list[tuple[Labels, list[int], list[float]]]:
    assert isinstance(result.value, Matrix)
    return [(s.labels, s.timestamps.tolist(), s.values.tolist()) for s in result.value.series]


@pytest.mark.parametrize(
    ("data", "want"),
    [
        (
            {"resultType": "scalar", "result": [1700000000.5, "2.5"]},
            Scalar(1_700_000_000_500, 2.5),
        ),
        ({"resultType": "string", "result": [17, "hello"]}, String(17_000, "hello")),
        (
            {
                "resultType": "vector",
                "result": [
                    {"metric": {"job": "a", "__name__": "up"}, "value": [1.001, "1e-07"]},
                    {"metric": {}, "value": [1.001, "-Inf"]},
                ],
            },
            Vector(
                (
                    Sample(Labels.from_dict({"__name__": "up", "job": "a"}), 1001, 1e-07),
                    Sample(Labels(), 1001, -math.inf),
                )
            ),
        ),
    ],
)
def test_instant_results_become_vigils_values(data: dict[str, Any], want: object) -> None:
    assert _engine(_ok(data)).instant_query("q", 0).value == want


def test_matrix_results_keep_every_point_exactly() -> None:
    data = {
        "resultType": "matrix",
        "result": [
            {"metric": {"i": "1"}, "values": [[1.001, "1"], [1.016, "+Inf"], [1.031, "0.1"]]},
            {"metric": {"i": "2"}, "values": []},
        ],
    }
    result = _engine(_ok(data)).range_query("q", 1001, 1031, 15)
    assert _series_values(result) == [
        (Labels.from_dict({"i": "1"}), [1001, 1016, 1031], [1.0, math.inf, 0.1]),
        (Labels.from_dict({"i": "2"}), [], []),
    ]


def test_nan_values_stay_nan() -> None:
    data = {"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "NaN"]]}]}
    result = _engine(_ok(data)).range_query("q", 1000, 1000, 1000)
    assert isinstance(result.value, Matrix)
    assert np.isnan(result.value.series[0].values).all()


def test_warnings_and_infos_are_passed_on() -> None:
    answer = _ok({"resultType": "vector", "result": []}, warnings=["w1"], infos=["i1"])
    assert _engine(answer).instant_query("q", 0) == QueryResult(Vector(()), ("w1",), ("i1",))


def test_requests_carry_the_query_times_and_timeout() -> None:
    seen: list[tuple[str, dict[str, list[str]]]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        from urllib.parse import parse_qs

        seen.append((request.url.path, parse_qs(request.content.decode())))
        return httpx.Response(
            200, json={"status": "success", "data": {"resultType": "matrix", "result": []}}
        )

    engine = _engine(answer)
    engine.instant_query("up", 1_700_000_000_123)
    engine.range_query("up", -1500, 3000, 15_000)
    assert seen == [
        ("/api/v1/query", {"query": ["up"], "time": ["1700000000.123"], "timeout": ["5s"]}),
        (
            "/api/v1/query_range",
            {
                "query": ["up"],
                "start": ["-1.500"],
                "end": ["3"],
                "step": ["15"],
                "timeout": ["5s"],
            },
        ),
    ]


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def answer(_: httpx.Request) -> httpx.Response:
        raise exc

    return answer


def _error(status: int, error_type: str, message: str) -> Callable[[httpx.Request], httpx.Response]:
    body = {"status": "error", "errorType": error_type, "error": message}
    return lambda _: httpx.Response(status, json=body)


@pytest.mark.parametrize(
    ("answer", "kind", "message"),
    [
        (
            _error(400, "bad_data", '1:5: parse error: unexpected "}"'),
            InvalidQueryError,
            f'remote query engine {URL}: 1:5: parse error: unexpected "}}"',
        ),
        (
            _error(422, "execution", "many-to-many matching not allowed"),
            QueryError,
            f"remote query engine {URL}: many-to-many matching not allowed (execution)",
        ),
        (
            _error(503, "timeout", "query timed out in expression evaluation"),
            QueryTimeoutError,
            f"remote query engine {URL}: query timed out in expression evaluation",
        ),
        (
            _raise(httpx.ReadTimeout("timed out")),
            QueryTimeoutError,
            f"remote query engine {URL}: no answer within 5s (ReadTimeout)",
        ),
        (
            _raise(httpx.ConnectError("[Errno 111] Connection refused")),
            QueryError,
            f"remote query engine {URL}: [Errno 111] Connection refused",
        ),
        (
            lambda _: httpx.Response(404, text="404 page not found\n"),
            QueryError,
            f"remote query engine {URL}: HTTP 404 from /api/v1/query is not Prometheus's API "
            "envelope: '404 page not found'",
        ),
        (
            lambda _: httpx.Response(
                200, json={"status": "success", "data": {"resultType": "tree"}}
            ),
            QueryError,
            f"remote query engine {URL}: malformed query result: no 'result' field",
        ),
        (
            _ok({"resultType": "vector", "result": [{"metric": {}, "histogram": [1, {}]}]}),
            QueryError,
            f"remote query engine {URL}: malformed query result: native histogram samples are "
            "not supported by vigil's engine yet",
        ),
    ],
    ids=[
        "bad_data",
        "execution",
        "remote-timeout",
        "client-timeout",
        "unreachable",
        "not-the-api",
        "malformed",
        "native-histogram",
    ],
)
def test_failures_name_the_remote_and_the_reason(
    answer: Callable[[httpx.Request], httpx.Response], kind: type[PromQLError], message: str
) -> None:
    with pytest.raises(kind) as caught:
        _engine(answer).instant_query("up", 0)
    assert str(caught.value) == message


def _unreachable() -> RemoteEngine:
    """A real client against a closed port on this machine."""
    return RemoteEngine(f"http://127.0.0.1:{free_port()}", timeout_s=5)


def test_an_unreachable_remote_makes_the_rule_unhealthy_with_the_reason() -> None:
    engine = _unreachable()
    spec = parse_rule_file(
        "groups:\n  - name: g\n    rules:\n      - alert: Down\n        expr: up == 0\n",
        "rules.yml",
    ).groups[0]
    storage = MemoryStorage()
    group = Group(
        spec, GroupOptions(), engine_query_func(engine), lambda: MemoryAppender(storage, [])
    )
    group.evaluate(60_000)
    engine.close()
    rule = group.rules[0]
    assert (rule.health, rule.last_error.split(": ")[0]) == (
        RuleHealth.ERR,
        f"remote query engine {engine.url}",
    )
    assert "Connection refused" in rule.last_error


def _api(engine: RemoteEngine) -> TestClient:
    api = PrometheusAPI(APIContext(engine=engine, queryable=MemoryStorage().queryable))
    return TestClient(Starlette(routes=api.routes()))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/query", {"query": "up", "time": "100"}),
        ("/api/v1/query_range", {"query": "up", "start": "0", "end": "60", "step": "15"}),
    ],
)
def test_the_api_answers_an_unreachable_remote_in_prometheus_envelope(
    path: str, params: dict[str, str]
) -> None:
    engine = _unreachable()
    with _api(engine) as client:
        response = client.get(path, params=params)
    engine.close()
    body = response.json()
    assert (response.status_code, body["status"], body["errorType"]) == (422, "error", "execution")
    assert body["error"].startswith(f"remote query engine {engine.url}: ")


def test_the_api_passes_the_remotes_bad_data_on_as_400() -> None:
    engine = _engine(_error(400, "bad_data", "1:3: parse error: unexpected end of input"))
    with _api(engine) as client:
        response = client.get("/api/v1/query", params={"query": "up{"})
    assert (response.status_code, response.json()) == (
        400,
        {
            "status": "error",
            "errorType": "bad_data",
            "error": f"remote query engine {URL}: 1:3: parse error: unexpected end of input",
        },
    )


def test_the_api_renders_the_remotes_result_as_prometheus_does() -> None:
    data = {
        "resultType": "vector",
        "result": [{"metric": {"__name__": "up", "job": "a"}, "value": [100, "1"]}],
    }
    with _api(_engine(_ok(data))) as client:
        response = client.get("/api/v1/query", params={"query": "up", "time": "100"})
    assert json.loads(response.text) == {"status": "success", "data": data}


@pytest.mark.parametrize("url", ["localhost:9090", "ftp://host/", "http://"])
def test_the_flag_refuses_what_is_not_an_http_url(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["server", f"--query.remote-url={url}"])
    assert f"argument --query.remote-url: {url!r} is not an http:// or https:// URL" in (
        capsys.readouterr().err
    )


def test_the_flag_takes_an_api_prefix() -> None:
    args = build_parser().parse_args(
        ["server", "--query.remote-url=http://vm:8428/select/0/prometheus"]
    )
    assert args.query_remote_url == "http://vm:8428/select/0/prometheus"


def test_without_the_flag_queries_stay_local() -> None:
    assert build_parser().parse_args(["server"]).query_remote_url == ""
