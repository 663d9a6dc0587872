"""Loki's read API over a seeded store: label names and values in a time range, build info,
readiness, plain-text refusals, and index volume sums counted from the seed."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.loki_store import APP_ERROR, APP_INFO, DB, NOW_S, STREAMS, T0_S, seeded_store
from vigil.model import Matcher
from vigil.model.clock import ManualClock
from vigil.web.loki_api import LokiAPI, LokiContext
from vigil.web.loki_params import Bounds
from vigil.web.loki_volume import VolumeQuery, volume, volume_range

NS = 1_000_000_000


def _client(not_ready: str | None = None) -> TestClient:
    ctx = LokiContext(
        queryable=seeded_store(),
        clock=ManualClock(NOW_S),
        not_ready=lambda: not_ready,
    )
    api = LokiAPI(ctx)
    return TestClient(Starlette(routes=api.listener_routes()))


@pytest.mark.parametrize(
    ("path", "params", "want"),
    [
        ("/loki/api/v1/labels", {}, ["job", "level", "service_name"]),
        ("/loki/api/v1/label", {}, ["job", "level", "service_name"]),
        ("/loki/api/v1/labels", {"start": str(NOW_S + 1)}, []),
        ("/loki/api/v1/labels", {"since": "5m"}, ["job", "level", "service_name"]),
        ("/loki/api/v1/labels", {"end": str((T0_S - 1) * NS)}, []),
        ("/loki/api/v1/label/level/values", {}, ["error", "info"]),
        ("/loki/api/v1/label/job/values", {"start": "2023-11-14T22:13:20Z"}, ["app", "db"]),
        # the db stream's last line is at T0+580, the error stream's at T0+505
        ("/loki/api/v1/label/level/values", {"start": str(T0_S + 506)}, ["info"]),
        ("/loki/api/v1/label/nothing/values", {}, []),
    ],
)
def test_labels(path: str, params: dict[str, str], want: list[str]) -> None:
    response = _client().get(path, params=params, headers={"X-Scope-OrgID": "tenant-a"})
    assert (response.status_code, response.json()) == (200, {"status": "success", "data": want})


@pytest.mark.parametrize(
    ("path", "params", "body"),
    [
        (
            "/loki/api/v1/labels",
            {"start": "soon"},
            'strconv.ParseInt: parsing "soon": invalid syntax\n',
        ),
        (
            "/loki/api/v1/label/job/values",
            {"since": "a while"},
            'invalid parameter "since": cannot parse "a while" to a valid duration\n',
        ),
    ],
)
def test_refusals_are_plain_text(path: str, params: dict[str, str], body: str) -> None:
    response = _client().get(path, params=params)
    assert (response.status_code, response.headers["content-type"], response.text) == (
        400,
        "text/plain; charset=utf-8",
        body,
    )


def test_buildinfo_is_bare() -> None:
    body = _client().get("/loki/api/v1/status/buildinfo").json()
    assert sorted(body) == ["branch", "buildDate", "buildUser", "goVersion", "revision", "version"]


@pytest.mark.parametrize(
    ("not_ready", "status", "text"),
    [(None, 200, "ready\n"), ("replaying the WAL", 503, "Not ready: replaying the WAL\n")],
)
@pytest.mark.parametrize("path", ["/loki/ready", "/ready"])
def test_ready(path: str, not_ready: str | None, status: int, text: str) -> None:
    response = _client(not_ready).get(path)
    assert (response.status_code, response.text) == (status, text)


def _bytes(entries_index: int, since_s: int = 0, until_s: int = 10**10) -> int:
    batch = STREAMS[entries_index]
    times = (batch.timestamps // NS).tolist()
    return sum(
        len(line) for t, line in zip(times, batch.lines, strict=True) if since_s < t <= until_s
    )


def test_volume_by_selector_labels() -> None:
    querier = seeded_store().querier(T0_S * NS, NOW_S * NS)
    query = VolumeQuery([Matcher.of("service_name", "=~", ".+")], ("service_name",))
    assert volume(querier, query, NOW_S * NS) == [
        {"metric": {"service_name": "app"}, "value": [NOW_S, str(_bytes(0) + _bytes(1))]},
        {"metric": {"service_name": "db"}, "value": [NOW_S, str(_bytes(2))]},
    ]


def test_volume_targets_and_limit() -> None:
    querier = seeded_store().querier(T0_S * NS, NOW_S * NS)
    query = VolumeQuery([Matcher.of("job", "=", "app")], ("job", "level"), limit=1)
    assert volume(querier, query, NOW_S * NS) == [
        {"metric": dict(APP_INFO.without("service_name")), "value": [NOW_S, str(_bytes(0))]}
    ]


def test_volume_range_sums_each_step_window() -> None:
    start, end, step = T0_S, T0_S + 600, 300
    querier = seeded_store().querier(start * NS, end * NS)
    query = VolumeQuery([Matcher.of("job", "=~", "app|db")], ("job",))
    got = volume_range(querier, query, Bounds(start * NS, end * NS), step * NS)
    points = (start, start + 300, start + 600)  # each sums the lines in (t - 300 s, t]
    assert got == [
        {
            "metric": {"job": APP_ERROR.get("job")},
            "values": [[t, str(_bytes(0, t - step, t) + _bytes(1, t - step, t))] for t in points],
        },
        {
            "metric": {"job": DB.get("job")},
            "values": [[t, str(_bytes(2, t - step, t))] for t in points],
        },
    ]


def _stream_bytes(*indices: int) -> int:
    return sum(len(STREAMS[i].lines.data) for i in indices)


@pytest.mark.parametrize(
    ("method", "path", "params", "want"),
    [
        (
            "GET",
            "/loki/api/v1/series",
            [("match[]", '{job="app"}')],
            [dict(APP_ERROR), dict(APP_INFO)],
        ),
        (
            "POST",
            "/loki/api/v1/series",
            [("match[]", '{level="error"}'), ("match[]", '{job="db"}')],
            [dict(APP_ERROR), dict(DB)],
        ),
        ("GET", "/loki/api/v1/series", [], [dict(APP_ERROR), dict(APP_INFO), dict(DB)]),
        (
            "GET",
            "/loki/api/v1/series",
            [("match[]", '{job="app"} |= "boom"')],
            [dict(APP_ERROR), dict(APP_INFO)],
        ),
        ("GET", "/loki/api/v1/labels", [("query", '{job="db"}')], ["job", "service_name"]),
        ("GET", "/loki/api/v1/label/level/values", [("query", '{level=~"e.*"}')], ["error"]),
        (
            "GET",
            "/loki/api/v1/format_query",
            [("query", '{job="app",x=~"y"}|="a"')],
            '{job="app", x=~"y"} |= "a"',
        ),
    ],
)
def test_selectors(method: str, path: str, params: list[tuple[str, str]], want: object) -> None:
    client = _client()
    if method == "POST":
        response = client.post(path, data={"match[]": [v for _, v in params]})
    else:
        response = client.get(path, params=params)
    assert (response.status_code, response.json()) == (200, {"status": "success", "data": want})


def test_index_stats_is_bare() -> None:
    response = _client().get("/loki/api/v1/index/stats", params={"query": '{job="app"}'})
    assert response.json() == {
        "streams": 2,
        "chunks": 2,
        "bytes": _stream_bytes(0, 1),
        "entries": 66,
    }


def test_index_volume_routes() -> None:
    client = _client()
    query = {"query": '{service_name=~".+"}', "start": str(T0_S), "end": str(NOW_S)}
    got = client.get("/loki/api/v1/index/volume", params={**query, "limit": "1"}).json()
    assert got == {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": {"service_name": "app"}, "value": [NOW_S, str(_stream_bytes(0, 1))]}
            ],
        },
    }
    ranged = client.get(
        "/loki/api/v1/index/volume_range", params={**query, "step": "10m", "targetLabels": "job"}
    ).json()
    assert ranged["data"]["result"] == [
        {
            "metric": {"job": "app"},
            "values": [[T0_S, "14"], [NOW_S, str(_stream_bytes(0, 1) - 14)]],
        },
        {"metric": {"job": "db"}, "values": [[T0_S, "12"], [NOW_S, str(_stream_bytes(2) - 12)]]},
    ]


@pytest.mark.parametrize(
    ("path", "params", "body"),
    [
        (
            "/loki/api/v1/series",
            {"match[]": '{job="app"'},
            "parse error at line 1, col 11: syntax error: unexpected end of input, expecting '}'\n",
        ),
        (
            "/loki/api/v1/index/stats",
            {"query": 'count_over_time({job="app"}[1m])'},
            "only label matchers is supported\n",
        ),
        (
            "/loki/api/v1/index/stats",
            {},
            "parse error at line 1, col 1: syntax error: unexpected end of input\n",
        ),
        (
            "/loki/api/v1/index/volume",
            {"query": '{job="app"}', "aggregateBy": "labels"},
            "unsupported aggregateBy 'labels': vigil aggregates by series\n",
        ),
        (
            "/loki/api/v1/index/volume_range",
            {"query": '{job="app"}', "step": "-1s"},
            'invalid parameter "step": cannot parse "-1s" to a valid duration\n',
        ),
    ],
)
def test_selector_refusals(path: str, params: dict[str, str], body: str) -> None:
    response = _client().get(path, params=params)
    assert (response.status_code, response.text) == (400, body)
