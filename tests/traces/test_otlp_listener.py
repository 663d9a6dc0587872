"""`vigil server --otlp.listen-address`: the OpenTelemetry SDK's exporters, pointed at the
listener's collector paths (/v1/traces, /v1/logs, /v1/metrics), land in the span store, the log
store and the TSDB (the listener takes metrics without --web.enable-otlp-receiver), and traces
sent to /otlp/v1/traces on the main port too; Zipkin spans land from --zipkin.listen-address
and the main port; --traces.forward.url forwards them all to another OTLP receiver; an address
in use stops the start with one clear
error naming the flag."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import PATIENCE_S, free_port, running
from tests.logs.ingest.stores import serving
from vigil.traces import MemorySpanStore
from vigil.web.ingest.otlp_traces import PATH, OTLPTraces

pytestmark = pytest.mark.slow

PROTOBUF = "application/x-protobuf"
RESOURCE = Resource.create({"service.name": "checkout", "service.instance.id": "i-1"})


def _server(tmp_path: Path, port: int, otlp: str, *flags: str) -> list[str]:
    return [
        sys.executable, "-m", "vigil", "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--otlp.listen-address={otlp}",
        "--agent.disable",
        "--rules.default.disable",
        *flags,
    ]  # fmt: skip


def _until(check: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def _export_metrics(endpoint: str) -> None:
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=endpoint, timeout=PATIENCE_S),
        export_interval_millis=3_600_000,
    )
    provider = MeterProvider(resource=RESOURCE, metric_readers=[reader])
    provider.get_meter("shop").create_counter("shop.orders").add(3, {"payment.method": "card"})
    assert provider.force_flush(timeout_millis=int(PATIENCE_S * 1000))
    provider.shutdown()


def _export_logs(provider: LoggerProvider, processor: SimpleLogRecordProcessor) -> None:
    """One warning line, "order 17 paid", through `processor`'s exporter."""
    provider.add_log_record_processor(processor)
    logger = logging.getLogger("shop.checkout.listener")
    logger.propagate = False
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger.addHandler(handler)
    try:
        logger.warning("order 17 paid")
    finally:
        logger.removeHandler(handler)
        provider.shutdown()


def _export_trace(endpoint: str) -> str:
    """The hex id of the trace of two spans sent."""
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(
        SimpleSpanProcessor(OTLPSpanExporter(endpoint=endpoint, timeout=PATIENCE_S))
    )
    tracer = provider.get_tracer("shop")
    try:
        with tracer.start_as_current_span("GET /pay") as root, tracer.start_as_current_span("db"):
            return f"{root.get_span_context().trace_id:032x}"
    finally:
        provider.shutdown()


def test_the_otlp_listener_takes_every_signal_at_collector_paths(tmp_path: Path) -> None:
    port, otlp, zipkin = free_port(), free_port(), free_port()
    api = f"http://127.0.0.1:{port}"
    far_end = MemorySpanStore()
    with serving(OTLPTraces(lambda: far_end).routes()) as far_url:
        server = _server(
            tmp_path,
            port,
            f"127.0.0.1:{otlp}",
            f"--zipkin.listen-address=:{zipkin}",
            f"--traces.forward.url={far_url}{PATH}",
        )
        with running(server, f"{api}/-/ready"):
            _every_signal(api, otlp, zipkin)

            def forwarded() -> set[str]:
                batches = far_end.querier(0, 2**63 - 1).select()
                return {span.name for batch in batches for span in batch.rows()}

            assert _until(lambda: forwarded() >= {"GET /pay", "db", "zipkin"})


def _every_signal(api: str, otlp: int, zipkin: int) -> None:
    """Every OTLP signal through the listener, traces on the main port, Zipkin on both."""
    _export_metrics(f"http://127.0.0.1:{otlp}/v1/metrics")
    _export_logs(
        LoggerProvider(resource=RESOURCE),
        SimpleLogRecordProcessor(
            OTLPLogExporter(endpoint=f"http://127.0.0.1:{otlp}/v1/logs", timeout=PATIENCE_S)
        ),
    )
    traces = [
        _export_trace(f"http://127.0.0.1:{otlp}/v1/traces"),
        _export_trace(f"{api}/otlp/v1/traces"),
    ]
    for trace_id in traces:
        found = httpx.get(f"{api}/jaeger/api/traces/{trace_id}").json()["data"]
        assert sorted(span["operationName"] for span in found[0]["spans"]) == ["GET /pay", "db"]
    for zipkin_url, trace_id in (
        (f"http://127.0.0.1:{zipkin}/api/v2/spans", "1" * 32),
        (f"{api}/api/v2/spans", "2" * 32),
    ):
        now_us = time.time_ns() // 1000
        span = {"traceId": trace_id, "id": "1", "name": "zipkin", "timestamp": now_us}
        assert httpx.post(zipkin_url, json=[span]).status_code == 202
        found = httpx.get(f"{api}/jaeger/api/traces/{trace_id}").json()["data"]
        assert [span["operationName"] for span in found[0]["spans"]] == ["zipkin"]

    def orders() -> list[Any]:
        query = {"query": "shop_orders_total"}
        found: list[Any] = httpx.get(f"{api}/api/v1/query", params=query).json()["data"]["result"]
        return found

    def lines() -> list[Any]:
        query = {"query": '{service_name="checkout"}', "start": "0"}
        answer = httpx.get(f"{api}/loki/api/v1/query_range", params=query).json()
        return [value[1] for stream in answer["data"]["result"] for value in stream["values"]]

    assert [(s["metric"]["payment_method"], s["value"][1]) for s in _until(orders)] == [
        ("card", "3")
    ]
    assert _until(lines) == ["order 17 paid"]
    on_main_port = httpx.post(
        f"{api}/api/v1/otlp/v1/metrics",
        content=b"",
        headers={"Content-Type": "application/x-protobuf"},
    )
    assert on_main_port.status_code == 404  # still behind --web.enable-otlp-receiver
    _bad_requests_get_a_status(api, otlp)


def _bad_requests_get_a_status(api: str, otlp: int) -> None:
    """A truncated protobuf at every OTLP path is a 400 `google.rpc.Status` in protobuf."""
    paths = ["/v1/traces", "/v1/logs", "/v1/metrics"]
    urls = [f"http://127.0.0.1:{otlp}{path}" for path in paths]
    urls += [f"{api}/otlp/v1/traces", f"{api}/otlp/v1/logs"]
    for url in urls:
        answer = httpx.post(url, content=b"\x0a\xff", headers={"Content-Type": PROTOBUF})
        status = Status.FromString(answer.content)
        assert (answer.status_code, answer.headers["content-type"], status.code) == (
            400,
            PROTOBUF,
            3,
        ), url
        assert "protobuf" in status.message, url


def test_an_otlp_address_in_use_stops_the_start_naming_the_flag(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        done = subprocess.run(
            _server(tmp_path, free_port(), address),
            capture_output=True,
            text=True,
            timeout=PATIENCE_S,
            check=False,
        )
    assert done.returncode == 1, done.stderr
    assert (
        f"vigil server: cannot listen on {address} (--otlp.listen-address): address already in "
        "use; choose another address with --otlp.listen-address=HOST:PORT, or turn it off with "
        "--otlp.listen-address=\n"
    ) in done.stderr
    assert "listening" not in done.stderr
