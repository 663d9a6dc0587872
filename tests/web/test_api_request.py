"""The query endpoints' request path: form bodies parsed like Starlette's form parser and capped
at Go's 10 MB, and where a query runs (a worker thread, or the event loop once the same query has
proved cheap)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

import vigil.web.api
from vigil.model import Labels
from vigil.promql.engine import Engine
from vigil.promql.value import QueryResult, Scalar
from vigil.tsdb import MemoryStorage
from vigil.tsdb._api import Querier
from vigil.web.api import APIContext, PrometheusAPI


def _storage() -> MemoryStorage:
    storage = MemoryStorage()
    for i in range(0, 600_000, 15_000):
        storage.add(Labels.from_dict({"__name__": "up", "job": "nøde ✓", "instance": "a"}), i, 1.0)
    return storage


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", "query=up%7Bjob%3D%22n%C3%B8de+%E2%9C%93%22%7D"),
        ("application/x-www-form-urlencoded; charset=UTF-8", 'query=up{job="nøde ✓"}&time='),
        ("Application/X-WWW-Form-Urlencoded", "query=up%7Bjob%3D%22n%C3%B8de%20%E2%9C%93%22%7D"),
    ],
)
def test_urlencoded_bodies(content_type: str, body: str) -> None:
    ctx = APIContext(engine=Engine(_storage().queryable), queryable=_storage().queryable)
    client = TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))
    answer = client.post(
        "/api/v1/query?time=300", content=body.encode(), headers={"content-type": content_type}
    ).json()
    assert answer["data"]["result"][0]["metric"]["job"] == "nøde ✓", answer


def test_multipart_bodies_still_parse() -> None:
    ctx = APIContext(engine=Engine(_storage().queryable), queryable=_storage().queryable)
    client = TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))
    answer = client.post("/api/v1/query", files={"query": (None, "up"), "time": (None, "300")})
    assert [r["value"] for r in answer.json()["data"]["result"]] == [[300, "1"]]


def _chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    """The body streamed in chunks, without a Content-Length."""
    for at in range(0, len(body), size):
        yield body[at : at + size]


FORM_LIMIT = vigil.web.api.MAX_FORM_BYTES
PADDED_QUERY = b"query=1&pad="


@pytest.mark.parametrize(
    ("name", "body", "streamed", "want"),
    [
        ("at the limit", PADDED_QUERY.ljust(FORM_LIMIT, b"x"), False, (200, None)),
        ("a byte over", PADDED_QUERY.ljust(FORM_LIMIT + 1, b"x"), False, (400, "bad_data")),
        ("over, streamed", PADDED_QUERY.ljust(FORM_LIMIT + 1, b"x"), True, (400, "bad_data")),
        ("too many fields", b"query=1" + b"&a=" * 10_000, False, (400, "bad_data")),
        ("many fields", b"query=1" + b"&a=" * 9_999, False, (200, None)),
    ],
)
def test_form_bodies_are_capped_like_prometheus(
    name: str, body: bytes, streamed: bool, want: tuple[int, str | None]
) -> None:
    ctx = APIContext(engine=Engine(_storage().queryable), queryable=_storage().queryable)
    client = TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))
    answer = client.post(
        "/api/v1/query",
        content=_chunks(body) if streamed else body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (answer.status_code, answer.json().get("errorType")) == want, answer.text


def test_multipart_bodies_are_capped_too() -> None:
    ctx = APIContext(engine=Engine(_storage().queryable), queryable=_storage().queryable)
    client = TestClient(Starlette(routes=PrometheusAPI(ctx).routes()))
    pad = "x" * (FORM_LIMIT // 2)
    answer = client.post(
        "/api/v1/query", files={"query": (None, "1"), "a": (None, pad), "b": (None, pad)}
    )
    assert (answer.status_code, answer.json()["errorType"]) == (400, "bad_data")


class _ThreadRecorder:
    """A Queryable that notes which thread each query opened it from."""

    def __init__(self, storage: MemoryStorage) -> None:
        self.storage = storage
        self.threads: list[int] = []

    def __call__(self, mint: int, maxt: int) -> Querier:
        self.threads.append(threading.get_ident())
        return self.storage.queryable(mint, maxt)


def _loop_thread(client: TestClient) -> int:
    """The event loop's thread: the one the endpoints (not the queries) run on."""
    seen: list[int] = []

    async def probe() -> None:
        seen.append(threading.get_ident())

    assert client.portal is not None
    client.portal.call(probe)
    return seen[0]


@pytest.mark.parametrize(
    ("inline_s", "where"),
    [
        (3600.0, ["thread", "loop", "loop"]),  # the first run is unknown, so it takes a thread
        (0.0, ["thread", "thread", "thread"]),
    ],
)
def test_a_query_that_ran_fast_runs_on_the_loop(
    monkeypatch: pytest.MonkeyPatch, inline_s: float, where: list[str]
) -> None:
    monkeypatch.setattr(vigil.web.api, "_INLINE_S", inline_s)
    recorder = _ThreadRecorder(_storage())
    ctx = APIContext(engine=Engine(recorder), queryable=recorder)
    with TestClient(Starlette(routes=PrometheusAPI(ctx).routes())) as client:
        loop = _loop_thread(client)
        for _ in where:
            params = {"query": "up", "start": "0", "end": "300", "step": "15"}
            assert client.post("/api/v1/query_range", data=params).status_code == 200
    assert ["loop" if t == loop else "thread" for t in recorder.threads] == where


class _RemoteEngine:
    """Stands for an engine behind the network: never run on the event loop."""

    in_process = False

    def __init__(self) -> None:
        self.threads: list[int] = []

    def close(self) -> None:
        return None

    def instant_query(self, query: str, t_ms: int, **_: float | None) -> QueryResult:
        self.threads.append(threading.get_ident())
        return QueryResult(Scalar(t_ms, 1.0))

    def range_query(
        self, query: str, start_ms: int, end_ms: int, step_ms: int, **_: float | None
    ) -> QueryResult:
        raise AssertionError("not used")


def test_engines_behind_the_network_always_run_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vigil.web.api, "_INLINE_S", 3600.0)
    engine = _RemoteEngine()
    ctx = APIContext(engine=engine, queryable=_storage().queryable)
    with TestClient(Starlette(routes=PrometheusAPI(ctx).routes())) as client:
        loop = _loop_thread(client)
        for _ in range(3):
            assert client.get("/api/v1/query", params={"query": "1", "time": "1"}).json()[
                "data"
            ] == {"resultType": "scalar", "result": [1, "1"]}
    assert len(engine.threads) == 3
    assert loop not in engine.threads
