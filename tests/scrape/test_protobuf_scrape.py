"""Scraping the protobuf exposition format from a 127.0.0.1 server: histogram messages built
here from known observations (native buckets and classic ones in one message), scraped by
the loop into the real head, then queried; `histogram_quantile` and friends are compared
with what the observations themselves give. Quantiles are asked where q·count falls on a
bucket boundary, so the exact answer is that boundary whatever the interpolation."""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from vigil.config.duration import Duration
from vigil.config.scrape import PROTO_FIRST_SCRAPE_PROTOCOLS, ScrapeConfig
from vigil.exposition.metrics_pb2 import MetricFamily, MetricType
from vigil.exposition.protobuf import CONTENT_TYPE
from vigil.model import Labels
from vigil.model.clock import ManualClock
from vigil.promql.engine import Engine
from vigil.promql.value import Vector
from vigil.scrape.loop import ScrapeLoop, ScrapeOptions
from vigil.scrape.relabel import populate_labels
from vigil.scrape.target import Target, accept_header
from vigil.tsdb.head import Head
from vigil.tsdb.head_state import HeadOptions

# Known observations: at schema 0, bucket i holds (2^(i-1), 2^i] (negatives mirrored), and
# 0 falls in the zero bucket [-0.001, 0.001].
OBSERVATIONS = (-3.0, 0.0, 1.5, 2.0, 3.0, 4.0, 6.0, 16.0)
ZERO_THRESHOLD = 0.001
CLASSIC_BOUNDS = (-2.0, 0.001, 1.0, 2.0, 4.0, 8.0, 16.0)


def _index(value: float) -> int:
    """The schema-0 bucket of |value| > 0."""
    return math.ceil(math.log2(abs(value)))


def _deltas(counts: dict[int, int]) -> tuple[list[tuple[int, int]], list[int]]:
    """Spans and bucket deltas of populated buckets, as client libraries write them."""
    spans: list[tuple[int, int]] = []
    deltas: list[int] = []
    previous_index: int | None = None
    previous_count = 0
    for index in sorted(counts):
        if previous_index is not None and index == previous_index + 1:
            spans[-1] = (spans[-1][0], spans[-1][1] + 1)
        else:
            gap = index if previous_index is None else index - previous_index - 1
            spans.append((gap, 1))
        deltas.append(counts[index] - previous_count)
        previous_index, previous_count = index, counts[index]
    return spans, deltas


def histogram_family(observations: tuple[float, ...]) -> MetricFamily:
    """One histogram message with native (schema 0) and classic buckets of `observations`."""
    family = MetricFamily(name="latency_seconds", help="Latency.", type=MetricType.HISTOGRAM)
    metric = family.metric.add()
    label = metric.label.add()
    label.name, label.value = "path", "/"
    h = metric.histogram
    h.sample_count = len(observations)
    h.sample_sum = sum(observations)
    h.schema = 0
    h.zero_threshold = ZERO_THRESHOLD
    h.zero_count = sum(1 for v in observations if abs(v) <= ZERO_THRESHOLD)
    for side, sign in ((h, 1), (h, -1)):
        counts: dict[int, int] = {}
        for v in observations:
            if v * sign > ZERO_THRESHOLD:
                counts[_index(v)] = counts.get(_index(v), 0) + 1
        spans, deltas = _deltas(counts)
        span_field = side.positive_span if sign > 0 else side.negative_span
        delta_field = side.positive_delta if sign > 0 else side.negative_delta
        for offset, length in spans:
            span = span_field.add()
            span.offset, span.length = offset, length
        delta_field.extend(deltas)
    for bound in CLASSIC_BOUNDS:
        bucket = h.bucket.add()
        bucket.upper_bound = bound
        bucket.cumulative_count = sum(1 for v in observations if v <= bound)
    return family


def other_families() -> list[MetricFamily]:
    counter = MetricFamily(name="requests_total", type=MetricType.COUNTER)
    counter.metric.add().counter.value = 7
    gauge = MetricFamily(name="temperature", type=MetricType.GAUGE)
    gauge.metric.add().gauge.value = -1.5
    summary = MetricFamily(name="rpc_seconds", type=MetricType.SUMMARY)
    s = summary.metric.add().summary
    s.sample_count, s.sample_sum = 4, 2.0
    q = s.quantile.add()
    q.quantile, q.value = 0.5, 0.25
    untyped = MetricFamily(name="thing", type=MetricType.UNTYPED)
    untyped.metric.add().untyped.value = 3
    return [counter, gauge, summary, untyped]


def delimited(families: list[MetricFamily]) -> bytes:
    out = bytearray()
    for family in families:
        payload = family.SerializeToString()
        size = len(payload)
        while size >= 0x80:
            out.append((size & 0x7F) | 0x80)
            size >>= 7
        out.append(size)
        out += payload
    return bytes(out)


