"""Grafana's Loki data source against vigil: each recorded request (testdata/grafana_loki,
written from Grafana's source) is answered with the shape Grafana parses, and with the
values the seeded store holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.web.loki_store import APP_ERROR, APP_INFO, NOW_S, STREAMS, T0_S, store_with_shop
from vigil.model.clock import ManualClock
from vigil.web.loki_api import LokiAPI, LokiContext

FIXTURES = Path(__file__).parent / "testdata" / "grafana_loki"
NS = 1_000_000_000


def _bytes(*streams: int) -> int:
    return sum(len(STREAMS[i].lines.data) for i in streams)


_STEP = re.compile(r"([^.\[]+)|\[(\*|\d+)\]")

# Per fixture: JSON paths and the values the seeded store makes them hold.
EXPECTED: dict[str, dict[str, Any]] = {
    "detected_fields": {"fields[0].label": "duration", "fields[0].type": "duration"},
    "detected_field_values": {"values": ["200", "404", "503"]},
    "health_check": {"data.result[0].value[1]": "2"},
    "explore_logs": {
        "data.stats.summary.totalEntriesReturned": 66,
        "data.result[0].stream": dict(APP_ERROR),
        "data.result[0].values[0]": [str((T0_S + 505) * NS), "boom 5"],
        "data.result[1].stream": dict(APP_INFO),
        "data.result[1].values[0]": [
            str((T0_S + 590) * NS),
            "GET /api/59 200",
            {"structuredMetadata": {"trace_id": "t59"}},
        ],
    },
    "explore_logs_uncategorized": {"data.stats.summary.totalEntriesReturned": 66},
    "logs_volume": {
        "data.result[0].metric": {"level": "error"},
        "data.result[1].metric": {"level": "info"},
        "data.result[1].values[1]": [T0_S + 60, "6"],  # info lines at T0+10 s ... T0+60 s
    },
    "log_context_before": {
        "data.stats.summary.totalEntriesReturned": 10,
        "data.result[0].values[0][0]": str((T0_S + 290) * NS),  # before the row, newest first
        "data.result[0].values[9][0]": str((T0_S + 200) * NS),
    },
    "log_context_after": {
        "data.stats.summary.totalEntriesReturned": 10,
        "data.result[0].values[0][0]": str((T0_S + 300) * NS),  # the row itself: inclusive
        "data.result[0].values[9]": [
            str((T0_S + 390) * NS),
            "GET /api/39 200",
            {"structuredMetadata": {"trace_id": "t39"}},
        ],
    },
    "labels": {"data": ["job", "level", "service_name"]},
    "label_values": {"data": ["error", "info"]},
    "series": {"data": [dict(APP_ERROR), dict(APP_INFO)]},
    "index_stats": {"streams": 2, "entries": 66, "bytes": _bytes(0, 1)},
    "index_volume": {
        "data.result[0].metric": {"service_name": "app"},
        "data.result[0].value": [T0_S + 600, str(_bytes(0, 1))],
        "data.result[1].metric": {"service_name": "db"},
    },
    "index_volume_range": {
        "data.result[0].metric": {"service_name": "app"},
        "data.result[0].values[0]": [T0_S, "14"],
        "data.result[1].values[2][0]": T0_S + 600,
    },
}


def _walk(value: Any, path: str) -> list[Any]:
    """Every value `path` reaches (`[*]` fans out); a missing key or index reaches none."""
    found = [value]
    for part in path.split("."):
        for name, index in _STEP.findall(part):
            step: list[Any] = []
            for item in found:
                if name:
                    if isinstance(item, dict) and name in item:
                        step.append(item[name])
                elif index == "*":
                    step.extend(item if isinstance(item, list) else [])
                elif isinstance(item, list) and int(index) < len(item):
                    step.append(item[int(index)])
            found = step
    return found


def _holds(check: str, value: Any, argument: Any) -> bool:
    match check:
        case "equals":
            return bool(value == argument)
        case "length":
            return isinstance(value, list) and len(value) == argument
        case "array":
            return isinstance(value, list)
        case "object" | "object?":
            return isinstance(value, dict)
        case "string":
            return isinstance(value, str)
        case "string-map":
            return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "numeric-string":
            return (
                isinstance(value, str)
                and re.fullmatch(r"[-+]?(\d+\.?\d*(e[-+]?\d+)?|NaN|[-+]?Inf)", value) is not None
            )
        case "ns":
            return isinstance(value, str) and value.isdigit()
    raise AssertionError(f"unknown check {check}")


def check_reads(fixture: dict[str, Any], answer: Any) -> list[str]:
    """What in `answer` Grafana could not read: one line per failed property."""
    problems = []
    for path, check, *argument in fixture["reads"]:
        values = _walk(answer, path)
        if not values and check != "object?":
            problems.append(f"{path}: missing")
        problems += [
            f"{path}: {value!r} is not {check} {argument[0] if argument else ''}".rstrip()
            for value in values
            if not _holds(check, value, argument[0] if argument else None)
        ]
    return problems


def _client() -> TestClient:
    ctx = LokiContext(queryable=store_with_shop(), clock=ManualClock(NOW_S))
    return TestClient(Starlette(routes=LokiAPI(ctx).routes()))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_grafana_request(name: str) -> None:
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())
    request = fixture["request"]
    response = _client().request(
        request["method"], request["path"], params=request["params"], headers=request["headers"]
    )
    assert response.status_code == fixture["status"], response.text
    answer = response.json()
    assert check_reads(fixture, answer) == []
    assert {path: _walk(answer, path)[0] for path in EXPECTED[name]} == EXPECTED[name]


@pytest.mark.parametrize(
    ("answer", "problems"),
    [
        ({"status": "success", "data": ["a", 1]}, ["data[*]: 1 is not string"]),
        (
            {"status": "error"},
            ["status: 'error' is not equals success", "data: missing", "data[*]: missing"],
        ),
    ],
)
def test_checks_fail_what_grafana_cannot_read(answer: Any, problems: list[str]) -> None:
    fixture = json.loads((FIXTURES / "labels.json").read_text())
    assert check_reads(fixture, answer) == problems


def test_every_fixture_is_answered() -> None:
    """Each recorded request is checked here, the live tail in test_loki_tail."""
    assert {f.stem for f in FIXTURES.glob("*.json")} == {*EXPECTED, "tail"}
