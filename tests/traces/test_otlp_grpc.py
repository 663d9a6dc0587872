"""`vigil server --otlp.grpc.listen-address`: the OpenTelemetry SDK's OTLP/gRPC exporters (gzip
on) send spans, log records and metrics that land in the span store, the log store and the
TSDB; a body that is not a request is INVALID_ARGUMENT;
an address in use stops the start naming the flag; grpcio is not imported without the flag."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from tests.conftest import PATIENCE_S, REPO, free_port, running
from tests.traces.test_otlp_listener import _export_logs, _until
from vigil.web.ingest.otlp_grpc import METHOD

pytestmark = pytest.mark.slow


def _server(tmp_path: Path, port: int, grpc_address: str) -> list[str]:
    return [
        sys.executable, "-m", "vigil", "server",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--otlp.grpc.listen-address={grpc_address}",
        "--agent.disable",
        "--rules.default.disable",
    ]  # fmt: skip


def test_the_opentelemetry_grpc_exporters_send_every_signal(tmp_path: Path) -> None:
    port, grpc_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}"
    with running(_server(tmp_path, port, f"127.0.0.1:{grpc_port}"), f"{api}/-/ready"):
        provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
        exporter = OTLPSpanExporter(
            endpoint=f"127.0.0.1:{grpc_port}",
            insecure=True,
            compression=grpc.Compression.Gzip,
            timeout=PATIENCE_S,
        )
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("shop")
        try:
            with tracer.start_as_current_span("GET /pay") as root:
                trace_id = f"{root.get_span_context().trace_id:032x}"
                with tracer.start_as_current_span("db"):
                    pass
        finally:
            provider.shutdown()
        found = httpx.get(f"{api}/jaeger/api/traces/{trace_id}").json()["data"]
        assert sorted(span["operationName"] for span in found[0]["spans"]) == ["GET /pay", "db"]

        grpc_url = f"127.0.0.1:{grpc_port}"
        reader = PeriodicExportingMetricReader(
            OTLPMetricExporter(endpoint=grpc_url, insecure=True, timeout=PATIENCE_S),
            export_interval_millis=3_600_000,
        )
        meters = MeterProvider(
            resource=Resource.create({"service.name": "checkout"}), metric_readers=[reader]
        )
        meters.get_meter("shop").create_counter("shop.orders").add(3)
        assert meters.force_flush(timeout_millis=int(PATIENCE_S * 1000))
        meters.shutdown()
        _export_logs(
            LoggerProvider(resource=Resource.create({"service.name": "checkout"})),
            SimpleLogRecordProcessor(
                OTLPLogExporter(endpoint=grpc_url, insecure=True, timeout=PATIENCE_S)
            ),
        )

        def orders() -> list[str]:
            answer = httpx.get(f"{api}/api/v1/query", params={"query": "shop_orders_total"})
            return [s["value"][1] for s in answer.json()["data"]["result"]]

        def lines() -> list[str]:
            query = {"query": '{service_name="checkout"}', "start": "0"}
            answer = httpx.get(f"{api}/loki/api/v1/query_range", params=query).json()
            return [value[1] for stream in answer["data"]["result"] for value in stream["values"]]

        assert (_until(orders), _until(lines)) == (["3"], ["order 17 paid"])
        with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
            export = channel.unary_unary(METHOD)
            answer = ExportTraceServiceResponse.FromString(export(b"", timeout=PATIENCE_S))
            assert answer == ExportTraceServiceResponse()  # an empty request stores nothing
            with pytest.raises(grpc.RpcError) as refused:
                export(b"\x0a\x05abc", timeout=PATIENCE_S)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "not a valid ExportTraceServiceRequest protobuf" in str(refused.value.details())


def test_a_grpc_address_in_use_stops_the_start_naming_the_flag(tmp_path: Path) -> None:
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
        f"vigil server: --otlp.grpc.listen-address={address}: cannot listen: address already "
        "in use\n"
    ) in done.stderr
    assert "listening" not in done.stderr


def test_grpcio_is_imported_only_with_the_flag() -> None:
    program = (
        "import sys, vigil.cmd.server_process;"
        "print(sorted(m for m in sys.modules if m == 'grpc' or m.startswith('grpc.')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program],
        env={"PYTHONPATH": str(REPO / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "[]"
