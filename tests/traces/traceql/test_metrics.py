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
    # shop counts 2, 0, 1, 0, 0 (a mean of 0.6), db 0, 1, 0, 1, 0 (0.4)
    (
        "{ } | count_over_time() by (resource.service.name) | topk(1)",
        {(("resource.service.name", "shop"),): [2, 0, 1, 0, 0]},
    ),
    (
        "{ } | count_over_time() by (resource.service.name) | bottomk(1)",
        {(("resource.service.name", "db"),): [0, 1, 0, 1, 0]},
    ),
    (
        "{ } | count_over_time() by (resource.service.name) | topk(5)",
        {
            (("resource.service.name", "shop"),): [2, 0, 1, 0, 0],
            (("resource.service.name", "db"),): [0, 1, 0, 1, 0],
        },
    ),
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


def _valued(
    n: int, at_s: float, service: str, duration_ns: int, size: float | str | None = None
) -> Span:
    start = T0 + round(at_s * S)
    return Span(
        TRACE,
        n.to_bytes(8, "big"),
        "op",
        start,
        start + duration_ns,
        attributes=(("size", size),) if size is not None else (),
        resource=Resource((("service.name", service),)),
    )


MS_NS = 1_000_000
VALUED = [
    _valued(1, 1, "shop", 3 * MS_NS, 100),  # bucket 2**22 ns
    _valued(2, 2, "shop", 5 * MS_NS, 300),  # 2**23
    _valued(7, 3, "shop", 4 * MS_NS),  # 2**22
    _valued(3, 10, "db", 1 * MS_NS, 2.5),  # 2**20; a float size has no bucket
    _valued(4, 20, "shop", 2000 * MS_NS),  # 2**31
    _valued(5, 50, "db", 1, 1),  # under 2: no bucket
    _valued(6, 52, "db", 1 * MS_NS, "big"),  # a string has no number
]
NAN = None  # a step without a value
B20, B22, B23, B31 = (2**e / 1e9 for e in (20, 22, 23, 31))
SHOP = ("resource.service.name", "shop")
DB = ("resource.service.name", "db")

VALUE_CASES: list[tuple[str, dict[tuple[tuple[str, Any], ...], list[float | None]]]] = [
    (
        "{ } | min_over_time(duration)",
        {(("__name__", "min_over_time"),): [0.001, 2.0, NAN, 1e-9, NAN]},
    ),
    (
        "{ } | max_over_time(duration) by (resource.service.name)",
        {(SHOP,): [0.005, 2.0, NAN, NAN, NAN], (DB,): [0.001, NAN, NAN, 0.001, NAN]},
    ),
    (
        "{ } | sum_over_time(span.size)",
        {(("__name__", "sum_over_time"),): [402.5, NAN, NAN, 1.0, NAN]},
    ),
    (
        "{ } | avg_over_time(.size) by (resource.service.name)",
        {(SHOP,): [200.0, NAN, NAN, NAN, NAN], (DB,): [2.5, NAN, NAN, 1.0, NAN]},
    ),
    ("{ } | avg_over_time(span.nope)", {}),
    # the mean of the steps with a value: shop 200, db (2.5 + 1) / 2
    (
        "{ } | avg_over_time(.size) by (resource.service.name) | topk(1)",
        {(SHOP,): [200.0, NAN, NAN, NAN, NAN]},
    ),
    (
        "{ } | avg_over_time(.size) by (resource.service.name) | bottomk(1)",
        {(DB,): [2.5, NAN, NAN, 1.0, NAN]},
    ),
    (
        "{ } | histogram_over_time(duration)",
        {
            (("__bucket", B20),): [1, 0, 0, 1, 0],
            (("__bucket", B22),): [2, 0, 0, 0, 0],
            (("__bucket", B23),): [1, 0, 0, 0, 0],
            (("__bucket", B31),): [0, 1, 0, 0, 0],
        },
    ),
    (
        '{ resource.service.name = "shop" } | histogram_over_time(span.size) by (name)',
        {
            (("name", "op"), ("__bucket", 128.0)): [1, 0, 0, 0, 0],
            (("name", "op"), ("__bucket", 512.0)): [1, 0, 0, 0, 0],
        },
    ),
    (
        "{ } | quantile_over_time(duration, 0.5, 0.9, 1)",
        {
            # step 0: buckets 2**20 ×1, 2**22 ×2, 2**23 ×1; the 2nd span is halfway into 2**22
            (("p", 0.5),): [2**21 / 1e9, B31, 0, B20, 0],
            (("p", 0.9),): [B23, B31, 0, B20, 0],
            (("p", 1.0),): [B23, B31, 0, B20, 0],
        },
    ),
    (
        "{ } | quantile_over_time(duration, 0.25) by (resource.service.name)",
        {
            # shop's first bucket holds 2 spans: the 1st is halfway up from half its bound
            (SHOP, ("p", 0.25)): [2**21.5 / 1e9, B31, 0, 0, 0],
            (DB, ("p", 0.25)): [B20, 0, 0, B20, 0],
        },
    ),
]


