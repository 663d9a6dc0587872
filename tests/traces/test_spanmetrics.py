"""Span metrics: Tempo's series from spans, written through the TSDB's appender on a clock;
the guards (route names, health checks, sampling, the span-name cap)."""

from __future__ import annotations

import asyncio
import math
import time
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from tests.conftest import PATIENCE_S
from vigil.model import METRIC_NAME, Labels, Matcher, MatchType
from vigil.model.clock import ManualClock
from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_OK,
    MemorySpanStore,
    Resource,
    Span,
    Spans,
)
from vigil.traces.spanmetrics import LATENCY_BUCKETS
from vigil.traces.spanmetrics_generator import (
    GeneratorOptions,
    MetricsGenerator,
    ObservingSpanAppender,
)
from vigil.traces.spanmetrics_guards import OVERFLOW, GuardedSpans, SpanGuards
from vigil.tsdb._api import MemoryStorage, is_stale_marker
from vigil.tsdb.db import TSDB, TSDBOptions

SHOP = Resource((("service.name", "shop"),))
START = 1_700_000_000.0


def span(
    name: str = "GET /items/{id}",
    *,
    kind: int = KIND_SERVER,
    status: int = STATUS_OK,
    ms: float = 3.0,
    attributes: tuple[tuple[str, object], ...] = (),
    trace: int = 1,
    span_id: int = 1,
    resource: Resource = SHOP,
    trace_state: str = "",
) -> Span:
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=span_id.to_bytes(8, "big"),
        name=name,
        start_ns=0,
        end_ns=round(ms * 1e6),
        kind=kind,
        status_code=status,
        attributes=attributes,  # type: ignore[arg-type]
        resource=resource,
        trace_state=trace_state,
    )


def series(storage: MemoryStorage, name: str, **labels: str) -> dict[Labels, list[float]]:
    matchers = [Matcher(MatchType.EQUAL, METRIC_NAME, name)] + [
        Matcher(MatchType.EQUAL, k, v) for k, v in labels.items()
    ]
    found = storage.queryable(0, 1 << 62).select(matchers)
    return {s.labels.without(METRIC_NAME): s.values.tolist() for s in found}


def calls(storage: MemoryStorage, **labels: str) -> float:
    values = series(storage, "traces_spanmetrics_calls_total", **labels)
    return sum(v[-1] for v in values.values())


@pytest.mark.parametrize(
    ("name", "attributes", "want"),
    [
        (
            "GET /items/{id}",
            (("http.route", "/items/{id}"), ("http.method", "GET")),
            "GET /items/{id}",
        ),
        (
            "GET",
            (("http.route", "/users/{id}"), ("http.request.method", "POST")),
            "POST /users/{id}",
        ),
        ("GET /users/123", (("http.method", "GET"), ("http.target", "/users/123")), "GET"),
        ("/users/123", (("http.request.method", "DELETE"),), "DELETE"),
        ("UserController.show", (("http.method", "GET"),), "UserController.show"),
        ("GET /users/{id}", (("http.method", "GET"),), "GET /users/{id}"),
        ("GET /users/:id", (("http.method", "GET"),), "GET /users/:id"),
        ("GET /users/123", (), "GET /users/123"),
    ],
)
def test_server_span_names_come_from_the_route(
    name: str, attributes: tuple[tuple[str, object], ...], want: str
) -> None:
    guarded = GuardedSpans.of(Spans.of([span(name, attributes=attributes)]), SpanGuards())
    assert guarded.names == [want]


@pytest.mark.parametrize(
    ("attributes", "health"),
    [
        ((("http.user_agent", "ELB-HealthChecker/2.0"),), True),
        ((("user_agent.original", "kube-probe/1.29"),), True),
        ((("url.path", "/actuator/health"),), True),
        ((("http.target", "/healthz?verbose=1"),), True),
        ((("http.route", "/ready"),), True),
        ((("http.target", "/health/details"),), False),
        ((("user_agent.original", "Mozilla/5.0 kube-probe"),), False),
        ((("http.target", "/items/1"),), False),
    ],
)
def test_health_checks_are_left_out(
    attributes: tuple[tuple[str, object], ...], health: bool
) -> None:
    guarded = GuardedSpans.of(Spans.of([span(attributes=attributes)]), SpanGuards())
    assert (guarded.counted.tolist(), guarded.health_checks) == ([not health], int(health))


