"""Spans for the span store's tests: every column and attribute type, events and links,
several services and traces (some spread over hours, so they fall into several blocks)."""

from __future__ import annotations

import math

from vigil.traces import (
    KIND_CLIENT,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_OK,
    Event,
    KeyValues,
    Link,
    Resource,
    Scope,
    Span,
)

HOUR_NS = 3600 * 10**9
SHOP = Resource((("service.name", "shop"), ("host.name", "vm-1"), ("pid", 42)))
DB = Resource((("service.name", "db"),))
SPRING = Scope("io.opentelemetry.spring-webmvc-6.0", "2.10.0", (("lib", True),))
EVERY_TYPE = (
    ("http.route", "/appointments/{id}"),
    ("http.status_code", 200),
    ("big", -(2**63)),
    ("ratio", 0.25),
    ("nan", math.inf),
    ("cached", False),
    ("ok", True),
    ("blob", b"\x00\xff"),
    ("tags", ("a", 1, 2.5, False, b"x", ())),
    ("nested", KeyValues((("k", "v"), ("deeper", KeyValues((("n", 1),)))))),
    ("empty", ""),
    ("ünï", "çødé ✓"),
    ("http.route", "repeated key kept"),
)


def trace_id(i: int) -> bytes:
    high = (i + 1) * 0x9E3779B97F4A7C15 % 2**64
    return high.to_bytes(8, "big") + (0x8448EB211C800000 + i).to_bytes(8, "big")


def span_id(trace: int, i: int) -> bytes:
    return (trace * 1000 + i + 1).to_bytes(8, "big")


def trace(i: int, start_ns: int, spans: int = 4) -> list[Span]:
    """A trace: a server root, client children (one failing), a db span, one child whose
    parent is in no page (a span the store never saw), one with a parent after it."""
    tid = trace_id(i)
    root = Span(
        tid,
        span_id(i, 0),
        "GET /appointments/{id}",
        start_ns,
        start_ns + 5_000_000 + i,
        kind=KIND_SERVER,
        status_code=STATUS_OK,
        attributes=EVERY_TYPE,
        events=(
            Event(start_ns + 10, "exception", (("exception.type", "OOM"), ("n", 3))),
            Event(start_ns - 5, "before start"),
        ),
        links=(Link(trace_id(i + 1), span_id(i + 1, 0), (("why", "retry"),), "ts=1"),),
        resource=SHOP,
        scope=SPRING,
        trace_state="vendor=x",
    )
    found = [root]
    for k in range(1, spans):
        parent = span_id(i, 0) if k != 2 else span_id(i, 999)
        found.append(
            Span(
                tid,
                span_id(i, k),
                f"SELECT t{k % 3}",
                start_ns + 1000 * k,
                start_ns + 1000 * k + 250_000 * k,
                parent_span_id=parent,
                kind=KIND_CLIENT,
                status_code=STATUS_ERROR if k == 1 else 0,
                status_message="deadlock" if k == 1 else "",
                attributes=(("db.system", "postgresql"), ("k", k)),
                resource=DB if k == 3 else SHOP,
            )
        )
    return found


def corpus(traces: int, start_ns: int, step_ns: int, spans: int = 4) -> list[Span]:
    return [s for i in range(traces) for s in trace(i, start_ns + i * step_ns, spans)]