def reference_quantile(q: float, observations: tuple[float, ...]) -> float:
    """The bucket bound at which the observations' cumulative count reaches q·count (the
    q·count-th smallest observation's bucket's upper bound, or the zero threshold): with
    no empty bucket next to it, the one answer any interpolation gives."""
    rank = round(q * len(observations))
    value = sorted(observations)[rank - 1]
    if abs(value) <= ZERO_THRESHOLD:
        return ZERO_THRESHOLD
    bound = 2.0 ** _index(value)
    return bound if value > 0 else -(bound / 2)


@dataclass
class Exporter:
    """A 127.0.0.1 HTTP server answering with `body` as protobuf; keeps the Accept headers."""

    body: bytes = b""
    accepts: list[str] = field(default_factory=list)
    port: int = 0


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    state = Exporter()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.accepts.append(self.headers.get("Accept", ""))
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _scrape(
    exporter: Exporter, config: dict[str, Any], bodies: list[bytes]
) -> tuple[Head, list[str], int]:
    """Scrape each body once (15 s apart) into a head; the head, the scrape errors, the last
    scrape's time."""
    scrape_config = ScrapeConfig(
        job_name="j",
        scrape_interval=Duration(15_000),
        scrape_timeout=Duration(10_000),
        scrape_protocols=PROTO_FIRST_SCRAPE_PROTOCOLS,
        **config,
    )
    address = Labels.from_dict({"__address__": f"127.0.0.1:{exporter.port}"})
    internal, discovered = populate_labels(address, scrape_config)
    assert internal is not None
    head = Head(HeadOptions(max_future_ms=0), clock=lambda: 0.0)
    clock = ManualClock()
    errors = []

    async def run() -> int:
        async with httpx.AsyncClient() as client:
            target = Target.of(scrape_config, internal, discovered)
            loop = ScrapeLoop(target, ScrapeOptions.of(scrape_config), client, head.appender, clock)
            t_ms = 0
            for body in bodies:
                exporter.body = body
                outcome = await loop.scrape(clock.now())
                errors.append(outcome.error)
                t_ms = round(outcome.started * 1000)
                clock.advance(15)
            return t_ms

    return head, errors, asyncio.run(run())


def _query(head: Head, expr: str, t_ms: int) -> dict[str, float]:
    engine = Engine(head.querier)
    value = engine.instant_query(expr, t_ms).value
    assert isinstance(value, Vector)
    return {str(dict(s.labels)): s.value for s in value.samples}


NATIVE = {"scrape_native_histograms": True}
EARLY = OBSERVATIONS[:4]


@pytest.mark.parametrize("q", [0.25, 0.5, 0.75, 1.0])
def test_native_quantiles_match_the_observations(exporter: Exporter, q: float) -> None:
    bodies = [delimited([histogram_family(EARLY)]), delimited([histogram_family(OBSERVATIONS)])]
    head, errors, t_ms = _scrape(exporter, NATIVE, bodies)
    assert errors == ["", ""]
    got = _query(head, f"histogram_quantile({q}, latency_seconds)", t_ms)
    assert list(got.values()) == [pytest.approx(reference_quantile(q, OBSERVATIONS), rel=1e-12)]


# (expression, what the observations give)
STATISTICS = [
    ("histogram_count(latency_seconds)", len(OBSERVATIONS)),
    ("histogram_sum(latency_seconds)", sum(OBSERVATIONS)),
    ("histogram_avg(latency_seconds)", sum(OBSERVATIONS) / len(OBSERVATIONS)),
    ("histogram_fraction(0.001, 2, latency_seconds)", 2 / len(OBSERVATIONS)),
    (
        "histogram_count(latency_seconds) - histogram_count(latency_seconds offset 15s)",
        len(OBSERVATIONS) - len(EARLY),
    ),
]


@pytest.mark.parametrize(("expr", "want"), STATISTICS, ids=[s[0] for s in STATISTICS])
def test_native_statistics_match_the_observations(
    exporter: Exporter, expr: str, want: float
) -> None:
    bodies = [delimited([histogram_family(EARLY)]), delimited([histogram_family(OBSERVATIONS)])]
    head, _, t_ms = _scrape(exporter, NATIVE, bodies)
    assert list(_query(head, expr, t_ms).values()) == [pytest.approx(want, rel=1e-12)]


# (name, config, the metric names stored, the scrape's error)
CHOICES = [
    ("native only", NATIVE, {"latency_seconds"}, ""),
    (
        "native and classic",
        {**NATIVE, "always_scrape_classic_histograms": True},
        {
            "latency_seconds",
            "latency_seconds_bucket",
            "latency_seconds_count",
            "latency_seconds_sum",
        },
        "",
    ),
    (
        "classic only",
        {},
        {"latency_seconds_bucket", "latency_seconds_count", "latency_seconds_sum"},
        "",
    ),
    (
        "over the bucket limit at the coarsest schema",
        {**NATIVE, "native_histogram_bucket_limit": 1},
        set(),
        "histogram bucket limit exceeded",
    ),
]


