"""Native histograms in /api/v1/query and /api/v1/query_range: the `histogram` and
`histograms` members in Prometheus's exact shape, from the test storage and from the TSDB (count, sum, and the populated buckets as
[boundary rule, lower, upper, count], 0 meaning (lower, upper], 1 [lower, upper), 3 the
closed zero bucket), and `values` only for series that have float points."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.model import Labels
from vigil.model.histogram import FloatHistogram, Span
from vigil.promql.engine import Engine
from vigil.tsdb import MemoryStorage, Querier
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.web.api import APIContext, PrometheusAPI

# 1 observation in [-1, -0.5), 2 in the zero bucket [-0.001, 0.001], 3 in (1, 2], 1 in (2, 4]
H = FloatHistogram(
    schema=0,
    zero_threshold=0.001,
    zero_count=2,
    count=7,
    sum=8.5,
    positive_spans=(Span(1, 2),),
    positive_buckets=(3, 1),
    negative_spans=(Span(0, 1),),
    negative_buckets=(1,),
)
Queryable = Callable[[int, int], Querier]
H_JSON = {
    "count": "7",
    "sum": "8.5",
    "buckets": [
        [1, "-1", "-0.5", "1"],
        [3, "-0.001", "0.001", "2"],
        [0, "1", "2", "3"],
        [0, "2", "4", "1"],
    ],
}


SAMPLES: list[tuple[dict[str, str], int, float | FloatHistogram]] = [
    ({"__name__": "lat", "job": "a"}, 60_000, H),
    ({"__name__": "lat", "job": "a"}, 120_000, 1.5),
    ({"__name__": "lat", "job": "b"}, 60_000, FloatHistogram()),
]


def _memory(tmp_path: Path) -> Iterator[Queryable]:
    storage = MemoryStorage()
    for labels, t_ms, value in SAMPLES:
        storage.add(Labels.from_dict(labels), t_ms, value)
    yield storage.queryable


def _tsdb(tmp_path: Path) -> Iterator[Queryable]:
    """The samples stored in the TSDB, read back after a restart (from the WAL)."""
    options = TSDBOptions(max_future_ms=0)
    with TSDB.open(tmp_path, options, lambda: 0.0, CollectorRegistry()) as db:
        appender = db.appender()
        for labels, t_ms, value in SAMPLES:
            if isinstance(value, FloatHistogram):
                appender.append_histogram(Labels.from_dict(labels), t_ms, value)
            else:
                appender.append(Labels.from_dict(labels), t_ms, value)
        appender.commit()
    with TSDB.open(tmp_path, options, lambda: 0.0, CollectorRegistry()) as db:
        yield db.querier


@pytest.fixture(params=[_memory, _tsdb], ids=["memory", "tsdb"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TestClient]:
    for queryable in request.param(tmp_path):
        ctx = APIContext(engine=Engine(queryable), queryable=queryable)
        yield TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))


def _data(client: TestClient, path: str, **params: str) -> object:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_instant_query_renders_histogram_samples(client: TestClient) -> None:
    assert _data(client, "/api/v1/query", query="lat", time="90") == {
        "resultType": "vector",
        "result": [
            {"metric": {"__name__": "lat", "job": "a"}, "histogram": [90, H_JSON]},
            {
                "metric": {"__name__": "lat", "job": "b"},
                "histogram": [90, {"count": "0", "sum": "0"}],
            },
        ],
    }


def test_range_query_renders_histograms_beside_values(client: TestClient) -> None:
    data = _data(
        client, "/api/v1/query_range", query='lat{job="a"}', start="60", end="120", step="60"
    )
    assert data == {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"__name__": "lat", "job": "a"},
                "values": [[120, "1.5"]],
                "histograms": [[60, H_JSON]],
            }
        ],
    }
    only_histograms = _data(
        client, "/api/v1/query_range", query='lat{job="b"}', start="60", end="60", step="60"
    )
    assert only_histograms == {
        "resultType": "matrix",
        "result": [
            {
                "metric": {"__name__": "lat", "job": "b"},
                "histograms": [[60, {"count": "0", "sum": "0"}]],
            }
        ],
    }