@pytest.mark.parametrize(("query", "want"), VALUE_CASES, ids=[q for q, _ in VALUE_CASES])
def test_value_functions_over_time(
    query: str, want: dict[tuple[tuple[str, Any], ...], list[float | None]]
) -> None:
    store = MemorySpanStore()
    store.append(Spans.of(VALUED))
    found = query_range(
        store.querier(T0, T0 + 60 * S), parse_metrics(query), T0 + 5 * S, T0 + 60 * S, 15 * S
    )
    got = {
        s.labels: [None if np.isnan(v) else round(v, 15) for v in s.values.tolist()] for s in found
    }
    assert got == {k: [v if v is None else round(v, 15) for v in vs] for k, vs in want.items()}


def _compared(top: int) -> dict[tuple[tuple[str, Any], ...], list[float]]:
    """compare({ status = error }, top) over SPANS, by hand: the baseline is spans 1, 4, 5
    (steps 0, 2, 3), the selection spans 2, 3 (steps 0, 1); all in one trace whose root is
    span 1 (shop's "op")."""
    base, sel = [1, 0, 1, 1, 0], [1, 1, 0, 0, 0]
    want: dict[tuple[tuple[str, Any], ...], list[float]] = {}
    same = {"name": "op", "statusMessage": "", "kind": "unspecified", "rootName": "op"}
    for field, value in {**same, "rootServiceName": "shop"}.items():
        want[(("__meta_type", "baseline"), (field, value))] = base
        want[(("__meta_type", "selection"), (field, value))] = sel
    want[(("__meta_type", "baseline"), ("status", "unset"))] = base
    want[(("__meta_type", "selection"), ("status", "error"))] = sel
    service, route = "resource.service.name", "span.http.route"
    want[(("__meta_type", "baseline"), (service, "shop"))] = [1, 0, 1, 0, 0]
    want[(("__meta_type", "selection"), (service, "shop"))] = [1, 0, 0, 0, 0]
    want[(("__meta_type", "baseline"), (route, "/pay"))] = [1, 0, 0, 0, 0]
    want[(("__meta_type", "selection"), (route, "/pay"))] = [1, 0, 0, 0, 0]
    if top > 1:
        want[(("__meta_type", "baseline"), (service, "db"))] = [0, 0, 0, 1, 0]
        want[(("__meta_type", "selection"), (service, "db"))] = [0, 1, 0, 0, 0]
        want[(("__meta_type", "baseline"), (route, "/cart"))] = [0, 0, 1, 0, 0]
    for field in [*same, "rootServiceName", "status", service]:
        want[(("__meta_type", "baseline_total"), (field, None))] = base
        want[(("__meta_type", "selection_total"), (field, None))] = sel
    want[(("__meta_type", "baseline_total"), (route, None))] = [1, 0, 1, 0, 0]
    want[(("__meta_type", "selection_total"), (route, None))] = [1, 0, 0, 0, 0]
    if top == 1:  # two services and two routes in the baseline
        want[(("__meta_error", "__too_many_values__"), (service, None))] = [NAN] * 5
        want[(("__meta_error", "__too_many_values__"), (route, None))] = [NAN] * 5
    return want


@pytest.mark.parametrize("top", [10, 1])
def test_compare_counts_each_field_value_in_the_selection_and_the_baseline(top: int) -> None:
    query = (
        "{ } | compare({ status = error })" if top == 10 else "{ } | compare({ status = error }, 1)"
    )
    found = query_range(
        _store().querier(T0, T0 + 60 * S), parse_metrics(query), T0 + 5 * S, T0 + 60 * S, 15 * S
    )
    got = {s.labels: [None if np.isnan(v) else v for v in s.values.tolist()] for s in found}
    assert got == _compared(top)


