"""`POST /otlp/v1/traces` on the main port and `/v1/traces` on --otlp.listen-address: OTLP/HTTP
traces, protobuf or JSON, gzip or not, answered as the OTLP specification says: 200 with an
`ExportTraceServiceResponse` in the request's encoding (its `partial_success` counting the
spans refused, and why), 400 with a `google.rpc.Status` for a body that is not a request,
413 beyond the size limit, 415 for other content types, 503 with Retry-After when the span
store cannot write (nothing stored; the exporter retries)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.remote.otlp.decode import JSON, PROTOBUF, decompress, media_type
from vigil.remote.receiver import RETRY_AFTER_S, StorageRefusals, WriteRejected
from vigil.traces import SpanAppender
from vigil.traces.otlp import decode, encode_response, encode_status
from vigil.traces.otlp_columns import SpanColumns, SpanLimits
from vigil.tsdb import StorageNotReady
from vigil.web.body import read_capped

log = logging.getLogger(__name__)

PATH = "/otlp/v1/traces"


@dataclass(frozen=True, slots=True)
class TraceLimits:
    """Bounds on one request, before and after decompression, and on its spans."""

    max_body_bytes: int = 20 << 20
    max_decoded_bytes: int = 20 << 20
    span: SpanLimits = field(default_factory=SpanLimits)


@dataclass(frozen=True, slots=True)
class Stored:
    """What one request stored: spans refused (by the decoder or the store) and why."""

    accepted: int
    rejected: int
    message: str


class OTLPTraces:
    def __init__(
        self,
        appender: Callable[[], SpanAppender],
        limits: TraceLimits = TraceLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._appender = appender
        self.limits = limits
        self._refusals = StorageRefusals(clock, "OTLP traces")

    def routes(self, path: str = PATH) -> Sequence[BaseRoute]:
        return [Route(path, self.export, methods=["POST"])]

    async def export(self, request: Request) -> Response:
        try:
            kind = media_type(request.headers.get("content-type", ""))
        except WriteRejected as err:
            return self._refuse(request, JSON, err)
        body = await read_capped(request, self.limits.max_body_bytes)
        if body is None:
            limit = self.limits.max_body_bytes
            return self._refuse(
                request, kind, WriteRejected(413, f"body of more than {limit} bytes (the limit)")
            )
        encoding = request.headers.get("content-encoding", "")
        try:
            stored = await run_in_threadpool(self.store, body, encoding, kind)
        except WriteRejected as err:
            return self._refuse(request, kind, err)
        except StorageNotReady as err:
            return _retry_later(kind, f"span store not ready: {err.status}")
        except OSError as err:  # nothing of the request was stored: the exporter retries
            return _retry_later(kind, self.refused(err))
        if stored.message:
            log.warning("OTLP traces from %s: %s", _client(request), stored.message)
        return Response(encode_response(kind, stored.rejected, stored.message), media_type=kind)

    def store(self, body: bytes, encoding: str, kind: str) -> Stored:
        """Decode and store one request's body (blocking: call it off the event loop); raises
        WriteRejected for a body refused whole, StorageNotReady or OSError when the store
        cannot take it (nothing stored)."""
        raw = decompress(body, encoding, self.limits.max_decoded_bytes)
        columns = SpanColumns(self.limits.span)
        decode(raw, kind, columns)
        spans = columns.spans()
        message = columns.message()
        if not len(spans):
            return Stored(0, columns.refused_count(), message)
        result = self._appender().append(spans)
        rejected = columns.refused_count() + result.rejected
        return Stored(
            result.accepted, rejected, "; ".join(m for m in (message, result.message) if m)
        )

    def export_protobuf(self, body: bytes) -> bytes:
        """One OTLP/gRPC export (blocking): the ExportTraceServiceResponse; raises as `store`."""
        stored = self.store(body, "", PROTOBUF)
        if stored.message:
            log.warning("OTLP/gRPC traces: %s", stored.message)
        return encode_response(PROTOBUF, stored.rejected, stored.message)

    def refused(self, err: OSError) -> str:
        """Why a request the store could not write is refused (logged at most once a minute)."""
        return self._refusals.note(err)

    def _refuse(self, request: Request, kind: str, err: WriteRejected) -> Response:
        log.warning("OTLP traces from %s refused: %s", _client(request), err.message)
        return Response(encode_status(kind, err.status, err.message), err.status, media_type=kind)


def _retry_later(kind: str, message: str) -> Response:
    return Response(
        encode_status(kind, 503, message),
        503,
        headers={"Retry-After": str(RETRY_AFTER_S)},
        media_type=kind,
    )


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "?"
