"""The server's span metrics: spans appended through `Server.span_appender` are stored and
counted, the generator's series land in the TSDB (read back through the Prometheus API),
the flags set the guards, and the slow-SQL route is served."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from tests.conftest import PATIENCE_S
from vigil.cmd import build_parser
from vigil.cmd.server_flags import options
from vigil.cmd.server_process import Server
from vigil.traces import KIND_CLIENT, KIND_SERVER, Resource, Span, Spans

SHOP = Resource((("service.name", "shop"),))


def _spans(now_ns: int) -> Spans:
    def one(n: int, path: str, kind: int = KIND_SERVER, **attrs: str) -> Span:
        return Span(
            trace_id=n.to_bytes(16, "big"),
            span_id=n.to_bytes(8, "big"),
            name=f"GET {path}",
            start_ns=now_ns,
            end_ns=now_ns + 5_000_000,
            kind=kind,
            attributes=(("http.target", path), *attrs.items()),
            resource=SHOP,
        )

    return Spans.of(
        [
            one(1, "/orders/1", **{"http.route": "/orders/{id}", "http.method": "GET"}),
            one(2, "/orders/2", **{"http.route": "/orders/{id}", "http.method": "GET"}),
            one(3, "/ping"),
            one(4, "/orders", KIND_CLIENT, **{"db.statement": "SELECT 1", "db.system": "h2"}),
        ]
    )


def test_spans_through_the_servers_appender_become_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = build_parser().parse_args(
        [
            "server",
            "--storage.tsdb.path=data",
            "--agent.disable",
            "--traces.spanmetrics.health-paths=/ping",
            "--traces.spanmetrics.max-span-names=50",
        ]
    )
    server = Server(options(args))
    with TestClient(server.app()) as client:
        deadline = time.monotonic() + PATIENCE_S
        while client.get("/-/ready").status_code != 200:
            assert time.monotonic() < deadline, "the server did not get ready"
            time.sleep(0.05)
        result = server.span_appender.append(_spans(time.time_ns()))
        server.metrics_generator.collect()
        answer = client.get(
            "/api/v1/query",
            params={
                "query": 'sum by (span_name) (traces_spanmetrics_calls_total{span_kind="SPAN_KIND_SERVER"})'
            },
        ).json()
        got = {r["metric"]["span_name"]: r["value"][1] for r in answer["data"]["result"]}
        slow = client.get("/api/v1/traces/slow_sql").json()["data"]["statements"]
        flags = client.get("/api/v1/status/flags").json()["data"]
    assert result.accepted == 4
    assert got == {"GET /orders/{id}": "2"}
    assert [(s["service"], s["statement"], s["calls"]) for s in slow] == [("shop", "SELECT ?", 1)]
    assert (
        flags["traces.spanmetrics.health-paths"],
        flags["traces.spanmetrics.max-span-names"],
    ) == (
        "/ping",
        "50",
    )
