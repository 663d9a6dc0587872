"""Three traces in a MemorySpanStore for the Jaeger and Tempo API tests.

- CHECKOUT (32 hex digits): frontend `GET /checkout` (server, 300 ms) → frontend `POST /pay`
  (client) → payments `POST /pay` (server, error "card declined", an exception event) →
  payments `SELECT orders` (client, db.system, a link to HEALTH).
- HEALTH (a 64-bit id): frontend `GET /health` (server, 2 ms).
- CRON: payments `cron` (internal, 1.5 s, a float and a bool attribute).
"""

from __future__ import annotations

from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    Event,
    Link,
    MemorySpanStore,
    Resource,
    Scope,
    Span,
    Spans,
)

T0_S = 1_700_000_000
NOW_S = T0_S + 600
NS = 1_000_000_000
MS = 1_000_000
CHECKOUT = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
HEALTH = bytes.fromhex("00000000000000000000000000000abc")
CRON = bytes.fromhex("5b8efff798038103d269b633813fc60c")
FRONTEND = Resource((("service.name", "frontend"), ("host.name", "vm-1")))
PAYMENTS = Resource((("service.name", "payments"), ("deployment.environment", "prod")))
FLASK = Scope("io.opentelemetry.flask", "0.66b0")
ROOT_ID = bytes.fromhex("b7ad6b7169203331")
CLIENT_ID = bytes.fromhex("00000000000000a1")
PAY_ID = bytes.fromhex("00000000000000a2")
SQL_ID = bytes.fromhex("00000000000000a3")
HEALTH_ID = bytes.fromhex("00000000000000b1")
CRON_ID = bytes.fromhex("00000000000000c1")
CHECKOUT_START = (T0_S + 10) * NS


def spans() -> list[Span]:
    start = CHECKOUT_START
    return [
        Span(
            CHECKOUT,
            ROOT_ID,
            "GET /checkout",
            start,
            start + 300 * MS,
            kind=KIND_SERVER,
            attributes=(("http.route", "/checkout"), ("http.status_code", 200)),
            resource=FRONTEND,
            scope=FLASK,
        ),
        Span(
            CHECKOUT,
            CLIENT_ID,
            "POST /pay",
            start + 20 * MS,
            start + 220 * MS,
            parent_span_id=ROOT_ID,
            kind=KIND_CLIENT,
            resource=FRONTEND,
            scope=FLASK,
        ),
        Span(
            CHECKOUT,
            PAY_ID,
            "POST /pay",
            start + 30 * MS,
            start + 210 * MS,
            parent_span_id=CLIENT_ID,
            kind=KIND_SERVER,
            status_code=STATUS_ERROR,
            status_message="card declined",
            attributes=(("http.status_code", 402),),
            events=(Event(start + 200 * MS, "exception", (("exception.type", "Declined"),)),),
            resource=PAYMENTS,
        ),
        Span(
            CHECKOUT,
            SQL_ID,
            "SELECT orders",
            start + 40 * MS,
            start + 90 * MS,
            parent_span_id=PAY_ID,
            kind=KIND_CLIENT,
            attributes=(("db.system", "postgresql"),),
            links=(Link(HEALTH, HEALTH_ID),),
            resource=PAYMENTS,
        ),
        Span(
            HEALTH,
            HEALTH_ID,
            "GET /health",
            (T0_S + 100) * NS,
            (T0_S + 100) * NS + 2 * MS,
            kind=KIND_SERVER,
            attributes=(("http.route", "/health"), ("http.status_code", 200)),
            resource=FRONTEND,
            scope=FLASK,
        ),
        Span(
            CRON,
            CRON_ID,
            "cron",
            (T0_S + 200) * NS,
            (T0_S + 200) * NS + 1500 * MS,
            kind=KIND_INTERNAL,
            attributes=(("ratio", 0.5), ("cached", True)),
            resource=PAYMENTS,
        ),
    ]


def seeded_store() -> MemorySpanStore:
    store = MemorySpanStore()
    rows = spans()
    store.append(Spans.of(rows[:3]))
    store.append(Spans.of(rows[3:]))
    return store
