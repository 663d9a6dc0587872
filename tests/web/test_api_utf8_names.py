"""Prometheus 3's UTF-8 metric and label names through PromQL and the HTTP API: quoted names in
selectors (`{"http.requests_total", "http.route"="/pay"}`), grouping, vector matching and the
label functions, as series pushed over OTLP with `NoUTF8EscapingWithSuffixes` arrive."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.model import Labels
from vigil.promql.engine import Engine
from vigil.tsdb import MemoryStorage
from vigil.web.api import APIContext, PrometheusAPI

REQUESTS = "http.requests_total"


@pytest.fixture(scope="module")
def client() -> TestClient:
    storage = MemoryStorage()
    for t in range(0, 600_000, 15_000):
        for route, per_s in (("/pay", 1), ("/cart", 2)):
            labels = {"__name__": REQUESTS, "http.route": route, "job": "shop"}
            storage.add(Labels.from_dict(labels), t, t / 1000 * per_s)
        info = {"__name__": "target_info", "job": "shop", "k8s.cluster.name": "eu"}
        storage.add(Labels.from_dict(info), t, 1.0)
    ctx = APIContext(
        engine=Engine(storage.queryable),
        queryable=storage.queryable,
        clock=lambda: 300.0,
        flags={},
    )
    return TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))


def _data(response: Any) -> Any:
    body = response.json()
    assert (response.status_code, body["status"]) == (200, "success"), body
    return body["data"]


PAY = {"__name__": REQUESTS, "http.route": "/pay", "job": "shop"}
CART = {"__name__": REQUESTS, "http.route": "/cart", "job": "shop"}

QUERIES = [
    ('{"http.requests_total", "http.route"="/pay"}', [(PAY, "300")]),
    ('{\'http.requests_total\', "http.route"=~"/c.*"}', [(CART, "600")]),
    ('{"http.route"="/pay", "http.requests_total"}', [(PAY, "300")]),
    ('{__name__="http.requests_total", "http.route"!="/cart"}', [(PAY, "300")]),
    (
        'sum by ("http.route") (rate({"http.requests_total"}[1m]))',
        [({"http.route": "/cart"}, "2"), ({"http.route": "/pay"}, "1")],
    ),
    ('sum without ("http.route") ({"http.requests_total"})', [({"job": "shop"}, "900")]),
    (
        '{"http.requests_total"} * on (job) group_left ("k8s.cluster.name") target_info',
        [
            ({**CART, "k8s.cluster.name": "eu"} | {"__name__": None}, "600"),
            ({**PAY, "k8s.cluster.name": "eu"} | {"__name__": None}, "300"),
        ],
    ),
    (
        'label_replace({"http.requests_total"}, "route.name", "$1", "http.route", "/(.*)")',
        [({**CART, "route.name": "cart"}, "600"), ({**PAY, "route.name": "pay"}, "300")],
    ),
    (
        'label_join({"http.requests_total"}, "route.job", "@", "http.route", "job")',
        [({**CART, "route.job": "/cart@shop"}, "600"), ({**PAY, "route.job": "/pay@shop"}, "300")],
    ),
    (
        'count_values("requests.seen", {"http.requests_total"})',
        [({"requests.seen": "300"}, "1"), ({"requests.seen": "600"}, "1")],
    ),
    (
        'topk by ("http.route") (1, {"http.requests_total"} offset 1m)',
        [(CART, "480"), (PAY, "240")],
    ),
]


def _round(value: str) -> str:
    return format(round(float(value), 9), "g")


@pytest.mark.parametrize(("query", "want"), QUERIES, ids=[q for q, _ in QUERIES])
def test_queries_over_utf8_names(
    client: TestClient, query: str, want: list[tuple[dict[str, str | None], str]]
) -> None:
    data = _data(client.get("/api/v1/query", params={"query": query, "time": "300"}))
    got = sorted(
        (sorted(item["metric"].items()), _round(item["value"][1])) for item in data["result"]
    )
    assert got == sorted(
        (sorted((k, v) for k, v in metric.items() if v is not None), value)
        for metric, value in want
    )


def test_an_unquoted_dotted_name_is_a_parse_error(client: TestClient) -> None:
    response = client.get("/api/v1/query", params={"query": "http.requests_total"})
    assert (response.status_code, response.json()["errorType"]) == (400, "bad_data")


def test_metadata_endpoints_list_utf8_names(client: TestClient) -> None:
    assert _data(client.get("/api/v1/series", params={"match[]": '{"http.requests_total"}'})) == [
        CART,
        PAY,
    ]
    assert _data(client.get("/api/v1/labels")) == [
        "__name__",
        "http.route",
        "job",
        "k8s.cluster.name",
    ]
    assert _data(client.get("/api/v1/label/U__http_2e_route/values")) == ["/cart", "/pay"]
    assert _data(client.get("/api/v1/label/__name__/values")) == [REQUESTS, "target_info"]
