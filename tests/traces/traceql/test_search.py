"""TraceQL search over a MemorySpanStore: the vectorised engine against the plain per-span
evaluator in reference.py (hypothesis draws corpora and queries), and the answer's shape."""

from __future__ import annotations

import dataclasses
import itertools
import random
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vigil.traces import (
    KIND_CLIENT,
    KIND_INTERNAL,
    KIND_SERVER,
    STATUS_ERROR,
    STATUS_OK,
    STATUS_UNSET,
    MemorySpanStore,
    Resource,
    Scope,
    Span,
    SpanHints,
    Spans,
)
from vigil.traces.traceql import (
    ROOT_SPAN_NOT_YET_RECEIVED,
    MatchedSpan,
    SpanSet,
    TraceResult,
    hints,
    parse,
    search,
)

from . import reference

MS = 1_000_000
SERVICES = ("shop", "db", "cache")
NAMES = ("GET /", "SELECT", "get", "POST /orders")
CONDITIONS = (
    'resource.service.name = "shop"',
    'resource.service.name != "db"',
    'name = "SELECT"',
    'name =~ "GET.*|POST.*"',
    'name !~ ".*S.*"',
    "duration > 20ms",
    "duration <= 5ms",
    "duration * 2 >= 30ms",
    "status = error",
    "status != ok",
    "kind = server",
    "kind = client",
    "span.http.status_code >= 500",
    ".http.status_code = 200",
    "span.http.status_code != 200",
    "span.http.status_code = nil",
    ".http.status_code != nil",
    "span.http.status_code / 0 > 1",
    'span.tags = "a"',
    'span.tags != "a"',
    'span.tags =~ "b|c"',
    "span.cached",
    "span.cached = false",
    ".ratio > 0.5",
    '.region = "eu"',
    'statusMessage = "deadlock"',
    'rootServiceName = "shop"',
    'trace:rootName = "GET /"',
    "traceDuration > 60ms",
    'instrumentation:name = "spring"',
    'instrumentation.language = "java"',
    'span:id = "0000000000000002"',
    "true",
    'span.route < "/b"',
    'span.route >= "/b"',
    'span.route =~ "/b.*"',
    'span.route !~ "/b.*"',
    'span.route != "/a"',
    'span.route = ""',
    "span.route > 3",
    ".size > 2.5",
    ".size < -2.5",
    ".size >= 9007199254740993",
    ".size = 2.5",
    ".size != true",
    "span.size <= 0",
    '.region != "eu"',
    'span.http.status_code =~ "5.*"',
    'span.tags !~ "a"',
    "span.cached != true",
)
STRUCTURAL = tuple(f"{p}{op}" for p in ("", "!", "&") for op in (">", "<", ">>", "<<", "~"))
STAGES = (
    "count() > 1",
    "count() = 1",
    "avg(duration) > 10ms",
    "max(span.http.status_code) >= 500",
    "min(duration) < 5ms",
    "sum(.ratio) > 0.5",
    "count() * 2 > 3",
    "by(resource.service.name)",
    "by(span.http.status_code, kind)",
    "select(span.http.status_code, status)",
    "coalesce()",
)


@st.composite
def _field(draw: st.DrawFn, depth: int = 0) -> str:
    if depth >= 2 or draw(st.booleans()):
        condition = draw(st.sampled_from(CONDITIONS))
        return f"!({condition})" if draw(st.integers(0, 5)) == 0 else condition
    op = draw(st.sampled_from(("&&", "||")))
    return f"({draw(_field(depth + 1))} {op} {draw(_field(depth + 1))})"


@st.composite
def _filter(draw: st.DrawFn) -> str:
    return "{ }" if draw(st.integers(0, 6)) == 0 else "{ " + draw(_field()) + " }"


