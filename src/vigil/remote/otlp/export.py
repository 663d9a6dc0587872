"""What every OTLP/HTTP receiver (traces, logs, metrics) answers, as the OTLP specification
says: 200 with the signal's Export…ServiceResponse in the request's encoding (its
`partial_success` counting the records refused, and why), or a `google.rpc.Status` in the
request's encoding: 400 for a body that is not a request, 413 beyond the size limits, 415 for
other content types (in JSON, the request's encoding being unknown), 429 or 503 with
Retry-After when over a limit or when the store cannot write (nothing of it stored: the
exporter retries it)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from vigil.remote.otlp.decode import JSON, PROTOBUF, decompress, media_type
from vigil.remote.receiver import RETRY_AFTER_S, StorageRefusals, WriteRejected
from vigil.tsdb import StorageNotReady
from vigil.web.body import read_capped

log = logging.getLogger(__name__)

# google.rpc.Code values for the statuses OTLP/HTTP answers with.
INVALID_ARGUMENT = 3
RESOURCE_EXHAUSTED = 8
UNAVAILABLE = 14
_CODES = {413: RESOURCE_EXHAUSTED, 429: RESOURCE_EXHAUSTED, 503: UNAVAILABLE}
_RETRYABLE = frozenset({429, 503})


@dataclass(frozen=True, slots=True)
class Exported:
    """What one request stored: records (spans, log records, data points) refused, by the
    decoder or the store, and why; a message with nothing refused warns of what was changed."""

    rejected: int = 0
    message: str = ""


Store = Callable[[bytes, str], Exported]
"""Decompressed body and its media type → what was stored (blocking). Raises WriteRejected
for a request refused whole (nothing stored), StorageNotReady or OSError when the store
cannot take it."""

Encoder = Callable[[str, int, str], bytes]
"""Media type, records refused, message → the signal's Export…ServiceResponse."""


@dataclass(frozen=True, slots=True)
class ExportLimits:
    """Bounds on one request, as sent and after decompression."""

    max_body_bytes: int = 20 << 20
    max_decoded_bytes: int = 20 << 20


class OTLPExport:
    """One signal's OTLP/HTTP route handler (and its OTLP/gRPC Export) around its `store`;
    `signal` names it in log lines, `store_name` the store in a not-ready answer."""

    def __init__(
        self,
        signal: str,
        store_name: str,
        store: Store,
        encode: Encoder,
        limits: ExportLimits = ExportLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._signal = signal
        self._store_name = store_name
        self._store = store
        self._encode = encode
        self.limits = limits
        self._refusals = StorageRefusals(clock, signal)

    async def handle(self, request: Request) -> Response:
        try:
            kind = media_type(request.headers.get("content-type", ""))
        except WriteRejected as err:
            return self._refuse(request, JSON, err)
        body = await read_capped(request, self.limits.max_body_bytes)
        if body is None:
            limit = self.limits.max_body_bytes
            return self._refuse(
                request,
                kind,
                WriteRejected(
                    413, f"request too large: body of more than {limit} bytes (the limit)"
                ),
            )
        encoding = request.headers.get("content-encoding", "")
        try:
            exported = await run_in_threadpool(self.store, body, encoding, kind)
        except WriteRejected as err:
            return self._refuse(request, kind, err)
        except StorageNotReady as err:
            return status_response(kind, 503, f"{self._store_name} not ready: {err.status}")
        except OSError as err:  # nothing of the request was stored: the exporter retries
            return status_response(kind, 503, self._refusals.note(err))
        if exported.message:
            log.warning("%s from %s: %s", self._signal, _client(request), exported.message)
        return Response(self._encode(kind, exported.rejected, exported.message), media_type=kind)

    def store(self, body: bytes, encoding: str, kind: str) -> Exported:
        """Decompress, decode and store one request's body (blocking); raises as `Store`."""
        return self._store(decompress(body, encoding, self.limits.max_decoded_bytes), kind)

    def export_protobuf(self, body: bytes) -> bytes:
        """One OTLP/gRPC Export (blocking): the response; raises as `Store`."""
        exported = self._store(body, PROTOBUF)
        if exported.message:
            log.warning("%s over gRPC: %s", self._signal, exported.message)
        return self._encode(PROTOBUF, exported.rejected, exported.message)

    def _refuse(self, request: Request, kind: str, err: WriteRejected) -> Response:
        log.warning("%s from %s refused: %s", self._signal, _client(request), err.message)
        return status_response(kind, err.status, err.message)


def status_response(kind: str, http_status: int, message: str) -> Response:
    """A request refused whole: its `google.rpc.Status`, with Retry-After when retrying helps."""
    headers = {"Retry-After": str(RETRY_AFTER_S)} if http_status in _RETRYABLE else None
    return Response(
        encode_status(kind, http_status, message), http_status, headers=headers, media_type=kind
    )


def encode_status(kind: str, http_status: int, message: str) -> bytes:
    """The `google.rpc.Status` OTLP/HTTP answers a failed request with."""
    from google.protobuf import json_format
    from google.rpc.status_pb2 import Status

    status = Status(code=_CODES.get(http_status, INVALID_ARGUMENT), message=message)
    if kind == PROTOBUF:
        raw: bytes = status.SerializeToString()
        return raw
    return json_format.MessageToJson(status, indent=None).encode()


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "?"
