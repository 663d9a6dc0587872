"""`POST /otlp/v1/logs`: OTLP/HTTP logs (protobuf or JSON, gzip or not), the path Loki serves
and OpenTelemetry SDKs and collectors send to (`endpoint: http://vigil:9090/otlp`). 200 with an
`ExportLogsServiceResponse` in the request's encoding when everything was stored; 400 or 429
naming what was not (the rest is stored), 503 with Retry-After when the store cannot write."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.logs import LogAppender
from vigil.logs.ingest import otlp
from vigil.logs.ingest.batch import Push
from vigil.logs.ingest.discovery import Discovery, DiscoveryOptions
from vigil.remote.otlp.decode import media_type
from vigil.remote.receiver import WriteRejected
from vigil.web.ingest.endpoint import IngestEndpoint, IngestLimits, refusal_text

PATH = "/otlp/v1/logs"
_DISCOVERY = DiscoveryOptions()
_LIMITS = IngestLimits()


class OTLPLogs:
    def __init__(
        self,
        appender: Callable[[], LogAppender],
        discovery: DiscoveryOptions = _DISCOVERY,
        limits: IngestLimits = _LIMITS,
        now_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._endpoint = IngestEndpoint(appender, "OTLP logs", limits)
        self._discovery = Discovery(discovery)
        self._now_ns = now_ns

    def routes(self, path: str = PATH) -> Sequence[BaseRoute]:
        return [Route(path, self.push, methods=["POST"])]

    def export_protobuf(self, body: bytes) -> bytes:
        """One OTLP/gRPC export (blocking): the (empty) ExportLogsServiceResponse, or
        WriteRejected with the status and text the HTTP route would answer."""
        discovery, now_ns = self._discovery, self._now_ns
        result = self._endpoint.decode_and_store(
            body, "", lambda raw: otlp.decode(raw, otlp.PROTOBUF, discovery, now_ns)
        )
        status = result.status()
        if status != 204:
            raise WriteRejected(status, refusal_text(result))
        return b""

    async def push(self, request: Request) -> Response:
        content_type = request.headers.get("content-type", "")
        discovery, now_ns = self._discovery, self._now_ns

        def decoder(raw: bytes) -> Push:
            return otlp.decode(raw, media_type(content_type), discovery, now_ns)

        result = await self._endpoint.store(request, decoder)
        if isinstance(result, Response):
            return result
        status = result.status()
        if status != 204:
            return PlainTextResponse(refusal_text(result), status_code=status)
        kind = media_type(content_type)
        return Response(b"" if kind == otlp.PROTOBUF else b"{}", media_type=kind)