@st.composite
def _query(draw: st.DrawFn) -> str:
    spanset = draw(_filter())
    if draw(st.integers(0, 2)) == 0:
        spanset = f"({spanset} {draw(st.sampled_from(('&&', '||')))} {draw(_filter())})"
    elif draw(st.integers(0, 2)) == 0:
        spanset = f"({spanset} {draw(st.sampled_from(STRUCTURAL))} {draw(_filter())})"
    stages = draw(st.lists(st.sampled_from(STAGES) | _filter(), max_size=3))
    if "coalesce()" in stages and any(s.startswith("by(") for s in stages):
        stages = [s for s in stages if s != "coalesce()"]
    return " | ".join([spanset, *stages])


@st.composite
def _spans(draw: st.DrawFn) -> list[Span]:
    """Up to 6 traces of up to 6 spans (some traces without their root), from a Random
    seeded by one draw: cheap to generate, and a failure names its seed."""
    rnd = random.Random(draw(st.integers(0, 2**32)))
    spans = []
    java = Scope("spring", "2.1", (("language", "java"),))
    for t in range(rnd.randint(1, 6)):
        trace_id = bytes(15) + bytes([t + 1])
        rooted = rnd.randint(0, 5) > 0
        start = rnd.randint(0, 10) * MS
        for k in range(rnd.randint(1, 6)):
            span_id = bytes(6) + bytes([t + 1, k + 1])
            parent = bytes(8) if (k == 0 and rooted) else bytes(6) + bytes([t + 1, max(k, 1)])
            attributes: list[tuple[str, Any]] = []
            if rnd.random() < 0.5:
                attributes.append(("http.status_code", rnd.choice((200, 404, 500, 503))))
            if rnd.random() < 0.25:
                attributes.append(("tags", rnd.choice((("a", "b"), ("c",), ()))))
            if rnd.random() < 0.25:
                attributes.append(("cached", rnd.random() < 0.5))
            if rnd.random() < 0.25:
                attributes.append(("ratio", rnd.choice((0.25, 0.75, 1))))
            if rnd.random() < 0.25:  # one key, values of several types
                attributes.append(("route", rnd.choice(("/a", "/b/1", "/c", "", 7))))
            if rnd.random() < 0.2:
                sizes = (0, 3, -3, 2.5, 2**53 + 1, 2**63 - 1, True)
                attributes.append(("size", rnd.choice(sizes)))
            if rnd.random() < 0.1:  # a span's own attribute before its resource's
                attributes.append(("region", "us"))
            if rnd.random() < 0.1:  # a repeated key: the last one counts
                attributes.append(("http.status_code", 404))
            resource: tuple[tuple[str, Any], ...] = (("service.name", rnd.choice(SERVICES)),)
            if rnd.random() < 0.5:
                resource += (("region", rnd.choice(("eu", "us"))),)
            begin = start + rnd.randint(0, 50) * MS
            spans.append(
                Span(
                    trace_id,
                    span_id,
                    rnd.choice(NAMES),
                    begin,
                    begin + rnd.choice((1, 5, 10, 20, 40)) * MS,
                    parent_span_id=parent,
                    kind=rnd.choice((KIND_SERVER, KIND_CLIENT, KIND_INTERNAL)),
                    status_code=rnd.choice((STATUS_UNSET, STATUS_OK, STATUS_ERROR)),
                    status_message=rnd.choice(("", "deadlock")),
                    attributes=tuple(attributes),
                    resource=Resource(resource),
                    scope=rnd.choice((Scope(), java)),
                )
            )
    return spans


def _store(spans: list[Span], cuts: list[int]) -> MemorySpanStore:
    """The spans appended in several batches (their string tables differ)."""
    store = MemorySpanStore()
    bounds = sorted({0, len(spans), *(c % (len(spans) + 1) for c in cuts)})
    for lo, hi in itertools.pairwise(bounds):
        store.append(Spans.of(spans[lo:hi]))
    return store


Spansets = list[tuple[tuple[bytes, ...], tuple[Any, ...]]]


def _canonical(spansets: Iterable[tuple[Iterable[bytes], tuple[Any, ...]]]) -> Spansets:
    """Spansets as sorted span ids with their by() values, in a fixed order."""
    return sorted(((tuple(sorted(ids)), labels) for ids, labels in spansets), key=repr)


