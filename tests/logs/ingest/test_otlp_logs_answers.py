"""`POST /otlp/v1/logs` answers as the OTLP specification says, in the request's encoding:
records the store refuses beside others it keeps are counted in `partial_success`, a request
refused whole is a `google.rpc.Status` (400 for what its records hold, 429 with Retry-After
for a rate limit, 413, 415, 503 with Retry-After); the OpenTelemetry SDK's OTLPLogExporter
takes a partial success as sent and a 400 as a failure it does not retry."""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import httpx
import pytest
import requests
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    LogRecordExportResult,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource

from tests.logs.ingest.stores import FullDisk, Sent, serving, stored
from vigil.logs import Discarded, Entries, LogAppender, MemoryLogStore, PushResult
from vigil.web.ingest.endpoint import IngestLimits
from vigil.web.ingest.otlp_logs import PATH, OTLPLogs

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_REASONS = {"noisy": "rate_limited", "old": "greater_than_max_sample_age"}


class Limited:
    """A store that keeps every stream but those of the services named in `_REASONS`, which it
    discards for that reason, as the log store's limits do."""

    def __init__(self) -> None:
        self.store = MemoryLogStore()

    def push(self, streams: Sequence[Entries]) -> PushResult:
        kept, discarded = [], []
        for entries in streams:
            reason = _REASONS.get(entries.labels.get("service_name"))
            if reason is None:
                kept.append(entries)
                continue
            size = sum(len(line) for line in entries.lines)
            discarded.append(
                Discarded(reason, entries.labels, len(entries), size, f"{reason} for this stream")
            )
        result = self.store.push(kept)
        return PushResult(result.accepted_lines, result.accepted_bytes, tuple(discarded))


def _records(*services: str) -> list[ReadableLogRecord]:
    records: list[ReadableLogRecord] = []
    for service in services:
        memory = InMemoryLogRecordExporter()
        provider = LoggerProvider(resource=Resource.create({"service.name": service}))
        provider.add_log_record_processor(SimpleLogRecordProcessor(memory))
        provider.get_logger("shop").emit(body=f"a line from {service}")
        provider.get_logger("shop").emit(body=f"another line from {service}")
        provider.shutdown()
        records.extend(memory.get_finished_logs())
    return records


def _body(kind: str, *services: str) -> bytes:
    from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs

    request: ExportLogsServiceRequest = encode_logs(_records(*services))
    if kind == PROTOBUF:
        return bytes(request.SerializeToString())
    return json_format.MessageToJson(request).encode()


def _status(response: httpx.Response) -> tuple[int, str, int, str, str | None]:
    """HTTP status, content type, google.rpc code and message, Retry-After."""
    kind = response.headers["content-type"]
    if kind == PROTOBUF:
        status = Status.FromString(response.content)
    else:
        status = json_format.Parse(response.content, Status())
    retry = response.headers.get("retry-after")
    return response.status_code, kind, status.code, status.message, retry


def _partial(response: httpx.Response) -> tuple[int, str, int, str]:
    kind = response.headers["content-type"]
    if kind == PROTOBUF:
        answer = ExportLogsServiceResponse.FromString(response.content)
    else:
        answer = json_format.Parse(response.content, ExportLogsServiceResponse())
    partial = answer.partial_success
    return response.status_code, kind, partial.rejected_log_records, partial.error_message


@pytest.mark.parametrize("kind", [PROTOBUF, JSON])
def test_records_refused_beside_others_stored_are_a_partial_success(kind: str) -> None:
    store = Limited()
    with serving(OTLPLogs(lambda: store).routes()) as url:
        response = httpx.post(
            url + PATH, content=_body(kind, "shop", "noisy", "old"), headers={"Content-Type": kind}
        )
    assert _partial(response) == (
        200,
        kind,
        4,
        "rate_limited for this stream; greater_than_max_sample_age for this stream; "
        "total ignored: 4 out of 6",
    )
    assert [s.get("service_name") for s in stored(store.store)] == ["shop"]


@pytest.mark.parametrize("kind", [PROTOBUF, JSON])
@pytest.mark.parametrize(
    "service, status, code, retry",
    [("noisy", 429, 8, "30"), ("old", 400, 3, None)],
    ids=["rate-limited", "too-old"],
)
def test_a_request_refused_whole_is_a_status(
    kind: str, service: str, status: int, code: int, retry: str | None
) -> None:
    store = Limited()
    with serving(OTLPLogs(lambda: store).routes()) as url:
        response = httpx.post(
            url + PATH, content=_body(kind, service), headers={"Content-Type": kind}
        )
    reason = _REASONS[service]
    message = f"{reason} for this stream; total ignored: 2 out of 2"
    assert _status(response) == (status, kind, code, message, retry)
    assert stored(store.store) == {}


@pytest.mark.parametrize(
    "headers, content, status, code, message",
    [
        ({"Content-Type": "text/plain"}, b"x", 415, 3, "unsupported content type: text/plain"),
        ({"Content-Type": PROTOBUF}, b"\x0a\xff", 400, 3, "not a valid ExportLogsServiceRequest"),
        ({"Content-Type": PROTOBUF}, b"x" * 2000, 413, 8, "body of more than 1000 bytes"),
        (
            {"Content-Type": JSON, "Content-Encoding": "gzip"},
            gzip.compress(b" " * 5000),
            413,
            8,
            "more than 4000 bytes after gzip decompression",
        ),
    ],
    ids=["text", "truncated", "too-big", "gzip-bomb"],
)
def test_bad_requests_get_a_status_in_their_encoding(
    headers: dict[str, str], content: bytes, status: int, code: int, message: str
) -> None:
    store = MemoryLogStore()
    limits = IngestLimits(max_body_bytes=1000, max_decoded_bytes=4000)
    with serving(OTLPLogs(lambda: store, limits=limits).routes()) as url:
        response = httpx.post(url + PATH, content=content, headers=headers)
    got_status, kind, got_code, got_message, retry = _status(response)
    want_kind = headers["Content-Type"] if status != 415 else JSON
    assert (got_status, kind, got_code, message in got_message, retry) == (
        status,
        want_kind,
        code,
        True,
        None,
    )
    assert stored(store) == {}


def test_a_store_that_cannot_write_is_a_503_status_with_retry_after() -> None:
    store: LogAppender = FullDisk()
    with serving(OTLPLogs(lambda: store).routes()) as url:
        response = httpx.post(
            url + PATH, content=_body(PROTOBUF, "shop"), headers={"Content-Type": PROTOBUF}
        )
    assert _status(response) == (
        503,
        PROTOBUF,
        14,
        "storage cannot write: No space left on device",
        "30",
    )


def test_the_sdk_exporter_takes_a_partial_success_as_sent_and_does_not_retry_a_400() -> None:
    store = Limited()
    session = requests.Session()
    sent = Sent(session)
    with serving(OTLPLogs(lambda: store).routes()) as url:
        exporter = OTLPLogExporter(endpoint=url + PATH, session=session)
        partly = exporter.export(_records("shop", "old"))
        refused = exporter.export(_records("old"))
        exporter.shutdown()
    assert (partly, refused) == (LogRecordExportResult.SUCCESS, LogRecordExportResult.FAILURE)
    assert [status for _, _, status in sent.bodies] == [200, 400]
    assert {
        labels.get("service_name"): [line for _, line, _ in rows]
        for labels, rows in stored(store.store).items()
    } == {"shop": [b"a line from shop", b"another line from shop"]}