def test_a_health_checks_trace_is_left_out_with_it() -> None:
    batch = [
        span("GET /healthz", attributes=(("http.target", "/healthz"),), trace=7),
        span("GET /healthz http send", kind=KIND_INTERNAL, trace=7, span_id=2),
        span("GET /items/{id} http send", kind=KIND_INTERNAL, trace=8, span_id=3),
    ]
    guarded = GuardedSpans.of(Spans.of(batch), SpanGuards())
    assert guarded.counted.tolist() == [False, False, True]


def test_health_check_settings_replace_the_defaults() -> None:
    guards = SpanGuards(health_user_agents=("Pingdom",), health_paths=("/ping",))
    batch = [
        span(attributes=(("http.target", "/ping"),), trace=1),
        span(attributes=(("http.user_agent", "Pingdom.com_bot"),), trace=2),
        span(attributes=(("http.target", "/healthz"),), trace=3),
    ]
    assert GuardedSpans.of(Spans.of(batch), guards).counted.tolist() == [False, False, True]


@pytest.mark.parametrize(
    ("attributes", "resource", "trace_state", "want"),
    [
        ((), SHOP, "", 1.0),
        ((), SHOP, "ot=th:8", 2.0),
        ((), SHOP, "vendor=x,ot=rv:abcdef;th:c", 4.0),
        ((), SHOP, "ot=th:0", 1.0),
        ((("sampling.probability", 0.25),), SHOP, "", 4.0),
        ((("SampleRate", 10),), SHOP, "", 10.0),
        ((("X-SampleRatio", "0.5"),), SHOP, "", 2.0),
        ((("sampling.probability", 0.0),), SHOP, "", 1.0),
        ((), Resource((("service.name", "shop"), ("SampleRate", 5))), "", 5.0),
        ((("SampleRate", 3),), Resource((("SampleRate", 5),)), "", 3.0),
        ((("SampleRate", 3),), SHOP, "ot=th:8", 2.0),
    ],
)
def test_sampling_multiplier(
    attributes: tuple[tuple[str, object], ...], resource: Resource, trace_state: str, want: float
) -> None:
    one = span(attributes=attributes, resource=resource, trace_state=trace_state)
    assert GuardedSpans.of(Spans.of([one]), SpanGuards()).multiplier.tolist() == [want]


def _generator(storage: MemoryStorage, clock: ManualClock, **options: object) -> MetricsGenerator:
    return MetricsGenerator(storage.appender, clock, GeneratorOptions(**options))  # type: ignore[arg-type]


def test_series_have_tempos_names_labels_and_buckets() -> None:
    storage, clock = MemoryStorage(), ManualClock(START)
    generator = _generator(storage, clock)
    batch = [
        span(ms=3, attributes=(("http.route", "/items/{id}"), ("http.method", "GET"))),
        span(ms=30, attributes=(("http.route", "/items/{id}"), ("http.method", "GET"))),
        span("SELECT shop", kind=KIND_CLIENT, status=STATUS_ERROR, ms=20_000),
    ]
    generator.observe(Spans.of(batch))
    generator.collect()
    server = {"service": "shop", "span_name": "GET /items/{id}", "span_kind": "SPAN_KIND_SERVER"}
    labels = Labels.from_dict({**server, "status_code": "STATUS_CODE_OK"})
    assert series(storage, "traces_spanmetrics_calls_total", span_kind="SPAN_KIND_SERVER") == {
        labels: [0.0, 2.0]
    }
    buckets = series(storage, "traces_spanmetrics_latency_bucket", **server)
    got = {lb.get("le"): values[-1] for lb, values in buckets.items()}
    les = ["0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512"]
    les += ["1.024", "2.048", "4.096", "8.192", "16.384", "+Inf"]
    assert got == {le: (0.0 if le == "0.002" else 1.0 if le in les[1:4] else 2.0) for le in les}
    assert series(storage, "traces_spanmetrics_latency_sum", **server) == {labels: [0.0, 0.033]}
    assert series(storage, "traces_spanmetrics_latency_count", **server) == {labels: [0.0, 2.0]}
    client = series(storage, "traces_spanmetrics_latency_bucket", span_kind="SPAN_KIND_CLIENT")
    assert {lb.get("le"): v[-1] for lb, v in client.items()}["16.384"] == 0.0
    assert calls(storage, status_code="STATUS_CODE_ERROR") == 1.0
    sizes = series(storage, "traces_spanmetrics_size_total", **server)
    assert sizes[labels][-1] > 2 * 60


