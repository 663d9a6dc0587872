"""OTLP/HTTP request and response bodies: binary protobuf or OTLP/JSON, optionally gzipped.

The protobuf classes come from `opentelemetry-proto`, imported on the first request, so a
server without `--web.enable-otlp-receiver` never loads them. A body is decompressed under a
cap (a small gzip bomb cannot take the memory) and JSON is read by web.body's bounded parser.
"""

from __future__ import annotations

import zlib
from typing import TYPE_CHECKING

from vigil.remote.receiver import WriteRejected
from vigil.web.body import JSONBodyError, parse_json

if TYPE_CHECKING:
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_WINDOWS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}  # gzip and zlib framing


def media_type(content_type: str) -> str:
    """PROTOBUF or JSON from a Content-Type header; WriteRejected(415) for anything else."""
    kind = content_type.partition(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise WriteRejected(
            415,
            f"unsupported content type: {content_type or '(none)'}, supported: [{JSON}, {PROTOBUF}]",
        )
    return kind


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The body as sent (`identity`) or inflated (`gzip`, `deflate`: the OpenTelemetry SDKs'
    two compressions), refused beyond `limit` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    window = _WINDOWS.get(encoding)
    if window is None:
        raise WriteRejected(
            415, f'unsupported Content-Encoding "{encoding}": send gzip, deflate or no encoding'
        )
    inflater = zlib.decompressobj(window)
    try:
        raw = inflater.decompress(body, limit + 1)
    except zlib.error as err:
        raise WriteRejected(400, f"body is not valid {encoding}: {err}") from None
    if len(raw) > limit:
        raise WriteRejected(
            413,
            f"request too large: more than {limit} bytes after {encoding} decompression "
            "(the limit)",
        )
    if not inflater.eof:
        raise WriteRejected(400, f"body is not valid {encoding}: the stream is truncated")
    return raw


def parse_request(raw: bytes, kind: str) -> ExportMetricsServiceRequest:
    """An ExportMetricsServiceRequest; WriteRejected(400) naming what is wrong."""
    from google.protobuf import json_format
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceRequest,
    )

    request = ExportMetricsServiceRequest()
    if kind == PROTOBUF:
        try:
            request.ParseFromString(raw)
        except DecodeError as err:
            raise WriteRejected(
                400, f"body is not a valid ExportMetricsServiceRequest protobuf: {err}"
            ) from None
        return request
    try:
        document = parse_json(raw) if raw.strip() else {}
    except JSONBodyError as err:
        raise WriteRejected(400, f"body is not JSON: {err.reason}") from None
    if not isinstance(document, dict):
        raise WriteRejected(400, "body is not an OTLP/JSON ExportMetricsServiceRequest object")
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except json_format.ParseError as err:
        raise WriteRejected(
            400, f"body is not a valid OTLP/JSON ExportMetricsServiceRequest: {err}"
        ) from None
    return request


def encode_response(kind: str, rejected_points: int, message: str) -> bytes:
    """An ExportMetricsServiceResponse in the request's encoding; `partial_success` says how
    many data points were not stored and why (OTLP's partial success)."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
        ExportMetricsServiceResponse,
    )

    response = ExportMetricsServiceResponse()
    if rejected_points or message:
        response.partial_success.rejected_data_points = rejected_points
        response.partial_success.error_message = message
    if kind == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()
