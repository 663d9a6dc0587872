"""npm `@opentelemetry/exporter-trace-otlp-http` (OTLP/JSON with hex ids) exports a trace to a
real HTTP server serving vigil's OTLP traces route; the store holds exactly the spans the JS
SDK recorded."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

import pytest

from tests.conftest import PATIENCE_S, REPO
from tests.logs.ingest.stores import serving
from vigil.traces import NO_PARENT, Event, Link, MemorySpanStore, Resource, Scope, Span
from vigil.web.ingest.otlp_traces import OTLPTraces

pytestmark = pytest.mark.slow

SCRIPT = REPO / "tests" / "traces" / "otlp_js.cjs"


def _attributes(found: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in found.items())


def _as_vigil(span: dict[str, Any]) -> Span:
    return Span(
        trace_id=bytes.fromhex(span["traceId"]),
        span_id=bytes.fromhex(span["spanId"]),
        parent_span_id=bytes.fromhex(span["parentSpanId"]) or NO_PARENT,
        name=span["name"],
        start_ns=int(span["startNs"]),
        end_ns=int(span["endNs"]),
        kind=span["kind"] + 1,  # the JS API's SpanKind starts at INTERNAL = 0, OTLP's at 1
        status_code=span["status"]["code"],
        status_message=span["status"]["message"],
        attributes=_attributes(span["attributes"]),
        events=tuple(
            Event(int(e["timeNs"]), e["name"], _attributes(e["attributes"])) for e in span["events"]
        ),
        links=tuple(
            Link(
                bytes.fromhex(k["traceId"]),
                bytes.fromhex(k["spanId"]),
                _attributes(k["attributes"]),
            )
            for k in span["links"]
        ),
        resource=Resource(_attributes(span["resource"])),
        scope=Scope(span["scope"]["name"], span["scope"]["version"]),
    )


def test_the_opentelemetry_js_exporter_sends_otlp_json() -> None:
    store = MemorySpanStore()
    with serving(OTLPTraces(lambda: store).routes()) as url:
        done = subprocess.run(
            ["node", str(SCRIPT), f"{url}/otlp/v1/traces", str(int(PATIENCE_S * 1000))],
            env={**os.environ, "NODE_PATH": str(REPO / "ui" / "node_modules")},
            capture_output=True,
            text=True,
            timeout=PATIENCE_S,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    want = [_as_vigil(span) for span in json.loads(done.stdout)["spans"]]
    stored = [span for batch in store.querier(0, 2**63 - 1).select() for span in batch.rows()]
    assert len(want) == 3
    by_id = sorted(stored, key=lambda span: span.span_id)  # each span is its own export
    assert by_id == sorted(want, key=lambda span: span.span_id)