def test_counters_are_cumulative_zero_first_and_written_on_the_clock() -> None:
    storage, clock = MemoryStorage(), ManualClock(START)
    generator = _generator(storage, clock)
    generator.observe(Spans.of([span()]))
    generator.collect()
    clock.advance(15)
    generator.observe(Spans.of([span(), span()]))
    generator.collect()
    found = storage.queryable(0, 1 << 62).select(
        [Matcher(MatchType.EQUAL, METRIC_NAME, "traces_spanmetrics_calls_total")]
    )
    (only,) = list(found)
    t0 = int(START * 1000)
    assert (only.timestamps.tolist(), only.values.tolist()) == (
        [t0 - 15_000 + 1, t0, t0 + 15_000],
        [0.0, 1.0, 3.0],
    )


def test_a_series_not_updated_for_15_minutes_ends_with_a_stale_marker() -> None:
    storage, clock = MemoryStorage(), ManualClock(START)
    generator = _generator(storage, clock)
    generator.observe(Spans.of([span("old")]))
    generator.collect()
    for _ in range(61):
        clock.advance(15)
        generator.observe(Spans.of([span("new")]))
        generator.collect()
    old = series(storage, "traces_spanmetrics_calls_total", span_name="old")
    values = np.asarray(next(iter(old.values())))
    assert is_stale_marker(values).tolist() == [False] * 62 + [True]
    assert generator.span_metrics.calls.keys == [
        ("shop", "new", "SPAN_KIND_SERVER", "STATUS_CODE_OK")
    ]


def test_sampled_spans_count_for_the_spans_they_stand_for() -> None:
    storage, clock = MemoryStorage(), ManualClock(START)
    generator = _generator(storage, clock)
    generator.observe(
        Spans.of([span(trace_state="ot=th:c"), span(attributes=(("SampleRate", 10),))])
    )
    generator.collect()
    assert calls(storage) == 14.0
    assert (
        series(storage, "traces_spanmetrics_latency_count")[
            Labels.from_dict(
                {
                    "service": "shop",
                    "span_name": "GET /items/{id}",
                    "span_kind": "SPAN_KIND_SERVER",
                    "status_code": "STATUS_CODE_OK",
                }
            )
        ][-1]
        == 14.0
    )


def test_a_million_distinct_span_names_stay_under_the_cap() -> None:
    storage, clock, registry = MemoryStorage(), ManualClock(START), CollectorRegistry()
    options = GeneratorOptions(guards=SpanGuards(max_span_names=100))
    generator = MetricsGenerator(storage.appender, clock, options, registry)
    total, batch = 1_000_000, 100_000
    for first in range(0, total, batch):
        names = tuple(f"GET /users/{i}" for i in range(first, first + batch))
        generator.observe(_columns(names))
    generator.collect()
    metrics = generator.span_metrics
    assert len(metrics.names.names["shop"]) == 100
    assert len(metrics.calls) == 101
    assert metrics.calls.value(("shop", OVERFLOW, "SPAN_KIND_INTERNAL", "STATUS_CODE_UNSET")) == (
        total - 100
    )
    assert calls(storage) == total
    overflowed = registry.get_sample_value("vigil_spanmetrics_span_names_overflowed_total")
    assert overflowed == total - 100


def test_health_checks_are_counted_apart() -> None:
    registry = CollectorRegistry()
    generator = MetricsGenerator(MemoryStorage().appender, ManualClock(START), registry=registry)
    generator.observe(Spans.of([span(attributes=(("url.path", "/healthz"),)), span(trace=2)]))
    excluded = registry.get_sample_value(
        "vigil_spanmetrics_spans_excluded_total", {"reason": "health_check"}
    )
    assert (excluded, registry.get_sample_value("vigil_spanmetrics_spans_observed_total")) == (
        1.0,
        2.0,
    )


