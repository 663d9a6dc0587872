"""Tempo's query API over the seeded traces: trace by id in protobuf (decoded with Tempo's own
message declarations) and OTLP JSON, legacy tag search, tag names and values v1/v2, and
Tempo's plain-text refusals."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.tempo_proto import decode
from tests.web.trace_store import CHECKOUT_START, NOW_S, T0_S, seeded_store
from vigil.model.clock import ManualClock
from vigil.traces import traceql
from vigil.web.tempo_api import TempoAPI

WINDOW = {"start": str(T0_S), "end": str(NOW_S)}
CHECKOUT = "0af7651916cd43dd8448eb211c80319c"
PROTOBUF = {"Accept": "application/protobuf"}


def _client(prefix: str = "/tempo", not_ready: str | None = None) -> TestClient:
    api = TempoAPI(seeded_store(), ManualClock(NOW_S), not_ready=lambda: not_ready)
    return TestClient(Starlette(routes=api.routes(prefix)))


def _json(path: str, params: dict[str, str] | None = None) -> Any:
    response = _client().get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _span_names(resource_spans: Any) -> list[tuple[str, str]]:
    return [
        (rs.resource.attributes[0].value.string_value, span.name)
        for rs in resource_spans
        for scope in rs.scope_spans
        for span in scope.spans
    ]


def test_trace_by_id_v2_is_a_trace_by_id_response() -> None:
    response = _client().get(f"/tempo/api/v2/traces/{CHECKOUT}", headers=PROTOBUF)
    assert (response.status_code, response.headers["content-type"]) == (200, "application/protobuf")
    answer = decode("TraceByIDResponse", response.content)
    assert answer.status == 0  # COMPLETE
    assert _span_names(answer.trace.resourceSpans) == [
        ("frontend", "GET /checkout"),
        ("frontend", "POST /pay"),
        ("payments", "POST /pay"),
        ("payments", "SELECT orders"),
    ]
    frontend, payments = answer.trace.resourceSpans
    assert (frontend.scope_spans[0].scope.name, frontend.scope_spans[0].scope.version) == (
        "io.opentelemetry.flask",
        "0.66b0",
    )
    pay = payments.scope_spans[0].spans[0]
    assert (pay.trace_id.hex(), pay.span_id.hex(), pay.parent_span_id.hex()) == (
        CHECKOUT,
        "00000000000000a2",
        "00000000000000a1",
    )
    assert (pay.kind, pay.status.code, pay.status.message) == (2, 2, "card declined")
    assert (pay.start_time_unix_nano, pay.end_time_unix_nano) == (
        CHECKOUT_START + 30_000_000,
        CHECKOUT_START + 210_000_000,
    )
    assert json_format.MessageToDict(pay.events[0]) == {
        "timeUnixNano": str(CHECKOUT_START + 200_000_000),
        "name": "exception",
        "attributes": [{"key": "exception.type", "value": {"stringValue": "Declined"}}],
    }


def test_trace_by_id_v1_is_a_trace() -> None:
    response = _client().get(f"/tempo/api/traces/{CHECKOUT}", headers=PROTOBUF)
    trace = decode("Trace", response.content)
    assert len(_span_names(trace.resourceSpans)) == 4


def test_trace_json_is_otlp_json_with_hex_ids() -> None:
    v2 = _json("/tempo/api/v2/traces/abc")
    (batch,) = v2["trace"]["resourceSpans"]
    assert batch["resource"]["attributes"][0] == {
        "key": "service.name",
        "value": {"stringValue": "frontend"},
    }
    (span,) = batch["scopeSpans"][0]["spans"]
    assert span == {
        "traceId": "00000000000000000000000000000abc",
        "spanId": "00000000000000b1",
        "name": "GET /health",
        "kind": 2,
        "startTimeUnixNano": str((T0_S + 100) * 1_000_000_000),
        "endTimeUnixNano": str((T0_S + 100) * 1_000_000_000 + 2_000_000),
        "attributes": [
            {"key": "http.route", "value": {"stringValue": "/health"}},
            {"key": "http.status_code", "value": {"intValue": "200"}},
        ],
        "status": {},
    }
    v1 = _json(f"/tempo/api/traces/{CHECKOUT}")
    links = v1["batches"][1]["scopeSpans"][0]["spans"][1]["links"]
    assert links == [{"traceId": "00000000000000000000000000000abc", "spanId": "00000000000000b1"}]


@pytest.mark.parametrize(
    ("params", "want"),
    [
        ({}, ["5b8efff798038103d269b633813fc60c", "abc", "af7651916cd43dd8448eb211c80319c"]),
        ({"q": "{}"}, ["5b8efff798038103d269b633813fc60c", "abc", "af7651916cd43dd8448eb211c80319c"]),
        ({"limit": "1"}, ["5b8efff798038103d269b633813fc60c"]),
        ({"tags": "service.name=frontend"}, ["abc", "af7651916cd43dd8448eb211c80319c"]),
        ({"tags": 'service.name=frontend name="GET /health"'}, ["abc"]),
        ({"tags": "status.code=error"}, ["af7651916cd43dd8448eb211c80319c"]),
        ({"tags": "error=true http.status_code=402"}, ["af7651916cd43dd8448eb211c80319c"]),
        ({"tags": "cached=true"}, ["5b8efff798038103d269b633813fc60c"]),
        ({"minDuration": "250ms"}, ["5b8efff798038103d269b633813fc60c", "af7651916cd43dd8448eb211c80319c"]),
        ({"minDuration": "250ms", "maxDuration": "1s"}, ["af7651916cd43dd8448eb211c80319c"]),
        ({"start": str(T0_S + 50), "end": str(T0_S + 150)}, ["abc"]),
    ],
)  # fmt: skip
def test_search(params: dict[str, str], want: list[str]) -> None:
    answer = _json("/tempo/api/search", {**WINDOW, **params})
    assert [t["traceID"] for t in answer["traces"]] == want


@pytest.mark.parametrize(
    ("query", "want"),
    [
        ('{ resource.service.name = "payments" && status = error }', ["af7651916cd43dd8448eb211c80319c"]),
        ("{ span.http.status_code >= 400 }", ["af7651916cd43dd8448eb211c80319c"]),
        ("{ duration > 1s }", ["5b8efff798038103d269b633813fc60c"]),
        ("{ kind = server } | count() > 1", ["af7651916cd43dd8448eb211c80319c"]),
        ('{ rootServiceName = "frontend" }', ["abc", "af7651916cd43dd8448eb211c80319c"]),
    ],
)  # fmt: skip
def test_traceql_search(query: str, want: list[str]) -> None:
    answer = _json("/tempo/api/search", {**WINDOW, "q": query})
    assert [t["traceID"] for t in answer["traces"]] == want


def test_a_traceql_result_shows_the_fields_it_asked_about() -> None:
    query = (
        '{ resource.service.name = "payments" && status = error } | select(span.http.status_code)'
    )
    (trace,) = _json("/tempo/api/search", {**WINDOW, "q": query})["traces"]
    span_set = {
        "spans": [
            {
                "spanID": "00000000000000a2",
                "name": "POST /pay",
                "startTimeUnixNano": str(CHECKOUT_START + 30_000_000),
                "durationNanos": "180000000",
                "attributes": [
                    {"key": "service.name", "value": {"stringValue": "payments"}},
                    {"key": "status", "value": {"stringValue": "error"}},
                    {"key": "http.status_code", "value": {"intValue": "402"}},
                ],
            }
        ],
        "matched": 1,
    }
    assert trace == {
        "traceID": "af7651916cd43dd8448eb211c80319c",
        "rootServiceName": "frontend",
        "rootTraceName": "GET /checkout",
        "startTimeUnixNano": str(CHECKOUT_START),
        "durationMs": 300,
        "serviceStats": {
            "frontend": {"spanCount": 2},
            "payments": {"spanCount": 2, "errorCount": 1},
        },
        "spanSets": [span_set],
        "spanSet": span_set,
    }


def test_a_search_result_names_the_root_the_matched_spans_and_counts_spans_by_service() -> None:
    tags = "service.name=payments db.system=postgresql"
    answer = _json("/tempo/api/search", {**WINDOW, "tags": tags, "spss": "1"})
    (checkout,) = answer["traces"]
    assert checkout == {
        "traceID": "af7651916cd43dd8448eb211c80319c",
        "rootServiceName": "frontend",
        "rootTraceName": "GET /checkout",
        "startTimeUnixNano": str(CHECKOUT_START),
        "durationMs": 300,
        "serviceStats": {
            "frontend": {"spanCount": 2},
            "payments": {"spanCount": 2, "errorCount": 1},
        },
        "spanSet": {
            "spans": [
                {
                    "spanID": "00000000000000a3",
                    "name": "SELECT orders",
                    "startTimeUnixNano": str(CHECKOUT_START + 40_000_000),
                    "durationNanos": "50000000",
                    "attributes": [
                        {"key": "service.name", "value": {"stringValue": "payments"}},
                        {"key": "db.system", "value": {"stringValue": "postgresql"}},
                    ],
                }
            ],
            "matched": 1,
        },
        "spanSets": [checkout["spanSet"]],
    }


@pytest.mark.parametrize(
    ("path", "params", "want"),
    [
        ("/tempo/api/search/tags", {}, {"tagNames": ["cached", "db.system", "deployment.environment", "host.name", "http.route", "http.status_code", "ratio", "service.name"]}),
        ("/tempo/api/search/tags", {"scope": "resource"}, {"tagNames": ["deployment.environment", "host.name", "service.name"]}),
        ("/tempo/api/search/tags", {"scope": "intrinsic"}, {"tagNames": list(traceql.INTRINSICS)}),
        ("/tempo/api/v2/search/tags", {"scope": "span", "q": '{ resource.service.name = "frontend" }'}, {"scopes": [{"name": "span", "tags": ["http.route", "http.status_code"]}]}),
        ("/tempo/api/v2/search/tag/span.http.status_code/values", {"q": '{ resource.service.name = "payments" }'}, {"tagValues": [{"type": "int", "value": "402"}]}),
        ("/tempo/api/search/tag/status.code/values", {}, {"tagValues": ["error", "unset"]}),
        ("/tempo/api/v2/search/tags", {"scope": "span"}, {"scopes": [{"name": "span", "tags": ["cached", "db.system", "http.route", "http.status_code", "ratio"]}]}),
        ("/tempo/api/search/tag/service.name/values", {}, {"tagValues": ["frontend", "payments"]}),
        ("/tempo/api/search/tag/http.status_code/values", {}, {"tagValues": ["200", "402"]}),
        ("/tempo/api/search/tag/name/values", {}, {"tagValues": ["GET /checkout", "GET /health", "POST /pay", "SELECT orders", "cron"]}),
        ("/tempo/api/v2/search/tag/resource.service.name/values", {}, {"tagValues": [{"type": "string", "value": "frontend"}, {"type": "string", "value": "payments"}]}),
        ("/tempo/api/v2/search/tag/span.http.status_code/values", {}, {"tagValues": [{"type": "int", "value": "200"}, {"type": "int", "value": "402"}]}),
        ("/tempo/api/v2/search/tag/.cached/values", {}, {"tagValues": [{"type": "bool", "value": "true"}]}),
        ("/tempo/api/v2/search/tag/.ratio/values", {}, {"tagValues": [{"type": "float", "value": "0.5"}]}),
        ("/tempo/api/v2/search/tag/status/values", {}, {"tagValues": [{"type": "keyword", "value": "error"}, {"type": "keyword", "value": "unset"}]}),
        ("/tempo/api/v2/search/tag/kind/values", {}, {"tagValues": [{"type": "keyword", "value": "client"}, {"type": "keyword", "value": "internal"}, {"type": "keyword", "value": "server"}]}),
        ("/tempo/api/v2/search/tag/rootServiceName/values", {}, {"tagValues": [{"type": "string", "value": "frontend"}, {"type": "string", "value": "payments"}]}),
        ("/tempo/api/v2/search/tag/statusMessage/values", {}, {"tagValues": [{"type": "string", "value": "card declined"}]}),
        ("/tempo/api/v2/search/tag/duration/values", {}, {"tagValues": []}),
    ],
)  # fmt: skip
def test_tags(path: str, params: dict[str, str], want: Any) -> None:
    assert _json(path, {**WINDOW, **params}) == want


def test_tags_v2_lists_every_scope() -> None:
    scopes = _json("/tempo/api/v2/search/tags", WINDOW)["scopes"]
    assert [s["name"] for s in scopes] == ["resource", "span", "intrinsic", "instrumentation"]


@pytest.mark.parametrize(
    ("path", "params", "status", "body"),
    [
        ("/tempo/api/v2/traces/0123", {}, 404, "trace not found\n"),
        ("/tempo/api/traces/0123", {}, 404, "trace not found\n"),
        ("/tempo/api/v2/traces/nope", {}, 400, "invalid trace id 'nope': want 1 to 32 hex digits\n"),
        ("/tempo/api/search", {"q": "{ .a = }"}, 400, "invalid TraceQL query: parse error at line 1, col 8: syntax error: unexpected '}', expecting a field (.attribute, an intrinsic such as name) or a value\n"),
        ("/tempo/api/search", {"limit": "0"}, 400, "invalid limit: must be a positive number\n"),
        ("/tempo/api/search", {"start": "soon"}, 400, "invalid start: 'soon' is not an integer\n"),
        ("/tempo/api/search", {"start": "20", "end": "10"}, 400, "invalid start: 20 is after end 10\n"),
        ("/tempo/api/search", {"minDuration": "long"}, 400, "invalid minDuration 'long': want a duration such as 100ms or 1.5s\n"),
        ("/tempo/api/search", {"tags": 'a="open'}, 400, "invalid tags 'a=\"open': logfmt syntax error at position 1\n"),
        ("/tempo/api/search/tags", {"scope": "event"}, 400, "invalid scope 'event': want one of resource, span, intrinsic, instrumentation\n"),
        ("/tempo/api/v2/search/tag/event.name/values", {}, 400, "invalid tag 'event.name': event attributes ('event.name') not supported yet\n"),
        ("/tempo/api/v2/search/tag/.a/values", {"q": "{ .a = }"}, 400, "invalid TraceQL query: parse error at line 1, col 8: syntax error: unexpected '}', expecting a field (.attribute, an intrinsic such as name) or a value\n"),
    ],
)  # fmt: skip
def test_refusals(path: str, params: dict[str, str], status: int, body: str) -> None:
    response = _client().get(path, params=params)
    assert (response.status_code, response.text) == (status, body)


def test_echo_ready_and_buildinfo() -> None:
    client = _client(prefix="")
    assert (client.get("/api/echo").text, client.get("/ready").text) == ("echo", "ready\n")
    assert set(client.get("/api/status/buildinfo").json()) >= {"version", "revision", "goVersion"}
    starting = _client(not_ready="replaying the WAL").get("/tempo/ready")
    assert (starting.status_code, starting.text) == (503, "Not ready: replaying the WAL\n")


def test_spss_caps_the_spans_of_a_span_set() -> None:
    params = {**WINDOW, "tags": "service.name=payments", "spss": "1"}
    checkout = _json("/tempo/api/search", params)["traces"][1]["spanSet"]
    assert ([s["name"] for s in checkout["spans"]], checkout["matched"]) == (["POST /pay"], 2)