@pytest.mark.parametrize(("name", "config", "names", "error"), CHOICES, ids=[c[0] for c in CHOICES])
def test_what_is_kept_of_a_histogram_message(
    exporter: Exporter, name: str, config: dict[str, Any], names: set[str], error: str
) -> None:
    head, errors, _ = _scrape(exporter, config, [delimited([histogram_family(OBSERVATIONS)])])
    assert errors == [error]
    stored = {lbls.get("__name__") for lbls in head.querier(0, 2**62).series([])}
    assert (
        stored
        - {
            "up",
            "scrape_duration_seconds",
            "scrape_samples_scraped",
            "scrape_samples_post_metric_relabeling",
            "scrape_series_added",
        }
        == names
    )


@pytest.mark.parametrize("q", [0.5, 0.75])
def test_classic_buckets_give_the_same_quantiles(exporter: Exporter, q: float) -> None:
    config = {**NATIVE, "always_scrape_classic_histograms": True}
    head, _, t_ms = _scrape(exporter, config, [delimited([histogram_family(OBSERVATIONS)])])
    got = _query(head, f"histogram_quantile({q}, latency_seconds_bucket)", t_ms)
    assert list(got.values()) == [pytest.approx(reference_quantile(q, OBSERVATIONS), rel=1e-12)]


# (name, config, schema stored): schema 0 has 5 populated buckets here (4 positive, 1 negative)
RESOLUTION = [
    ("as exposed", NATIVE, 0),
    ("bucket limit 3: one schema coarser", {**NATIVE, "native_histogram_bucket_limit": 3}, -1),
    (
        "min bucket factor 4: schema -1 at most",
        {**NATIVE, "native_histogram_min_bucket_factor": 4.0},
        -1,
    ),
    (
        "min bucket factor 256: schema -3",
        {**NATIVE, "native_histogram_min_bucket_factor": 256.0},
        -3,
    ),
]


@pytest.mark.parametrize(("name", "config", "schema"), RESOLUTION, ids=[r[0] for r in RESOLUTION])
def test_resolution_is_reduced_as_prometheus_does(
    exporter: Exporter, name: str, config: dict[str, Any], schema: int
) -> None:
    head, errors, _ = _scrape(exporter, config, [delimited([histogram_family(OBSERVATIONS)])])
    assert errors == [""]
    [data] = [
        s
        for s in head.querier(0, 2**62).select([])
        if s.labels.get("__name__") == "latency_seconds"
    ]
    assert data.histograms is not None
    stored = data.histograms[0]
    assert (stored.schema, stored.count, stored.sum) == (
        schema,
        len(OBSERVATIONS),
        sum(OBSERVATIONS),
    )


def test_counters_gauges_summaries_and_untyped_come_through(exporter: Exporter) -> None:
    head, errors, t_ms = _scrape(exporter, NATIVE, [delimited(other_families())])
    assert errors == [""]
    got = _query(head, '{__name__=~"requests_total|temperature|rpc_seconds.*|thing"}', t_ms)
    instance = f"127.0.0.1:{exporter.port}"
    assert {k.replace(instance, "T"): v for k, v in got.items()} == {
        "{'__name__': 'requests_total', 'instance': 'T', 'job': 'j'}": 7.0,
        "{'__name__': 'temperature', 'instance': 'T', 'job': 'j'}": -1.5,
        "{'__name__': 'rpc_seconds', 'instance': 'T', 'job': 'j', 'quantile': '0.5'}": 0.25,
        "{'__name__': 'rpc_seconds_count', 'instance': 'T', 'job': 'j'}": 4.0,
        "{'__name__': 'rpc_seconds_sum', 'instance': 'T', 'job': 'j'}": 2.0,
        "{'__name__': 'thing', 'instance': 'T', 'job': 'j'}": 3.0,
    }


def test_the_accept_header_asks_for_protobuf_first(exporter: Exporter) -> None:
    _scrape(exporter, NATIVE, [delimited(other_families())])
    assert exporter.accepts == [
        "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited;q=0.6,"
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,"
        "application/openmetrics-text;version=0.0.1;q=0.4,"
        "text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,"
        "text/plain;version=0.0.4;q=0.2,*/*;q=0.1"
    ]
    assert accept_header(PROTO_FIRST_SCRAPE_PROTOCOLS) == exporter.accepts[0]


def test_a_broken_body_fails_the_scrape_saying_where(exporter: Exporter) -> None:
    body = delimited(other_families())
    _, errors, _ = _scrape(exporter, NATIVE, [body[:-3]])
    assert errors[0].startswith("protobuf body at byte "), errors
