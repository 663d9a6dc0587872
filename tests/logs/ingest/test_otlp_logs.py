"""`POST /otlp/v1/logs` mapped as Loki 3 maps OTLP: opentelemetry-proto's own `logs.json`
example, requests built here with the protobuf classes, each kind of bad body refused whole,
and the OpenTelemetry SDK's LoggingHandler + OTLPLogExporter (http/protobuf, gzip) pushing to
a real server, the store holding exactly what it sent."""

from __future__ import annotations

import gzip
import logging

import orjson
import pytest
import requests
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource as SDKResource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, use_span
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.conftest import CONFORMANCE
from tests.logs.ingest.stores import FullDisk, Row, Sent, serving, stored
from vigil.logs import LogAppender, MemoryLogStore
from vigil.model import Labels
from vigil.web.ingest.otlp_logs import OTLPLogs

PATH = "/otlp/v1/logs"
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}
NOW = 1_800_000_000_000_000_000


def _client(store: LogAppender) -> TestClient:
    return TestClient(Starlette(routes=list(OTLPLogs(lambda: store, now_ns=lambda: NOW).routes())))


def _kv(key: str, value: str | int | bool | AnyValue) -> KeyValue:
    if isinstance(value, AnyValue):
        return KeyValue(key=key, value=value)
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def test_opentelemetry_protos_json_example() -> None:
    store = MemoryLogStore()
    body = (CONFORMANCE / "otlp" / "logs.json").read_bytes()
    response = _client(store).post(PATH, content=body, headers=JSON)
    assert (response.status_code, response.json()) == (200, {})
    assert stored(store) == {
        Labels.from_dict({"service_name": "my.service"}): [
            (
                1544712660300000000,
                b"Example log record",
                Labels.from_dict(
                    {
                        "scope_name": "my.library",
                        "scope_version": "1.0.0",
                        "my_scope_attribute": "some scope attribute",
                        "string_attribute": "some string",
                        "boolean_attribute": "true",
                        "int_attribute": "10",
                        "double_attribute": "637.704",
                        "array_attribute": '["many","values"]',
                        "map_attribute_some_map_key": "some value",
                        "observed_timestamp": "1544712660300000000",
                        "severity_number": "10",
                        "severity_text": "Information",
                        "trace_id": "5b8efff798038103d269b633813fc60c",
                        "span_id": "eee19b7ec3c1b174",
                        "detected_level": "info",
                    }
                ),
            )
        ]
    }


RESOURCE = Resource(
    attributes=[
        _kv("service.name", "checkout"),
        _kv("service.namespace", "shop"),
        _kv("service.instance.id", "i-1"),
        _kv("deployment.environment.name", "prod"),
        _kv("k8s.pod.name", "checkout-7d9f"),
        _kv("k8s.namespace.name", "default"),
        _kv("cloud.region", "eu-west-1"),
        _kv("host.name", "vm1"),
        _kv("process.pid", 4242),
        _kv("telemetry.sdk.language", "python"),
    ]
)
RESOURCE_LABELS = Labels.from_dict(
    {
        "service_name": "checkout",
        "service_namespace": "shop",
        "service_instance_id": "i-1",
        "deployment_environment_name": "prod",
        "k8s_pod_name": "checkout-7d9f",
        "k8s_namespace_name": "default",
        "cloud_region": "eu-west-1",
    }
)
RESOURCE_META = {"host_name": "vm1", "process_pid": "4242", "telemetry_sdk_language": "python"}


def _request(*records: LogRecord, resource: Resource = RESOURCE) -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=resource,
                scope_logs=[
                    ScopeLogs(scope=InstrumentationScope(name="shop.checkout"), log_records=records)
                ],
            )
        ]
    )


def _meta(**pairs: str) -> Labels:
    return Labels.from_dict({**RESOURCE_META, "scope_name": "shop.checkout", **pairs})


