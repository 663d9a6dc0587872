"""`POST /api/v2/spans`: Zipkin v2 JSON spans (gzip or not), on the main port and on
--zipkin.listen-address (Zipkin's :9411), so a Zipkin reporter's URL only changes its host.
Answered as Zipkin answers: 202 with no body when taken, a plain-text 400 naming what is
wrong, 413 beyond the size limit, 415 for other encodings (Zipkin's protobuf and Thrift are not
taken), 503 with Retry-After when the span store cannot write. Spans refused one by one (no
timestamp, invalid ids) are logged: Zipkin's answer has no place for them."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.remote.otlp.decode import decompress
from vigil.remote.receiver import StorageRefusals, WriteRejected, retry_later
from vigil.traces import SpanAppender
from vigil.traces.otlp_columns import SpanColumns
from vigil.traces.zipkin import decode_zipkin
from vigil.tsdb import StorageNotReady
from vigil.web.body import read_capped
from vigil.web.ingest.otlp_traces import TraceLimits

log = logging.getLogger(__name__)

PATH = "/api/v2/spans"
_JSON = ("", "application/json", "text/plain")
_LIMITS = TraceLimits()


class ZipkinSpans:
    def __init__(
        self,
        appender: Callable[[], SpanAppender],
        limits: TraceLimits = _LIMITS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._appender = appender
        self._limits = limits
        self._refusals = StorageRefusals(clock, "Zipkin spans")

    def routes(self) -> Sequence[BaseRoute]:
        return [Route(PATH, self.post, methods=["POST"])]

    async def post(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() not in _JSON:
            return self._refuse(
                request,
                415,
                f"unsupported content type {content_type}: send Zipkin v2 spans as "
                "application/json",
            )
        body = await read_capped(request, self._limits.max_body_bytes)
        if body is None:
            return self._refuse(
                request, 413, f"body of more than {self._limits.max_body_bytes} bytes (the limit)"
            )
        encoding = request.headers.get("content-encoding", "")
        try:
            message = await run_in_threadpool(self._decode_and_store, body, encoding)
        except WriteRejected as err:
            return self._refuse(request, err.status, err.message)
        except StorageNotReady as err:
            return retry_later(f"span store not ready: {err.status}")
        except OSError as err:  # nothing of the request was stored: the reporter retries
            return self._refusals.refused(err)
        if message:
            log.warning("Zipkin spans from %s: %s", _client(request), message)
        return Response(status_code=202)

    def _decode_and_store(self, body: bytes, encoding: str) -> str:
        raw = decompress(body, encoding, self._limits.max_decoded_bytes)
        columns = SpanColumns(self._limits.span)
        decode_zipkin(raw, columns)
        spans = columns.spans()
        message = columns.message()
        if not len(spans):
            return message
        result = self._appender().append(spans)
        return "; ".join(m for m in (message, result.message) if m)

    def _refuse(self, request: Request, status: int, message: str) -> Response:
        log.warning("Zipkin spans from %s refused: %s", _client(request), message)
        return PlainTextResponse(message, status_code=status)


def _client(request: Request) -> str:
    return f"{request.client.host}:{request.client.port}" if request.client else "?"
