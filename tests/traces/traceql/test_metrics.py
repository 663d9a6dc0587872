"""TraceQL metrics queries as Tempo's /api/metrics/query_range answers them: `rate()` and
`count_over_time()` of the spans a spanset query matches, per step (a span counts in the step
its start falls in, the start aligned down to a step), by the values of `by()` fields; and
parse errors naming where and what."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from vigil.model.clock import ManualClock
from vigil.traces import STATUS_ERROR, MemorySpanStore, Resource, Span, Spans
from vigil.traces.traceql import ParseError
from vigil.traces.traceql.metrics import parse_metrics, query_range
from vigil.web.tempo_api import TempoAPI

S = 10**9
T0 = 1_700_000_040 * S  # a whole minute
TRACE = b"\x07" * 16


def _span(n: int, at_s: float, service: str, error: bool = False, route: str = "") -> Span:
    start = T0 + round(at_s * S)
    return Span(
        TRACE,
        n.to_bytes(8, "big"),
        "op",
        start,
        start + 1000,
        status_code=STATUS_ERROR if error else 0,
        attributes=(("http.route", route),) if route else (),
        resource=Resource((("service.name", service),)),
    )


SPANS = [
    _span(1, 1, "shop", route="/pay"),
    _span(2, 14.9, "shop", error=True, route="/pay"),
    _span(3, 15, "db", error=True),
    _span(4, 31, "shop", route="/cart"),
    _span(5, 59, "db"),
    _span(6, 75, "db"),  # after the range
]


def _store() -> MemorySpanStore:
    store = MemorySpanStore()
    store.append(Spans.of(SPANS))
    store.append(Spans.of(SPANS[:2]))  # an export sent again counts once
    return store


CASES: list[tuple[str, dict[tuple[tuple[str, Any], ...], list[float]]]] = [
    ("{ } | count_over_time()", {(("__name__", "count_over_time"),): [2, 1, 1, 1, 0]}),
    ("{ } | rate()", {(("__name__", "rate"),): [2 / 15, 1 / 15, 1 / 15, 1 / 15, 0.0]}),
    (
        "{ status = error } | count_over_time() by (resource.service.name)",
        {
            (("resource.service.name", "shop"),): [1, 0, 0, 0, 0],
            (("resource.service.name", "db"),): [0, 1, 0, 0, 0],
        },
    ),
    (
        '{ resource.service.name = "shop" } | count_over_time() by (span.http.route, status)',
        {
            (("span.http.route", "/pay"), ("status", "unset")): [1, 0, 0, 0, 0],
            (("span.http.route", "/pay"), ("status", "error")): [1, 0, 0, 0, 0],
            (("span.http.route", "/cart"), ("status", "unset")): [0, 0, 1, 0, 0],
        },
    ),
    ('{ resource.service.name = "shop" } | count_over_time() by (.nope)', {(): [2, 0, 1, 0, 0]}),
    ('{ name = "none" } | rate()', {(("__name__", "rate"),): [0, 0, 0, 0, 0]}),
]


@pytest.mark.parametrize(("query", "want"), CASES, ids=[q for q, _ in CASES])
def test_query_range(query: str, want: dict[tuple[tuple[str, Any], ...], list[float]]) -> None:
    found = query_range(
        _store().querier(T0, T0 + 60 * S), parse_metrics(query), T0 + 5 * S, T0 + 60 * S, 15 * S
    )
    got = {s.labels: [round(v, 9) for v in s.values.tolist()] for s in found}
    assert got == {k: [round(v, 9) for v in vs] for k, vs in want.items()}
    for series in found:
        assert series.timestamps_ms.tolist() == [(T0 + i * 15 * S) // 10**6 for i in range(5)]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ }", "line 1, col 4: a metrics query ends in '| rate()' or '| count_over_time()'"),
        (
            "{ } | quantile_over_time(duration, 0.9)",
            "col 7: metrics function ('quantile_over_time') not supported yet",
        ),
        ("{ } | rate(1)", "col 11: rate() takes no arguments"),
        ("{ } | rate() by (", "col 18: syntax error: unexpected end of input"),
        ("{ } | rate() x", "col 14: syntax error: unexpected"),
        ("{ .a = } | rate()", "col 8: syntax error"),
    ],
)
def test_parse_errors_name_where(query: str, message: str) -> None:
    with pytest.raises(ParseError) as error:
        parse_metrics(query)
    assert message in str(error.value)


def test_tempo_query_range_answers_tempos_shape() -> None:
    api = TempoAPI(_store(), ManualClock(T0 / S + 3600))
    client = TestClient(Starlette(routes=api.routes("/tempo")))
    params = {
        "q": "{ status = error } | rate() by (resource.service.name)",
        "start": str((T0 + 5 * S) // S),
        "end": str(T0 + 60 * S),  # nanoseconds
        "step": "30s",
    }
    answer = client.get("/tempo/api/metrics/query_range", params=params)
    assert answer.status_code == 200, answer.text
    series = sorted(answer.json()["series"], key=lambda s: s["promLabels"])
    t0_ms = T0 // 10**6
    assert series == [
        {
            "labels": [{"key": "resource.service.name", "value": {"stringValue": "db"}}],
            "promLabels": '{resource.service.name="db"}',
            "samples": [
                {"timestampMs": str(t0_ms), "value": 1 / 30},
                {"timestampMs": str(t0_ms + 30_000), "value": 0.0},
                {"timestampMs": str(t0_ms + 60_000), "value": 0.0},
            ],
        },
        {
            "labels": [{"key": "resource.service.name", "value": {"stringValue": "shop"}}],
            "promLabels": '{resource.service.name="shop"}',
            "samples": [
                {"timestampMs": str(t0_ms), "value": 1 / 30},
                {"timestampMs": str(t0_ms + 30_000), "value": 0.0},
                {"timestampMs": str(t0_ms + 60_000), "value": 0.0},
            ],
        },
    ]
    bad = client.get("/tempo/api/metrics/query_range", params={**params, "q": "{ } | topk(2)"})
    assert (bad.status_code, "not supported yet" in bad.text) == (400, True)
    assert np.isfinite(answer.json()["series"][0]["samples"][0]["value"])


def test_tempo_instant_query_answers_one_value_per_series() -> None:
    api = TempoAPI(_store(), ManualClock(T0 / S + 3600))
    client = TestClient(Starlette(routes=api.routes("/tempo")))
    params = {
        "q": "{ } | count_over_time() by (resource.service.name)",
        "start": str(T0 // S),
        "end": str((T0 + 60 * S) // S),
    }
    answer = client.get("/tempo/api/metrics/query", params=params)
    assert answer.status_code == 200, answer.text
    assert sorted((s["promLabels"], s["value"]) for s in answer.json()["series"]) == [
        ('{resource.service.name="db"}', 2.0),
        ('{resource.service.name="shop"}', 3.0),
    ]
    rate = client.get("/tempo/api/metrics/query", params={**params, "q": "{ } | rate()"})
    assert [(s["labels"], s["value"]) for s in rate.json()["series"]] == [
        ([{"key": "__name__", "value": {"stringValue": "rate"}}], 5 / 60)
    ]