MAPPINGS: list[tuple[str, ExportLogsServiceRequest, dict[Labels, list[Row]]]] = [
    (
        "fields, attributes, ids",
        _request(
            LogRecord(
                time_unix_nano=20,
                observed_time_unix_nano=25,
                severity_number=17,
                severity_text="ERROR",
                body=AnyValue(string_value="payment failed ✓"),
                attributes=[
                    _kv("appointment.id", "a-17"),
                    _kv("retry", 3),
                    _kv("http", AnyValue(kvlist_value=KeyValueList(values=[_kv("route", "/pay")]))),
                ],
                trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
                span_id=bytes.fromhex("eee19b7ec3c1b174"),
                flags=1,
                dropped_attributes_count=2,
            ),
            LogRecord(time_unix_nano=10, body=AnyValue(string_value="INFO: earlier")),
        ),
        {
            RESOURCE_LABELS: [
                (10, b"INFO: earlier", _meta(detected_level="info")),
                (
                    20,
                    "payment failed ✓".encode(),
                    _meta(
                        appointment_id="a-17",
                        retry="3",
                        http_route="/pay",
                        observed_timestamp="25",
                        severity_number="17",
                        severity_text="ERROR",
                        trace_id="5b8efff798038103d269b633813fc60c",
                        span_id="eee19b7ec3c1b174",
                        flags="1",
                        dropped_attributes_count="2",
                        detected_level="error",
                    ),
                ),
            ]
        },
    ),
    (
        "time from observed time, else now; structured bodies as JSON",
        _request(
            LogRecord(observed_time_unix_nano=7, body=AnyValue(int_value=5)),
            LogRecord(
                body=AnyValue(
                    array_value=ArrayValue(
                        values=[AnyValue(string_value="a"), AnyValue(bool_value=True)]
                    )
                )
            ),
        ),
        {
            RESOURCE_LABELS: [
                (7, b"5", _meta(observed_timestamp="7", detected_level="unknown")),
                (NOW, b'["a",true]', _meta(detected_level="unknown")),
            ]
        },
    ),
    (
        "no service.name: unknown_service",
        _request(
            LogRecord(time_unix_nano=1, body=AnyValue(string_value="x")),
            resource=Resource(attributes=[_kv("host.name", "vm1")]),
        ),
        {
            Labels.from_dict({"service_name": "unknown_service"}): [
                (
                    1,
                    b"x",
                    Labels.from_dict(
                        {
                            "host_name": "vm1",
                            "scope_name": "shop.checkout",
                            "detected_level": "unknown",
                        }
                    ),
                )
            ]
        },
    ),
]


@pytest.mark.parametrize(("name", "request_", "want"), MAPPINGS, ids=[m[0] for m in MAPPINGS])
@pytest.mark.parametrize("encoding", ["protobuf", "gzip"])
def test_records_map_as_in_loki(
    name: str, request_: ExportLogsServiceRequest, want: dict[Labels, list[Row]], encoding: str
) -> None:
    store = MemoryLogStore()
    body = request_.SerializeToString()
    headers = dict(PROTOBUF)
    if encoding == "gzip":
        body, headers["Content-Encoding"] = gzip.compress(body), "gzip"
    response = _client(store).post(PATH, content=body, headers=headers)
    assert (response.status_code, response.content, stored(store)) == (200, b"", want)


def _json_with_ids(trace_id: str) -> bytes:
    record = {"timeUnixNano": "1", "body": {"stringValue": "x"}, "traceId": trace_id}
    return orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]})


