"""Grafana's Tempo and Jaeger data sources against vigil: each recorded request
(testdata/grafana_tempo, testdata/grafana_jaeger, written from Grafana's source) is answered
with the shape Grafana parses — protobuf answers decoded with Tempo's own message
declarations — and with the values the seeded traces hold, under the main port's prefix and
at the root of the API's own listener."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.tempo_proto import decode
from tests.web.test_loki_grafana import _walk, check_reads
from tests.web.trace_store import NOW_S, seeded_store
from vigil.model.clock import ManualClock
from vigil.web.jaeger_api import JaegerAPI
from vigil.web.tempo_api import TempoAPI

TESTDATA = Path(__file__).parent / "testdata"
CHECKOUT_B64 = "CvdlGRbNQ92ESOshHIAxnA=="

# Per fixture: JSON paths and the values the seeded traces make them hold.
EXPECTED: dict[str, dict[str, Any]] = {
    "grafana_tempo/save_and_test": {},
    "grafana_tempo/trace_by_id": {
        "trace.resourceSpans[0].scopeSpans[0].spans[0].traceId": CHECKOUT_B64,
        "trace.resourceSpans[0].scopeSpans[0].spans[0].name": "GET /checkout",
        "trace.resourceSpans[1].scopeSpans[0].spans[0].status.message": "card declined",
    },
    "grafana_tempo/trace_by_id_v1": {"resourceSpans[1].scopeSpans[0].spans[1].name": "SELECT orders"},
    "grafana_tempo/trace_not_found": {},
    "grafana_tempo/search_all": {
        "traces[0].rootServiceName": "payments",
        "traces[2].rootTraceName": "GET /checkout",
        "traces[2].durationMs": 300,
    },
    "grafana_tempo/search_tags": {"traces[0].traceID": "af7651916cd43dd8448eb211c80319c"},
    "grafana_tempo/tags_v2": {"scopes[0].tags": ["deployment.environment", "host.name", "service.name"]},
    "grafana_tempo/tags_v1": {"tagNames[0]": "cached"},
    "grafana_tempo/tag_values_v2": {"tagValues[1]": {"type": "string", "value": "payments"}},
    "grafana_tempo/tag_values_v1": {"tagValues": ["frontend", "payments"]},
    "grafana_jaeger/save_and_test": {"data": ["frontend", "payments"]},
    "grafana_jaeger/operations": {"data": ["GET /checkout", "GET /health", "POST /pay"]},
    "grafana_jaeger/search": {"data[0].spans[0].operationName": "GET /checkout"},
    "grafana_jaeger/trace_by_id": {"data[0].spans[2].references[0].refType": "CHILD_OF"},
    "grafana_jaeger/trace_by_id_time_params": {"data[0].spans[0].operationName": "GET /health"},
    "grafana_jaeger/dependencies": {"data[0]": {"parent": "frontend", "child": "payments", "callCount": 1}},
}  # fmt: skip


def _client(source: str, prefix: str | None) -> TestClient:
    store, clock = seeded_store(), ManualClock(NOW_S)
    if source == "grafana_tempo":
        routes = TempoAPI(store, clock).routes("/tempo" if prefix is None else prefix)
    else:
        routes = JaegerAPI(store, clock).routes("/jaeger" if prefix is None else prefix)
    return TestClient(Starlette(routes=routes))


def _answer(fixture: dict[str, Any], body: bytes) -> Any:
    kind, _, message = fixture["format"].partition(":")
    if kind == "text":
        return body.decode()
    if kind == "protobuf":
        return json_format.MessageToDict(decode(message, body))
    return json.loads(body)


@pytest.mark.parametrize("prefix", [None, ""], ids=["main port", "own listener"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_grafana_request(name: str, prefix: str | None) -> None:
    source = name.partition("/")[0]
    fixture = json.loads((TESTDATA / f"{name}.json").read_text())
    request = fixture["request"]
    mount = (
        {"grafana_tempo": "/tempo", "grafana_jaeger": "/jaeger"}[source] if prefix is None else ""
    )
    response = _client(source, prefix).request(
        request["method"],
        mount + request["path"],
        params=request["params"],
        headers=request["headers"],
    )
    assert response.status_code == fixture["status"], response.text
    answer = _answer(fixture, response.content)
    assert check_reads(fixture, answer) == []
    assert {path: _walk(answer, path)[0] for path in EXPECTED[name]} == EXPECTED[name]


def test_every_fixture_is_answered() -> None:
    found = {f"{f.parent.name}/{f.stem}" for f in TESTDATA.glob("grafana_[tj]*/*.json")}
    assert found == set(EXPECTED)
