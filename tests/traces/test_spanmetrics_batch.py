"""Span metrics count a batch at once (attributes read as columns, spans grouped by label
set with numpy): on a table of batches, what they count equals what a plain loop over the
spans one at a time counts, by the rules spanmetrics_guards states (route names, health
checks and their traces, the span-name cap, sampling multipliers)."""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    Resource,
    Span,
    Spans,
)
from vigil.traces.spanmetrics import KIND_LABELS, LATENCY_BUCKETS, STATUS_LABELS, SpanMetrics
from vigil.traces.spanmetrics_attributes import AttributeColumns
from vigil.traces.spanmetrics_guards import OVERFLOW, GuardedSpans, SpanGuards

SHOP = Resource((("service.name", "shop"),))
BILLING = Resource((("service.name", "billing"), ("SampleRate", 4)))
Key = tuple[str, str, str, str]


def _span(
    name: str,
    n: int,
    *,
    kind: int = KIND_SERVER,
    status: int = 0,
    ms: float = 3.0,
    attributes: tuple[tuple[str, object], ...] = (),
    resource: Resource = SHOP,
    trace_state: str = "",
    trace: int | None = None,
) -> Span:
    return Span(
        trace_id=(n if trace is None else trace).to_bytes(16, "big"),
        span_id=n.to_bytes(8, "big"),
        name=name,
        start_ns=0,
        end_ns=round(ms * 1e6),
        kind=kind,
        status_code=status,
        attributes=attributes,  # type: ignore[arg-type]
        resource=resource,
        trace_state=trace_state,
    )


def _text(attrs: dict[str, object], *keys: str) -> str | None:
    for key in keys:
        value = attrs.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _multiplier(span: Span) -> float:
    if "ot=" in span.trace_state:
        for member in span.trace_state.split(","):
            key, _, value = member.strip().partition("=")
            for part in value.split(";"):
                if key == "ot" and part.startswith("th:"):
                    probability = 1 - int(part[3:].ljust(14, "0"), 16) / 2**56
                    if probability > 0:
                        return 1 / probability
    for attrs in (dict(span.attributes), dict(span.resource.attributes)):
        p = _number(attrs.get("sampling.probability"))
        if p is not None and 0 < p <= 1:
            return 1 / p
        rate = _number(attrs.get("SampleRate"))
        if rate is not None and rate >= 1:
            return rate
        ratio = _number(attrs.get("X-SampleRatio"))
        if ratio is not None and 0 < ratio <= 1:
            return 1 / ratio
    return 1.0


def _name(span: Span) -> str:
    attrs = dict(span.attributes)
    if span.kind != KIND_SERVER:
        return span.name
    method = _text(attrs, "http.request.method", "http.method")
    route = _text(attrs, "http.route")
    if route is not None:
        return f"{method} {route}" if method else route
    templated = any(mark in span.name for mark in ("{", "<", "/:"))
    if method and (span.name.startswith("/") or " /" in span.name) and not templated:
        return method
    return span.name


def _health_check(span: Span, guards: SpanGuards) -> bool:
    attrs = dict(span.attributes)
    if span.kind != KIND_SERVER:
        return False
    agent = _text(attrs, "user_agent.original", "http.user_agent")
    if agent is not None and agent.startswith(guards.health_user_agents):
        return True
    return any(
        isinstance(attrs.get(key), str) and str(attrs[key]).split("?", 1)[0] in guards.health_paths
        for key in ("url.path", "http.target", "http.route")
    )


def _one_at_a_time(
    batches: list[list[Span]], guards: SpanGuards
) -> dict[Key, tuple[float, float, float, list[float]]]:
    """(calls, latency count, latency sum, per-bucket counts) by label set, span by span."""
    found: dict[Key, tuple[float, float, float, list[float]]] = {}
    names: dict[str, set[str]] = defaultdict(set)
    for batch in batches:
        excluded = {s.trace_id for s in batch if _health_check(s, guards)}
        for span in batch:
            if span.trace_id in excluded:
                continue
            name = _name(span)
            known = names[span.service_name]
            if name not in known and len(known) < guards.max_span_names:
                known.add(name)
            key = (
                span.service_name,
                name if name in known else OVERFLOW,
                KIND_LABELS[span.kind],
                STATUS_LABELS[span.status_code],
            )
            weight = _multiplier(span)
            seconds = span.duration_ns / 1e9
            calls, count, total, buckets = found.get(key, (0.0, 0.0, 0.0, [0.0] * 15))
            slot = next((i for i, b in enumerate(LATENCY_BUCKETS) if seconds <= b), 14)
            buckets = [v + weight if i == slot else v for i, v in enumerate(buckets)]
            found[key] = (calls + weight, count + weight, total + seconds * weight, buckets)
    return found