def test_compare_with_a_window_selects_only_spans_started_in_it() -> None:
    window = f"{T0 + 15 * S}, {T0 + 16 * S}"  # span 3 (db, error) only
    query = "{ } | compare({ status = error }, 10, " + window + ")"
    found = query_range(
        _store().querier(T0, T0 + 60 * S), parse_metrics(query), T0 + 5 * S, T0 + 60 * S, 15 * S
    )
    got = {s.labels: s.values.tolist() for s in found if "resource.service.name" in dict(s.labels)}
    assert got == {
        (("__meta_type", "baseline"), ("resource.service.name", "shop")): [2, 0, 1, 0, 0],
        (("__meta_type", "baseline"), ("resource.service.name", "db")): [0, 0, 0, 1, 0],
        (("__meta_type", "baseline_total"), ("resource.service.name", None)): [2, 0, 1, 1, 0],
        (("__meta_type", "selection"), ("resource.service.name", "db")): [0, 1, 0, 0, 0],
        (("__meta_type", "selection_total"), ("resource.service.name", None)): [0, 1, 0, 0, 0],
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{ }", "line 1, col 4: a metrics query ends in '| rate()' or '| count_over_time()'"),
        ("{ } | compare()", "col 7: compare() takes a spanset filter"),
        ("{ } | compare(.a)", "col 15: compare() takes a spanset filter such as"),
        ("{ } | compare({ .a = 1 }, 0)", "col 7: compare() top number of values must be greater"),
        ("{ } | compare({ .a = 1 }, 2, 5, 4)", "col 7: compare()'s start and end are Unix"),
        ("{ } | compare({ .a = 1 }, 2, 5)", "col 7: compare() takes a spanset filter, then"),
        ("{ } | compare({ .a = 1 }, x)", "col 27: compare()'s topN, start and end are integers"),
        ("{ } | compare({ .a = }, 2)", "col 22: syntax error"),
        ("{ } | compare({ .a = 1 }) by (name)", "col 27: syntax error: unexpected word 'by'"),
        ("{ } | quantile_over_time(duration)", "col 26: quantile_over_time() takes a field and"),
        ("{ } | quantile_over_time(duration, 1.5)", "col 36: quantile 1.5 is not between 0 and 1"),
        ("{ } | min_over_time(.a + 1)", "col 21: min_over_time() takes an attribute or intrinsic"),
        ("{ } | max_over_time()", "col 20: max_over_time() takes one field"),
        ("{ } | rate(1)", "col 11: rate() takes no arguments"),
        ("{ } | rate() by (", "col 18: syntax error: unexpected end of input"),
        ("{ } | rate() x", "col 14: syntax error: unexpected"),
        ("{ } | topk(2)", "col 7: topk() follows a metrics function"),
        ("{ } | rate() | bottomk(0)", "col 24: bottomk(): the limit must be greater than 0"),
        ("{ } | rate() | topk(.a)", "col 16: topk() takes the number of series to keep"),
        ("{ } | rate() | topk(1) | topk(1)", "col 26: topk() follows a metrics function"),
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
    assert (bad.status_code, "follows a metrics function" in bad.text) == (400, True)
    assert np.isfinite(answer.json()["series"][0]["samples"][0]["value"])


def test_tempo_compare_answers_totals_without_a_value_and_errors_without_samples() -> None:
    api = TempoAPI(_store(), ManualClock(T0 / S + 3600))
    client = TestClient(Starlette(routes=api.routes("/tempo")))
    params = {
        "q": "{ } | compare({ status = error }, 1)",
        "start": str((T0 + 5 * S) // S),
        "end": str((T0 + 60 * S) // S),
        "step": "15s",
    }
    answer = client.get("/tempo/api/metrics/query_range", params=params)
    assert answer.status_code == 200, answer.text
    by_labels = {s["promLabels"]: s for s in answer.json()["series"]}
    total = by_labels['{__meta_type="selection_total", resource.service.name=nil}']
    error = by_labels['{__meta_error="__too_many_values__", span.http.route=nil}']
    assert (total["labels"], [x["value"] for x in total["samples"]], error["samples"]) == (
        [
            {"key": "__meta_type", "value": {"stringValue": "selection_total"}},
            {"key": "resource.service.name", "value": {}},
        ],
        [1.0, 1.0, 0.0, 0.0, 0.0],
        [],
    )


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


def test_tempo_answers_leave_out_steps_without_a_value_and_type_buckets_as_doubles() -> None:
    store = MemorySpanStore()
    store.append(Spans.of(VALUED))
    client = TestClient(
        Starlette(routes=TempoAPI(store, ManualClock(T0 / S + 3600)).routes("/tempo"))
    )
    params = {"start": str((T0 + 5 * S) // S), "end": str((T0 + 60 * S) // S), "step": "15s"}
    t0_ms = T0 // 10**6
    db_max = client.get(
        "/tempo/api/metrics/query_range",
        params={**params, "q": '{ resource.service.name = "db" } | max_over_time(duration)'},
    )
    assert db_max.json()["series"] == [
        {
            "labels": [{"key": "__name__", "value": {"stringValue": "max_over_time"}}],
            "promLabels": '{__name__="max_over_time"}',
            "samples": [
                {"timestampMs": str(t0_ms), "value": 0.001},
                {"timestampMs": str(t0_ms + 45_000), "value": 0.001},
            ],
        }
    ]
    slow = client.get(
        "/tempo/api/metrics/query_range",
        params={**params, "q": "{ duration > 1s } | histogram_over_time(duration)"},
    )
    assert [(s["labels"], s["promLabels"]) for s in slow.json()["series"]] == [
        ([{"key": "__bucket", "value": {"doubleValue": B31}}], '{__bucket="2.147483648"}')
    ]
    instant = client.get(
        "/tempo/api/metrics/query",
        params={
            **params,
            "q": "{ } | quantile_over_time(duration, 0.9) by (resource.service.name)",
        },
    )
    assert sorted((s["promLabels"], s["value"]) for s in instant.json()["series"]) == [
        ('{resource.service.name="db", p="0.9"}', B20),
        ('{resource.service.name="shop", p="0.9"}', B31),
    ]