BAD_BODIES = [
    ("malformed JSON", JSON, b'{"resourceLogs": [', 400, "not valid UTF-8 JSON"),
    ("JSON not an object", JSON, b"[]", 400, "not an OTLP/JSON ExportLogsServiceRequest"),
    ("JSON wrong field type", JSON, b'{"resourceLogs": 3}', 400, "not a valid OTLP/JSON"),
    ("trace id not hex", JSON, _json_with_ids("not-hex!"), 400, "traceId 'not-hex!' is not a hex"),
    ("invalid UTF-8", JSON, b'{"resourceLogs": [{"x": "\xff"}]}', 400, "UTF-8"),
    (
        "truncated protobuf",
        PROTOBUF,
        _request(LogRecord(body=AnyValue(string_value="x" * 50))).SerializeToString()[:-5],
        400,
        "not a valid ExportLogsServiceRequest protobuf",
    ),
    (
        "unsupported media type",
        {"Content-Type": "text/plain"},
        b"x",
        415,
        "unsupported content type",
    ),
]


@pytest.mark.parametrize(
    ("name", "headers", "body", "status", "message"), BAD_BODIES, ids=[b[0] for b in BAD_BODIES]
)
def test_bad_bodies_are_refused_whole(
    name: str, headers: dict[str, str], body: bytes, status: int, message: str
) -> None:
    store = MemoryLogStore()
    response = _client(store).post(PATH, content=body, headers=headers)
    assert (response.status_code, message in response.text, stored(store)) == (status, True, {})


def test_a_store_that_cannot_write_answers_503() -> None:
    body = _request(LogRecord(body=AnyValue(string_value="x"))).SerializeToString()
    response = _client(FullDisk()).post(PATH, content=body, headers=PROTOBUF)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "30")


@pytest.mark.slow
def test_opentelemetry_sdk_logging_handler() -> None:
    store = MemoryLogStore()
    session = requests.Session()
    sent = Sent(session)
    with serving(OTLPLogs(lambda: store).routes()) as url:
        provider = LoggerProvider(
            resource=SDKResource.create(
                {
                    "service.name": "checkout",
                    "service.instance.id": "i-1",
                    "deployment.environment": "test",
                    "host.name": "vm1",
                }
            )
        )
        exporter = OTLPLogExporter(
            endpoint=url + PATH, compression=Compression.Gzip, session=session
        )
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        logger = logging.getLogger("shop.checkout.sdk")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        handler = LoggingHandler(level=logging.DEBUG, logger_provider=provider)
        logger.addHandler(handler)
        span = NonRecordingSpan(
            SpanContext(
                trace_id=0x5B8EFFF798038103D269B633813FC60C,
                span_id=0xEEE19B7EC3C1B174,
                is_remote=False,
                trace_flags=TraceFlags(TraceFlags.SAMPLED),
            )
        )
        try:
            logger.info("order %s paid", 17, extra={"appointment.id": "a-17"})
            with use_span(span):
                logger.error("payment failed ✓")
            logger.warning("stock low")
        finally:
            logger.removeHandler(handler)
            provider.shutdown()
    assert [status for _, _, status in sent.bodies] == [200, 200, 200]
    want = []
    for payload in sent.payloads():
        request = ExportLogsServiceRequest.FromString(payload)
        for resource_logs in request.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    want.append(
                        (
                            record.time_unix_nano,
                            record.body.string_value.encode(),
                            record.severity_text,
                            record.trace_id.hex(),
                            {kv.key: kv.value.string_value for kv in record.attributes}.get(
                                "appointment.id", ""
                            ),
                        )
                    )
    found = stored(store)
    assert list(found) == [
        Labels.from_dict(
            {
                "service_name": "checkout",
                "service_instance_id": "i-1",
                "deployment_environment": "test",
            }
        )
    ]
    got = [
        (t, line, m.get("severity_text"), m.get("trace_id"), m.get("appointment_id"))
        for rows in found.values()
        for t, line, m in rows
    ]
    assert got == sorted(want, key=lambda row: row[0])
    assert [m.get("detected_level") for rows in found.values() for _, _, m in rows] == [
        "info",
        "error",
        "warn",
    ]
    assert got[1][3] == "5b8efff798038103d269b633813fc60c"
    assert all(m.get("host_name") == "vm1" for rows in found.values() for _, _, m in rows)