def _at_once(
    batches: list[list[Span]], guards: SpanGuards
) -> dict[Key, tuple[float, float, float, list[float]]]:
    metrics = SpanMetrics(guards)
    for batch in batches:
        metrics.observe(GuardedSpans.of(Spans.of(batch), guards), 0)
    found: dict[Key, tuple[float, float, float, list[float]]] = {}
    for key in metrics.calls.keys:
        row = metrics.latency.index[key]
        found[key] = (  # type: ignore[index]
            metrics.calls.value(key),
            float(metrics.latency.counts[row]),
            float(metrics.latency.sums[row]),
            metrics.latency.buckets[row].tolist(),
        )
    return found


ROUTE = (("http.request.method", "GET"), ("http.route", "/items/{id}"))
CASES: dict[str, tuple[list[list[Span]], SpanGuards]] = {
    "route names, raw URLs and templates": (
        [
            [
                _span("GET /items/7", 1, attributes=ROUTE),
                _span("GET /items/8", 2, attributes=(("http.request.method", "GET"),)),
                _span("GET /items/{id}", 3, attributes=(("http.method", "GET"),)),
                _span("/only/path", 4, attributes=(("http.method", "POST"),)),
                _span("handler", 5, attributes=(("http.route", "/r"),)),
                _span("GET /x", 6, kind=KIND_CLIENT, attributes=ROUTE),
                _span("work", 7, kind=KIND_INTERNAL, ms=40),
            ]
        ],
        SpanGuards(),
    ),
    "health checks and their traces": (
        [
            [
                _span("GET /healthz", 1, trace=9, attributes=(("url.path", "/healthz"),)),
                _span("SELECT 1", 2, trace=9, kind=KIND_CLIENT),
                _span("probe", 3, attributes=(("user_agent.original", "kube-probe/1.29"),)),
                _span("GET /ready", 4, attributes=(("http.target", "/ready?full=1"),)),
                _span("GET /a", 5, attributes=(("url.path", "/a"), ("url.path", "/healthz"))),
                _span("GET /b", 6, attributes=(("url.path", "/healthz"), ("url.path", "/b"))),
                _span("GET /c", 7, attributes=(("url.path", 5),)),
                _span("client", 8, kind=KIND_CLIENT, attributes=(("url.path", "/healthz"),)),
            ]
        ],
        SpanGuards(),
    ),
    "the span-name cap, within a batch and across batches": (
        [
            [_span(f"op{i}", i, kind=KIND_INTERNAL) for i in range(1, 4)],
            [_span(f"op{i}", i, kind=KIND_INTERNAL, status=STATUS_ERROR) for i in range(2, 7)],
            [_span("other", 9, kind=KIND_INTERNAL, resource=BILLING)],
        ],
        SpanGuards(max_span_names=2),
    ),
    "sampling multipliers": (
        [
            [
                _span("a", 1, trace_state="ot=th:8"),
                _span("a", 2, trace_state="vendor=x,ot=rv:1;th:c"),
                _span("a", 3, attributes=(("sampling.probability", 0.25),)),
                _span("a", 4, attributes=(("SampleRate", "10"),)),
                _span("a", 5, attributes=(("X-SampleRatio", 0.5), ("SampleRate", 0))),
                _span("a", 6, attributes=(("sampling.probability", 2.0),)),
                _span("a", 7, resource=BILLING, ms=5000),
                _span("a", 8, resource=BILLING, attributes=(("SampleRate", 3),), ms=0.5),
            ]
        ],
        SpanGuards(),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_batch_counts_as_its_spans_one_at_a_time(case: str) -> None:
    batches, guards = CASES[case]
    want, got = _one_at_a_time(batches, guards), _at_once(batches, guards)
    assert got.keys() == want.keys()
    for key, (calls, count, total, buckets) in want.items():
        assert got[key][:2] == (calls, count)
        assert math.isclose(got[key][2], total)
        assert got[key][3] == buckets


def test_attribute_columns_read_each_spans_value_as_a_dict_would() -> None:
    attributes = (
        (("a", "x"), ("b", 1), ("a", "y")),
        (),
        (("b", ""), ("c", "z"), ("b", 2.5)),
        (("a", ""), ("c", "w")),
    )
    columns = AttributeColumns(attributes)
    assert [columns.value(k).tolist() for k in ("a", "b", "missing")] == [
        [dict(a).get("a") for a in attributes],
        [dict(a).get("b") for a in attributes],
        [None] * 4,
    ]
    assert columns.text(("a", "c")).tolist() == ["y", None, "z", "w"]
    assert columns.owning(("b", "missing")).tolist() == [True, False, True, False]
    # key + (string length + 2, or 10 for another value) per attribute
    assert columns.sizes().tolist() == [4 + 11 + 4, 0, 3 + 4 + 11, 3 + 4]
