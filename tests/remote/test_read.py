"""Remote read: `/api/v1/read` answers from the local TSDB in Prometheus's SAMPLES format
(decoded here with the protobuf runtime), refuses bad requests with a clear 400, and the
client side merges a remote store's series into local queries as `remote_read` says."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import cramjam
import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.config.prometheus import parse_config
from vigil.model import Labels, Matcher
from vigil.promql.engine import Engine, EngineOptions
from vigil.promql.testing import parse_histogram
from vigil.promql.value import Vector
from vigil.remote.prompb import LabelMatcher, Query, ReadRequest, ReadResponse
from vigil.remote.read import (
    ReadEndpoint,
    ReadOptions,
    RemoteReadClient,
    RemoteReadQueryable,
    oldest_timestamp,
)
from vigil.tsdb import STALE_NAN, SeriesData
from vigil.tsdb.db import TSDB

UP_A = Labels.from_dict({"__name__": "up", "instance": "a", "job": "node"})
UP_B = Labels.from_dict({"__name__": "up", "instance": "b", "job": "node"})
LOAD = Labels.from_dict({"__name__": "load", "instance": "a"})
POINTS = {
    UP_A: [(1_000, 1.0), (16_000, 0.0), (31_000, STALE_NAN)],
    UP_B: [(1_000, 1.0), (2**40, math.inf)],
    LOAD: [(-5_000, -0.5), (16_000, 1e-300)],
}


@pytest.fixture
def tsdb(tmp_path: Path) -> Iterator[TSDB]:
    with TSDB.open(tmp_path / "data") as db:
        appender = db.appender()
        for labels, points in POINTS.items():
            for t, v in points:
                appender.append(labels, t, v)
        appender.commit()
        yield db


def _bits(points: Sequence[tuple[int, float]]) -> list[tuple[int, int]]:
    return [(t, int(np.array([v]).view(np.uint64)[0])) for t, v in points]


def _request(*queries: Query, types: Sequence[int] = ()) -> bytes:
    raw = ReadRequest(queries=queries, accepted_response_types=types).SerializeToString()
    return bytes(cramjam.snappy.compress_raw(raw))


def _query(mint: int, maxt: int, *matchers: tuple[int, str, str]) -> Query:
    return Query(
        start_timestamp_ms=mint,
        end_timestamp_ms=maxt,
        matchers=[LabelMatcher(type=t, name=n, value=v) for t, n, v in matchers],
    )


def _decoded(body: bytes) -> list[dict[Labels, list[tuple[int, int]]]]:
    response = ReadResponse.FromString(bytes(cramjam.snappy.decompress_raw(body)))
    return [
        {
            Labels.from_pairs((p.name, p.value) for p in ts.labels): _bits(
                [(s.timestamp, s.value) for s in ts.samples]
            )
            for ts in result.timeseries
        }
        for result in response.results
    ]


def _client(tsdb: TSDB, options: ReadOptions | None = None) -> TestClient:
    endpoint = ReadEndpoint(tsdb.querier, lambda: options or ReadOptions())
    return TestClient(Starlette(routes=list(endpoint.routes())))


@pytest.mark.parametrize(
    "types", [(), (ReadRequest.SAMPLES,), (ReadRequest.STREAMED_XOR_CHUNKS, ReadRequest.SAMPLES)]
)
def test_each_query_is_answered_with_its_samples(tsdb: TSDB, types: Sequence[int]) -> None:
    body = _request(
        _query(0, 20_000, (LabelMatcher.EQ, "__name__", "up")),
        _query(
            -(10**13),
            10**13,
            (LabelMatcher.RE, "__name__", ".+"),
            (LabelMatcher.NEQ, "instance", "b"),
        ),
        _query(0, 1, (LabelMatcher.EQ, "__name__", "nothing")),
        types=types,
    )
    with _client(tsdb) as client:
        response = client.post("/api/v1/read", content=body)
    assert (
        response.status_code,
        response.headers["content-type"],
        response.headers["content-encoding"],
    ) == (
        200,
        "application/x-protobuf",
        "snappy",
    )
    assert _decoded(response.content) == [
        {UP_A: _bits(POINTS[UP_A][:2]), UP_B: _bits(POINTS[UP_B][:1])},
        {UP_A: _bits(POINTS[UP_A]), LOAD: _bits(POINTS[LOAD])},
        {},
    ]


def test_external_labels_are_added_and_matched(tsdb: TSDB) -> None:
    options = ReadOptions(external_labels=Labels.from_dict({"site": "x", "instance": "z"}))
    body = _request(
        _query(0, 20_000, (LabelMatcher.EQ, "__name__", "load"), (LabelMatcher.EQ, "site", "x")),
        _query(0, 20_000, (LabelMatcher.EQ, "__name__", "load"), (LabelMatcher.EQ, "site", "y")),
    )
    with _client(tsdb, options) as client:
        response = client.post("/api/v1/read", content=body)
    assert _decoded(response.content) == [
        {LOAD.with_label("site", "x"): _bits(POINTS[LOAD][1:])},  # the series' own instance wins
        {},
    ]


@pytest.mark.parametrize(
    ("body", "options", "message"),
    [
        (
            b"\x00\x01garbage",
            ReadOptions(),
            "body is not snappy-compressed (block format): snappy: corrupt input",
        ),
        (
            bytes(cramjam.snappy.compress_raw(b"\x0a\x20\x08")),
            ReadOptions(),
            "body is not a valid ReadRequest protobuf: Error parsing message",
        ),
        (
            _request(_query(0, 1, (LabelMatcher.RE, "__name__", "("))),
            ReadOptions(),
            "invalid matcher: ",
        ),
        (
            _request(_query(-(10**13), 10**13, (LabelMatcher.RE, "__name__", ".+"))),
            ReadOptions(sample_limit=5),
            "exceeded sample limit (5)",
        ),
        (b"x" * 20, ReadOptions(max_body_bytes=10), "request too large: more than 10 bytes"),
    ],
    ids=["not-snappy", "not-protobuf", "bad-regex", "sample-limit", "too-large"],
)
def test_bad_requests_are_refused(
    tsdb: TSDB, body: bytes, options: ReadOptions, message: str
) -> None:
    with _client(tsdb, options) as client:
        response = client.post("/api/v1/read", content=body)
    assert (response.status_code, response.text[: len(message)]) == (400, message)


# --- client side ----------------------------------------------------------------------------


def _remote(tsdb: TSDB, seen: list[Query]) -> httpx.Client:
    """An httpx client whose transport is the read endpoint over `tsdb` (recording queries)."""
    endpoint = ReadEndpoint(tsdb.querier, ReadOptions)

    def answer(request: httpx.Request) -> httpx.Response:
        body = request.read()
        raw = bytes(cramjam.snappy.decompress_raw(body))
        seen.extend(ReadRequest.FromString(raw).queries)
        return httpx.Response(200, content=endpoint.answer(body, ReadOptions()))

    return httpx.Client(transport=httpx.MockTransport(answer))


class _Local:
    """Local storage with samples of `up{instance="a"}` at 40 s and 50 s (newer than the
    remote's): its start is 40 s."""

    def __init__(self, tmp: Path) -> None:
        self.tsdb = TSDB.open(tmp / "local")
        appender = self.tsdb.appender()
        appender.append(UP_A, 40_000, 7.0)
        appender.append(UP_A, 50_000, 8.0)
        appender.commit()


def _queryable(local: TSDB, remote: TSDB, yaml: str, seen: list[Query]) -> RemoteReadQueryable:
    queryable = RemoteReadQueryable(local.querier, lambda: oldest_timestamp(local))
    configs = parse_config(f"remote_read:\n{yaml}").remote_read
    queryable.clients = tuple(RemoteReadClient(c, _remote(remote, seen)) for c in configs)
    return queryable


def _select(
    queryable: RemoteReadQueryable, mint: int, maxt: int, name: str
) -> dict[Labels, list[tuple[int, int]]]:
    querier = queryable(mint, maxt)
    try:
        found: list[SeriesData] = list(querier.select([Matcher.of("__name__", "=", name)]))
    finally:
        querier.close()
    return {
        s.labels: _bits(list(zip(s.timestamps.tolist(), s.values.tolist(), strict=True)))
        for s in found
    }


def test_remote_series_are_merged_with_local_ones(tsdb: TSDB, tmp_path: Path) -> None:
    local = _Local(tmp_path)
    seen: list[Query] = []
    queryable = _queryable(
        local.tsdb, tsdb, "  - url: http://remote/api/v1/read\n    read_recent: true\n", seen
    )
    got = _select(queryable, 0, 50_000, "up")
    local.tsdb.close()
    assert got == {
        UP_A: _bits([*POINTS[UP_A], (40_000, 7.0), (50_000, 8.0)]),
        UP_B: _bits(POINTS[UP_B][:1]),
    }
    assert [(q.start_timestamp_ms, q.end_timestamp_ms) for q in seen] == [(0, 50_000)]


def test_without_read_recent_the_remote_is_asked_only_for_older_time(
    tsdb: TSDB, tmp_path: Path
) -> None:
    local = _Local(tmp_path)
    seen: list[Query] = []
    queryable = _queryable(local.tsdb, tsdb, "  - url: http://remote/api/v1/read\n", seen)
    recent = _select(queryable, 45_000, 60_000, "up")  # all local: the remote is not asked
    older = _select(queryable, 0, 60_000, "up")  # the remote up to the local start only
    local.tsdb.close()
    assert recent == {UP_A: _bits([(50_000, 8.0)])}
    assert older == {
        UP_A: _bits([*POINTS[UP_A], (40_000, 7.0), (50_000, 8.0)]),
        UP_B: _bits(POINTS[UP_B][:1]),
    }
    assert [(q.start_timestamp_ms, q.end_timestamp_ms) for q in seen] == [(0, 40_000)]


def test_required_matchers_decide_which_selectors_reach_the_remote(
    tsdb: TSDB, tmp_path: Path
) -> None:
    local = _Local(tmp_path)
    seen: list[Query] = []
    yaml = "  - url: http://remote/api/v1/read\n    read_recent: true\n    required_matchers:\n      job: node\n"
    queryable = _queryable(local.tsdb, tsdb, yaml, seen)
    engine = Engine(queryable, EngineOptions(timeout_s=None))
    without = engine.instant_query("up", 35_000).value
    with_job = engine.instant_query('up{job="node"}', 35_000).value
    local.tsdb.close()
    assert isinstance(without, Vector) and isinstance(with_job, Vector)
    # up{instance="a"} is stale at 31 s, so only the remote's b answers, and only with job=
    assert [s.labels for s in without.samples] == []
    assert [(s.labels, s.value) for s in with_job.samples] == [(UP_B, 1.0)]
    assert len(seen) == 1


def test_an_unreachable_remote_leaves_local_data_answered(tmp_path: Path) -> None:
    local = _Local(tmp_path)
    queryable = RemoteReadQueryable(local.tsdb.querier, lambda: oldest_timestamp(local.tsdb))
    configs = parse_config(
        "remote_read:\n  - url: http://127.0.0.1:1/api/v1/read\n    read_recent: true\n"
    ).remote_read
    queryable.apply(configs)
    got = _select(queryable, 0, 50_000, "up")
    queryable.close()
    local.tsdb.close()
    assert got == {UP_A: _bits([(40_000, 7.0), (50_000, 8.0)])}


HIST = Labels.from_dict({"__name__": "latency", "job": "node"})


def test_native_histograms_are_served_and_read_back(tmp_path: Path) -> None:
    """A series switching from floats to histograms goes over remote read whole: the
    endpoint sends its histograms in `TimeSeries.histograms`, the client reads them back."""
    histograms = [parse_histogram(f"{{{{sum:{i} count:{i} buckets:[{i}]}}}}") for i in (1, 2)]
    with TSDB.open(tmp_path / "remote") as remote:
        appender = remote.appender()
        appender.append(HIST, 1_000, 0.5)
        appender.commit()
        appender.append_histogram(HIST, 16_000, histograms[0])
        appender.append_histogram(HIST, 31_000, histograms[1])
        appender.commit()
        local = _Local(tmp_path)
        queryable = _queryable(local.tsdb, remote, "  - url: http://remote/api/v1/read\n", [])
        querier = queryable(0, 40_000)
        try:
            [found] = list(querier.select([Matcher.of("__name__", "=", "latency")]))
        finally:
            querier.close()
            local.tsdb.close()
    assert found.timestamps.tolist() == [1_000, 16_000, 31_000]
    assert found.values[0] == 0.5
    assert found.histograms is not None
    assert list(found.histograms) == [None, *histograms]
