"""Every `/api/v1` parameter fuzzed (times, durations, steps, limits, match[], queries): the
property is Prometheus's contract that a bad parameter is the client's error — never a 500."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.fuzzing import DERANDOMIZE, examples
from vigil.model import Labels
from vigil.promql.engine import Engine, EngineOptions
from vigil.promql.testing import MemoryStorage
from vigil.web.api import APIContext, PrometheusAPI


@pytest.fixture(scope="module")
def client() -> TestClient:
    storage = MemoryStorage()
    for t in range(0, 600_000, 15_000):
        storage.add(Labels.from_dict({"__name__": "up", "job": "a"}), t, 1.0)
    engine = Engine(storage.queryable, EngineOptions(max_samples=100_000))
    ctx = APIContext(engine=engine, queryable=storage.queryable, clock=lambda: 300.0)
    return TestClient(Starlette(routes=PrometheusAPI(ctx).routes()), raise_server_exceptions=False)


_NUMBERS = st.one_of(
    st.floats().map(repr),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(
        ["1e300", "-1e300", "1e305", "1e-300", "nan", "inf", "-inf", "0x10", "1_000", "+5"]
    ),
)
TIMES = st.one_of(
    _NUMBERS,
    st.sampled_from(
        [
            "",
            "now",
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00",
            "9999-12-31T23:59:59Z",
            "0001-01-01T00:00:00+00:00",
            "2020-13-45T99:99:99Z",
            "2020-01-01T00:00:00+25:00",
        ]
    ),
    st.text(max_size=30),
)
DURATIONS = st.one_of(
    _NUMBERS,
    st.from_regex(r"\A-?(\d{1,25}(ms|s|m|h|d|w|y)){1,3}\Z"),
    st.text(alphabet=string.digits + "msdhwy.-+e", max_size=20),
    st.text(max_size=20),
)
LIMITS = st.one_of(st.integers(-5, 2**70).map(str), st.text(max_size=10))
_TOKENS = [
    "up", "{", "}", "(", ")", "[", "]", ":", ",", "job", "=", '"a"', "=~", '".*"', "!~",
    "sum", "by", "rate", "count_over_time", "vector", "@", "offset", "1", "-1", "1e300",
    "5m", "1ms", "10y", "+", "-", "*", "/", "^", "%", "and", "or", "unless", "on", "ignoring",
    "group_left", "bool", "==", ">", "start()", "end()", "topk", "quantile", "0.5", "NaN",
    "Inf", "label_replace", "histogram_quantile", "scalar", "time()", "timestamp", "absent",
    "#", "'", "`", "\\", "\x00", "é",
]  # fmt: skip
QUERIES = st.one_of(
    st.lists(st.sampled_from(_TOKENS), max_size=12).map(" ".join),
    st.sampled_from(
        [
            "up @ 1e300",
            "up @ -1e300",
            "up @ 1e12",
            "up[1e300s]",
            "up offset 300000y",
            "up offset -300000y",
            "count_over_time(vector(1)[10y:1ms])",
            "vector(1)[5m:0s]",
            "up[0s]",
            "rate(up[1ms])",
            "topk(1e300, up)",
            "topk(-1, up)",
            "quantile(NaN, up)",
            "label_replace(up, 'a', '$1', 'job', '(')",
            "histogram_quantile(1e300, up)",
            "predict_linear(up[5m], 1e300)",
            "holt_winters(up[5m], 0.5, 0.5)",
            "round(up, 0)",
            "sort_by_label(up, '\\xff')",
        ]
    ),
    st.text(max_size=30),
)
SELECTORS = st.lists(st.one_of(QUERIES, st.sampled_from(["up", '{job="a"}', "{}"])), max_size=3)
LABEL_NAMES = st.one_of(
    st.sampled_from(["job", "__name__", "U__a_2e_b", "U___zz_", "U__", "0bad-na me"]),
    st.text(alphabet=string.ascii_letters + string.digits + "_-. %é", min_size=1, max_size=12)
    # "." and ".." are dot segments: clients resolve them before a request is sent.
    .filter(lambda name: name not in (".", "..")),
)


def _params(draw_map: dict[str, str | None], selectors: list[str]) -> list[tuple[str, str]]:
    params = [(k, v) for k, v in draw_map.items() if v is not None]
    return params + [("match[]", s) for s in selectors]


def _assert_not_500(client: TestClient, path: str, params: list[tuple[str, str]]) -> None:
    for response in (
        client.get(path, params=params),
        client.post(path, data=dict(params), headers={}),
    ):
        if response.status_code == 405:
            continue
        assert response.status_code != 500, (path, params, response.text)
        assert response.headers["content-type"] == "application/json", response.text
        assert response.json()["status"] in ("success", "error")


_FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@_FUZZ
@given(query=QUERIES, time=st.none() | TIMES, timeout=st.none() | DURATIONS)
def test_query(client: TestClient, query: str, time: str | None, timeout: str | None) -> None:
    _assert_not_500(
        client, "/api/v1/query", _params({"query": query, "time": time, "timeout": timeout}, [])
    )


@_FUZZ
@given(
    query=QUERIES,
    start=st.none() | TIMES,
    end=st.none() | TIMES,
    step=st.none() | DURATIONS,
    timeout=st.none() | DURATIONS,
)
def test_query_range(
    client: TestClient,
    query: str,
    start: str | None,
    end: str | None,
    step: str | None,
    timeout: str | None,
) -> None:
    params = {"query": query, "start": start, "end": end, "step": step, "timeout": timeout}
    _assert_not_500(client, "/api/v1/query_range", _params(params, []))


@_FUZZ
@given(
    path=st.sampled_from(["/api/v1/series", "/api/v1/labels", "/api/v1/query_exemplars"]),
    query=st.none() | QUERIES,
    selectors=SELECTORS,
    start=st.none() | TIMES,
    end=st.none() | TIMES,
    limit=st.none() | LIMITS,
)
def test_series_labels_exemplars(
    client: TestClient,
    path: str,
    query: str | None,
    selectors: list[str],
    start: str | None,
    end: str | None,
    limit: str | None,
) -> None:
    params = {"query": query, "start": start, "end": end, "limit": limit}
    _assert_not_500(client, path, _params(params, selectors))


@_FUZZ
@given(
    name=LABEL_NAMES,
    selectors=SELECTORS,
    start=st.none() | TIMES,
    end=st.none() | TIMES,
    limit=st.none() | LIMITS,
)
def test_label_values(
    client: TestClient,
    name: str,
    selectors: list[str],
    start: str | None,
    end: str | None,
    limit: str | None,
) -> None:
    path = "/api/v1/label/" + name.replace("%", "%25").replace("/", "%2F") + "/values"
    _assert_not_500(client, path, _params({"start": start, "end": end, "limit": limit}, selectors))


@_FUZZ
@given(
    path=st.sampled_from(["/api/v1/format_query", "/api/v1/parse_query", "/api/v1/metadata"]),
    query=st.none() | QUERIES,
    limit=st.none() | LIMITS,
)
def test_format_parse_metadata(
    client: TestClient, path: str, query: str | None, limit: str | None
) -> None:
    _assert_not_500(client, path, _params({"query": query, "metric": query, "limit": limit}, []))
