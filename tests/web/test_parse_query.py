"""`/api/v1/parse_query` (Prometheus 3): the tree in the success envelope, GET and POST alike,
and parse errors as `bad_data` with HTTP 400."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.promql.ast_json import parse_query_ast
from vigil.promql.engine import Engine
from vigil.tsdb import MemoryStorage
from vigil.web.api import APIContext, PrometheusAPI

QUERY = 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m])) > bool 0.1'


@pytest.fixture
def client() -> TestClient:
    storage = MemoryStorage()
    ctx = APIContext(engine=Engine(storage.queryable), queryable=storage.queryable)
    return TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))


def test_get_and_post_return_the_tree(client: TestClient) -> None:
    by_get = client.get("/api/v1/parse_query", params={"query": QUERY})
    by_post = client.post("/api/v1/parse_query", data={"query": QUERY})
    for response in (by_get, by_post):
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "success", "data": parse_query_ast(QUERY)}
    data = by_get.json()["data"]
    assert (data["type"], data["op"], data["bool"], data["matching"]) == (
        "binaryExpr",
        ">",
        True,
        None,
    )
    assert data["lhs"]["grouping"] == ["job"]
    assert data["lhs"]["expr"]["args"][0]["matchers"] == [
        {"type": "=~", "name": "code", "value": "5.."},
        {"type": "=", "name": "__name__", "value": "http_requests_total"},
    ]


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({}, "no expression found in input"),
        ({"query": "sum("}, "unclosed left parenthesis"),
        ({"query": "1 > 2"}, "comparisons between scalars must use BOOL modifier"),
        ({"query": "up[5m] smoothed"}, "smoothed"),
    ],
)
def test_parse_errors_are_bad_data(
    client: TestClient, params: dict[str, str], fragment: str
) -> None:
    response = client.get("/api/v1/parse_query", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert (body["status"], body["errorType"]) == ("error", "bad_data")
    assert body["error"].startswith('invalid parameter "query": ')
    assert fragment in body["error"]