def _columns(names: tuple[str, ...]) -> Spans:
    """Spans with distinct names, built as columns (a million Span values would be slow)."""
    n = len(names)
    ids = np.arange(1, n + 1, dtype=">u8")
    return Spans(
        trace_ids=np.repeat(ids, 2).tobytes(),
        span_ids=ids.tobytes(),
        parent_ids=bytes(8 * n),
        start_ns=np.zeros(n, dtype=np.int64),
        duration_ns=np.full(n, 1_000_000, dtype=np.int64),
        kind=np.full(n, KIND_INTERNAL, dtype=np.int8),
        status_code=np.zeros(n, dtype=np.int8),
        service=np.full(n, n, dtype=np.int32),
        name=np.arange(n, dtype=np.int32),
        status_message=np.full(n, n + 1, dtype=np.int32),
        trace_state=np.full(n, n + 1, dtype=np.int32),
        resource=np.zeros(n, dtype=np.int32),
        scope=np.zeros(n, dtype=np.int32),
        strings=(*names, "shop", ""),
        resources=(SHOP,),
        scopes=(),
        attributes=((),) * n,
        events=((),) * n,
        links=((),) * n,
    )


def test_the_observing_appender_stores_then_counts() -> None:
    storage, clock = MemoryStorage(), ManualClock(START)
    generator = _generator(storage, clock)
    store = MemorySpanStore()
    appender = ObservingSpanAppender(store, generator)
    result = appender.append(Spans.of([span(), span()]))
    generator.collect()
    assert (result.accepted, len(list(store.querier(0, 1).select())), calls(storage)) == (2, 1, 2.0)


def test_a_store_that_cannot_write_leaves_the_batch_uncounted() -> None:
    class FullDisk:
        def append(self, spans: Spans) -> object:
            raise OSError(28, "No space left on device")

    storage, clock = MemoryStorage(), ManualClock(START)
    generator = _generator(storage, clock)
    appender = ObservingSpanAppender(FullDisk(), generator)  # type: ignore[arg-type]
    with pytest.raises(OSError):
        appender.append(Spans.of([span()]))
    generator.collect()
    assert calls(storage) == 0.0


def test_the_generator_collects_every_interval_on_its_clock() -> None:
    storage, clock = MemoryStorage(), ManualClock(START + 1)
    generator = _generator(storage, clock, interval_s=15.0)
    generator.observe(Spans.of([span()]))

    async def scenario() -> None:
        task = asyncio.get_running_loop().create_task(generator.run())
        try:
            async with asyncio.timeout(PATIENCE_S):
                while not calls(storage):
                    clock.advance(15)
                    await asyncio.sleep(0.01)
        finally:
            task.cancel()

    asyncio.run(scenario())
    found = storage.queryable(0, 1 << 62).select(
        [Matcher(MatchType.EQUAL, METRIC_NAME, "traces_spanmetrics_calls_total")]
    )
    assert [t % 15_000 for t in next(iter(found)).timestamps.tolist()[1:]] == [0]


def test_latency_bucket_bounds_are_tempos() -> None:
    assert [round(b, 6) for b in LATENCY_BUCKETS] == [
        0.002 * 2**i for i in range(14)
    ] and math.isclose(LATENCY_BUCKETS[-1], 16.384)


def test_the_servers_span_name_cap_defaults_to_the_guards_own() -> None:
    """server_flags cannot import span metrics (the command table would load numpy), so it
    repeats the default; this holds the two equal."""
    from vigil.cmd.server_flags import ServerOptions
    from vigil.traces.spanmetrics_guards import DEFAULT_MAX_SPAN_NAMES

    assert ServerOptions().spanmetrics_max_span_names == DEFAULT_MAX_SPAN_NAMES


def test_series_count_against_the_tsdbs_series_budget(tmp_path: Path) -> None:
    clock = ManualClock(time.time())
    with TSDB.open(tmp_path, TSDBOptions(max_series=10), clock=clock.now) as db:
        generator = MetricsGenerator(db.appender, clock)
        generator.observe(Spans.of([span(f"name {n}", ms=n) for n in range(5)]))
        generator.collect()
        stored = db.querier(0, 1 << 62).series([Matcher.of(METRIC_NAME, "=~", ".+")])
        refused = {name for name, _ in db.head.refused_series_top(100)}
    assert len(stored) == 10
    assert "traces_spanmetrics_latency_bucket" in refused
    assert all(name.startswith("traces_") for name in refused)
    assert len(generator.span_metrics.calls) == 5