def _engine(results: list[TraceResult]) -> dict[bytes, Spansets]:
    return {
        r.trace_id: _canonical(
            ((s.span_id for s in ss.spans), tuple(v for _, v in ss.attributes))
            for ss in r.span_sets
        )
        for r in results
    }


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spans=_spans(), query=_query(), cuts=st.lists(st.integers(0, 40), max_size=2))
def test_vectorised_search_agrees_with_the_per_span_reference(
    spans: list[Span], query: str, cuts: list[int]
) -> None:
    store = _store(spans, cuts)
    results = search(store.querier(0, 10**12), query, limit=1000, spss=1000)
    want = {t: _canonical(s) for t, s in reference.evaluate(parse(query), spans).items()}
    assert _engine(results) == want
    hinted = search(_HintingQuerier(store), query, limit=1000, spss=1000)
    assert {r.trace_id: r for r in hinted} == {r.trace_id: r for r in results}


class _HintingQuerier:
    """A store that reads only the spans within the hints (a span at a time, plainly), and
    only the span attributes they name (no events, no links)."""

    def __init__(self, store: MemorySpanStore) -> None:
        self.inner = store.querier(0, 10**12)

    def trace(self, trace_id: bytes) -> Spans:
        return self.inner.trace(trace_id)

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        return self.inner.traces(trace_ids)

    def select(self, hints: SpanHints | None = None) -> Iterator[Spans]:
        wanted = hints or SpanHints()
        for batch in self.inner.select():
            kept = [_trimmed(span, wanted) for span in batch.rows() if _within(span, wanted)]
            if kept:
                yield Spans.of(kept)

    def services(self) -> list[str]:
        return self.inner.services()

    def span_names(self, service: str | None = None) -> list[tuple[str, int]]:
        return self.inner.span_names(service)

    def close(self) -> None:
        self.inner.close()


def _trimmed(span: Span, hints: SpanHints) -> Span:
    keys = hints.attributes
    if keys is None:
        return span
    kept = tuple((k, v) for k, v in span.attributes if k in keys)
    return dataclasses.replace(span, attributes=kept, events=(), links=())


def _within(span: Span, hints: SpanHints) -> bool:
    low, high = hints.min_duration_ns, hints.max_duration_ns
    return (
        (not hints.services or span.service_name in hints.services)
        and (not hints.names or span.name in hints.names)
        and (low is None or span.duration_ns >= low)
        and (high is None or span.duration_ns <= high)
        and (not hints.error_only or span.status_code == STATUS_ERROR)
    )


SHOP = Resource((("service.name", "shop"),))
DB = Resource((("service.name", "db"),))
TRACE_A = bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
TRACE_B = bytes.fromhex("00000000000000000000000000000002")


def _corpus() -> MemorySpanStore:
    store = MemorySpanStore()
    store.append(
        Spans.of(
            [
                Span(
                    TRACE_A,
                    b"\x00" * 7 + b"\x01",
                    "GET /orders",
                    1_000 * MS,
                    1_900 * MS,
                    kind=KIND_SERVER,
                    resource=SHOP,
                    attributes=(("http.status_code", 500),),
                ),
                Span(
                    TRACE_A,
                    b"\x00" * 7 + b"\x02",
                    "SELECT orders",
                    1_100 * MS,
                    1_700 * MS,
                    parent_span_id=b"\x00" * 7 + b"\x01",
                    kind=KIND_CLIENT,
                    status_code=STATUS_ERROR,
                    resource=DB,
                ),
                Span(
                    TRACE_B,
                    b"\x00" * 7 + b"\x03",
                    "SELECT users",
                    5_000 * MS,
                    5_001 * MS,
                    parent_span_id=b"\x00" * 7 + b"\x09",
                    kind=KIND_CLIENT,
                    resource=DB,
                ),
            ]
        )
    )
    return store


