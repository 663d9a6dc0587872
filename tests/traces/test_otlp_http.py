"""The OTLP/HTTP traces route answers as the OTLP specification says: the response in the
request's encoding, `partial_success` counting refused spans (the decoder's and the store's),
a `google.rpc.Status` with 400/413/415, 503 with Retry-After when the store cannot write."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest
from google.protobuf import json_format
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.logs.ingest.stores import serving
from vigil.traces import AppendResult, MemorySpanStore, SpanAppender, Spans
from vigil.tsdb import StorageNotReady
from vigil.web.ingest.otlp_traces import OTLPTraces, TraceLimits

TRACE = bytes.fromhex("5b8efff798038103d269b633813fc60c")
PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


def _body(*span_ids: bytes) -> bytes:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for span_id in span_ids:
        spans.add(trace_id=TRACE, span_id=span_id, name="op", start_time_unix_nano=1)
    return request.SerializeToString()


class FullDisk:
    def append(self, spans: Spans) -> AppendResult:
        raise OSError(28, "No space left on device")


class Opening:
    def append(self, spans: Spans) -> AppendResult:
        raise StorageNotReady("replaying the WAL")


class Picky:
    """A store that refuses every span after the first, as one over a limit does."""

    def append(self, spans: Spans) -> AppendResult:
        return AppendResult(1, len(spans) - 1, f"{len(spans) - 1} spans over the rate limit")


@pytest.fixture
def store() -> MemorySpanStore:
    return MemorySpanStore()


@pytest.fixture
def url(store: MemorySpanStore) -> Iterator[str]:
    limits = TraceLimits(max_body_bytes=4096, max_decoded_bytes=8192)
    with serving(OTLPTraces(lambda: store, limits).routes()) as base:
        yield f"{base}/otlp/v1/traces"


def _stored(store: MemorySpanStore) -> int:
    return sum(len(batch) for batch in store.querier(0, 2**63 - 1).select())


def test_an_accepted_request_is_answered_in_its_encoding(url: str, store: MemorySpanStore) -> None:
    answer = httpx.post(url, content=_body(b"\x01" * 8), headers=PROTOBUF)
    assert (answer.status_code, answer.headers["content-type"], answer.content) == (
        200,
        "application/x-protobuf",
        b"",
    )
    document = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [{"traceId": TRACE.hex(), "spanId": "02" * 8}]}]}
        ]
    }
    answer = httpx.post(url, content=json.dumps(document), headers=JSON)
    assert (answer.status_code, answer.headers["content-type"], answer.json()) == (
        200,
        "application/json",
        {},
    )
    assert _stored(store) == 2


def test_refused_spans_are_counted_in_partial_success(url: str, store: MemorySpanStore) -> None:
    body = _body(b"\x01" * 8, bytes(8), b"\x02" * 3)
    answer = httpx.post(
        url, content=gzip.compress(body), headers={**PROTOBUF, "Content-Encoding": "gzip"}
    )
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert (answer.status_code, response.partial_success.rejected_spans) == (200, 2)
    assert response.partial_success.error_message == (
        "refused 2 spans with an invalid span id (want 8 bytes, not all zeros)"
    )
    assert _stored(store) == 1


def test_spans_the_store_refuses_are_counted_too() -> None:
    with serving(OTLPTraces(Picky).routes()) as base:
        answer = httpx.post(
            f"{base}/otlp/v1/traces",
            content=_body(b"\x01" * 8, b"\x02" * 8, bytes(8)),
            headers=PROTOBUF,
        )
    response = ExportTraceServiceResponse.FromString(answer.content)
    assert json_format.MessageToDict(response) == {
        "partialSuccess": {
            "rejectedSpans": "2",
            "errorMessage": "refused 1 spans with an invalid span id (want 8 bytes, not all zeros)"
            "; 1 spans over the rate limit",
        }
    }


@pytest.mark.parametrize(
    "content, headers, status, message",
    [
        (b"\x0a\x05abc", PROTOBUF, 400, "body is not a valid ExportTraceServiceRequest protobuf"),
        (b"{", JSON, 400, "body is not JSON"),
        (b"x" * 5000, PROTOBUF, 413, "body of more than 4096 bytes (the limit)"),
        (
            gzip.compress(b"\0" * 9000, mtime=0),
            {**PROTOBUF, "Content-Encoding": "gzip"},
            413,
            "more than 8192 bytes after gzip decompression",
        ),
        (b"{}", {"Content-Type": "text/plain"}, 415, "unsupported content type: text/plain"),
        (b"{}", {**JSON, "Content-Encoding": "br"}, 415, 'unsupported Content-Encoding "br"'),
    ],
    ids=["truncated", "not-json", "too-big", "gzip-bomb", "text", "brotli"],
)
def test_requests_refused_whole_get_a_status(
    url: str,
    store: MemorySpanStore,
    content: bytes,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    answer = httpx.post(url, content=content, headers=headers)
    kind = headers["Content-Type"]
    if kind == "application/x-protobuf":
        got = Status.FromString(answer.content)
    else:
        kind = "application/json"
        got = json_format.Parse(answer.content, Status())
    assert (answer.status_code, answer.headers["content-type"], got.code) == (
        status,
        kind,
        3 if status != 413 else 8,
    )
    assert message in got.message
    assert _stored(store) == 0


@pytest.mark.parametrize(
    "store, message",
    [
        (FullDisk(), "storage cannot write: No space left on device"),
        (Opening(), "span store not ready: replaying the WAL"),
    ],
)
@pytest.mark.parametrize("headers", [PROTOBUF, JSON])
def test_a_store_that_cannot_write_answers_503_with_retry_after(
    headers: dict[str, str], store: SpanAppender, message: str
) -> None:
    body = _body(b"\x01" * 8)
    if headers is JSON:
        body = json.dumps(
            {
                "resourceSpans": [
                    {"scopeSpans": [{"spans": [{"traceId": TRACE.hex(), "spanId": "01" * 8}]}]}
                ]
            }
        ).encode()
    with serving(OTLPTraces(lambda: store).routes()) as base:
        answer = httpx.post(f"{base}/otlp/v1/traces", content=body, headers=headers)
    assert (answer.status_code, answer.headers["retry-after"]) == (503, "30")
    status = (
        Status.FromString(answer.content)
        if headers is PROTOBUF
        else json_format.Parse(answer.content, Status())
    )
    assert (status.code, status.message) == (14, message)
