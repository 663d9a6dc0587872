"""Loki's detected fields: what JSON or logfmt parsing finds in a query's lines, each field's
type guessed from its first value as Loki guesses it, and the values of one field."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.loki_store import NOW_S, T0_S, store_with_shop
from vigil.model.clock import ManualClock
from vigil.web.loki_api import LokiAPI, LokiContext
from vigil.web.loki_detected import field_type


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("200", "int"),
        ("-3", "int"),
        ("1.5", "float"),
        ("1e3", "float"),
        ("true", "boolean"),
        ("F", "boolean"),
        ("15ms", "duration"),
        ("1h30m", "duration"),
        ("12KB", "bytes"),
        ("3 MiB", "bytes"),
        ("10b", "bytes"),
        ("order placed", "string"),
        ("", "string"),
    ],
)
def test_field_types(value: str, kind: str) -> None:
    assert field_type(value) == kind


def _client() -> TestClient:
    ctx = LokiContext(store_with_shop(), clock=ManualClock(NOW_S))
    return TestClient(Starlette(routes=LokiAPI(ctx).routes()))


def test_detected_fields() -> None:
    response = _client().get("/loki/api/v1/detected_fields", params={"query": '{job="shop"}'})
    assert response.json() == {
        "fields": [
            {"label": "duration", "type": "duration", "cardinality": 2, "parsers": ["logfmt"]},
            {"label": "level", "type": "string", "cardinality": 2, "parsers": ["logfmt"]},
            {"label": "msg", "type": "string", "cardinality": 1, "parsers": ["logfmt"]},
            {"label": "size", "type": "bytes", "cardinality": 1, "parsers": ["logfmt"]},
            {"label": "slow", "type": "boolean", "cardinality": 1, "parsers": ["json"]},
            {"label": "status", "type": "int", "cardinality": 3, "parsers": ["json", "logfmt"]},
            {"label": "user_id", "type": "string", "cardinality": 1, "parsers": ["json"]},
        ],
        "limit": 1000,
    }


@pytest.mark.parametrize(
    ("params", "want"),
    [
        ({}, ["200", "404", "503"]),
        ({"limit": "2"}, ["200", "404"]),
        ({"line_limit": "1"}, ["503"]),  # the newest line only
        ({"start": str(T0_S + 150)}, ["404", "503"]),
    ],
)
def test_detected_field_values(params: dict[str, str], want: list[str]) -> None:
    response = _client().get(
        "/loki/api/v1/detected_field/status/values", params={"query": '{job="shop"}', **params}
    )
    assert response.json() == {"values": want}


@pytest.mark.parametrize(
    ("params", "body"),
    [
        ({"query": 'rate({job="shop"}[1m])'}, "detected fields need a log query\n"),
        ({"query": '{job="shop"}', "line_limit": "0"}, "line_limit must be a positive value\n"),
        (
            {"query": '{job="shop"'},
            "parse error at line 1, col 12: syntax error: unexpected end of input, expecting '}'\n",
        ),
    ],
)
def test_detected_fields_refusals(params: dict[str, str], body: str) -> None:
    response = _client().get("/loki/api/v1/detected_fields", params=params)
    assert (response.status_code, response.text) == (400, body)