def test_search_answers_what_tempo_shows_per_trace() -> None:
    querier = _corpus().querier(0, 10**12)
    got = search(querier, "{ status = error } | select(span.http.status_code)")
    assert got == [
        TraceResult(
            TRACE_A,
            root_service_name="shop",
            root_trace_name="GET /orders",
            start_ns=1_000 * MS,
            duration_ns=900 * MS,
            span_sets=(
                SpanSet(
                    (
                        MatchedSpan(
                            b"\x00" * 7 + b"\x02",
                            "SELECT orders",
                            1_100 * MS,
                            600 * MS,
                            (("status", "error"),),
                        ),
                    ),
                    matched=1,
                ),
            ),
        )
    ]


def test_newest_traces_first_within_the_limit_and_spss_spans_shown() -> None:
    querier = _corpus().querier(0, 10**12)
    got = search(querier, '{ resource.service.name = "db" }', limit=1)
    assert [(r.trace_id, r.root_service_name, r.span_sets[0].matched) for r in got] == [
        (TRACE_B, ROOT_SPAN_NOT_YET_RECEIVED, 1)
    ]
    assert [len(s.spans) for s in search(querier, "{ }", spss=1)[1].span_sets] == [1]
    assert [s.matched for s in search(querier, "{ }", spss=1)[1].span_sets] == [2]


def test_by_values_label_the_spansets() -> None:
    querier = _corpus().querier(0, 10**12)
    got = search(querier, "{ } | by(resource.service.name, kind) | count() = 1")
    assert sorted(s.attributes for r in got for s in r.span_sets) == [
        (("by(resource.service.name)", "db"), ("by(span:kind)", "client")),
        (("by(resource.service.name)", "db"), ("by(span:kind)", "client")),
        (("by(resource.service.name)", "shop"), ("by(span:kind)", "server")),
    ]


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ('{resource.service.name="x" && duration>500ms}', SpanHints(("x",), (), 500 * MS + 1)),
        (
            '{ name = "GET /" && duration <= 1s && status = error } | count() > 1',
            SpanHints((), ("GET /",), None, 1_000 * MS, error_only=True),
        ),
        ('{ resource.service.name = "x" || duration > 1s }', SpanHints()),
        ('{ resource.service.name = "x" } && { name = "y" }', SpanHints()),
        ('{ rootServiceName = "x" && traceDuration > 1s }', SpanHints(services=("x",))),
        ('{ rootName = "r" && resource.service.name = "x" }', SpanHints(services=("x",))),
        ("count() > 2", SpanHints()),
    ],
)
def test_hints_come_from_the_conjuncts_of_the_first_filter(query: str, want: SpanHints) -> None:
    assert hints(query) == want


class _CountingQuerier:
    """A querier that records the hints it is given and the traces fetched."""

    def __init__(self, store: MemorySpanStore) -> None:
        self.inner = store.querier(0, 10**12)
        self.hints: list[SpanHints | None] = []
        self.fetched: list[bytes] = []

    def trace(self, trace_id: bytes) -> Spans:
        self.fetched.append(trace_id)
        return self.inner.trace(trace_id)

    def traces(self, trace_ids: Sequence[bytes]) -> list[Spans]:
        self.fetched += trace_ids
        return self.inner.traces(trace_ids)

    def select(self, hints: SpanHints | None = None) -> Any:
        self.hints.append(hints)
        return self.inner.select(hints)

    def services(self) -> list[str]:
        return self.inner.services()

    def span_names(self, service: str | None = None) -> list[tuple[str, int]]:
        return self.inner.span_names(service)

    def close(self) -> None:
        self.inner.close()


def test_trace_level_intrinsics_are_read_from_whole_traces_fetched_by_id() -> None:
    querier = _CountingQuerier(_corpus())
    got = search(querier, '{ resource.service.name = "db" && rootServiceName = "shop" }')
    assert (querier.hints, querier.fetched, [r.trace_id for r in got]) == (
        [SpanHints(services=("db",), attributes=frozenset())],
        [TRACE_B, TRACE_A],
        [TRACE_A],
    )
