"""Loki's push API: `POST /loki/api/v1/push` (JSON v1 or protobuf + snappy) and the legacy
`POST /api/prom/push` (legacy JSON or protobuf). JSON when the Content-Type says so, protobuf
otherwise, as Loki decides; gzip or deflate Content-Encoding on either. 204 when everything
was stored; 400 or 429 with Loki's error text when some entries were not (the others are
stored); `X-Scope-OrgID` is accepted and ignored (one tenant)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from vigil.logs import LogAppender
from vigil.logs.ingest import loki_json, loki_proto
from vigil.logs.ingest.batch import Push
from vigil.logs.ingest.discovery import Discovery, DiscoveryOptions
from vigil.web.ingest.endpoint import IngestEndpoint, IngestLimits, refusal_text

PUSH_PATH = "/loki/api/v1/push"
LEGACY_PUSH_PATH = "/api/prom/push"
_JSON = "application/json"
_DISCOVERY = DiscoveryOptions()
_LIMITS = IngestLimits()


class LokiPush:
    def __init__(
        self,
        appender: Callable[[], LogAppender],
        discovery: DiscoveryOptions = _DISCOVERY,
        limits: IngestLimits = _LIMITS,
    ) -> None:
        self._endpoint = IngestEndpoint(appender, "Loki push", limits)
        self._discovery = Discovery(discovery)

    def routes(self) -> Sequence[BaseRoute]:
        return [
            Route(PUSH_PATH, self.push, methods=["POST"]),
            Route(LEGACY_PUSH_PATH, self.push_legacy, methods=["POST"]),
        ]

    async def push(self, request: Request) -> Response:
        return await self._push(request, loki_json.decode_v1)

    async def push_legacy(self, request: Request) -> Response:
        return await self._push(request, loki_json.decode_legacy)

    async def _push(
        self, request: Request, decode_json: Callable[[bytes, Discovery], Push]
    ) -> Response:
        content_type = request.headers.get("content-type", "")
        discovery = self._discovery
        limit = self._endpoint.limits.max_decoded_bytes
        is_json = content_type.partition(";")[0].strip().lower() == _JSON

        def decoder(raw: bytes) -> Push:
            if is_json:
                return decode_json(raw, discovery)
            return loki_proto.decode(raw, discovery, limit)

        result = await self._endpoint.store(request, decoder)
        if isinstance(result, Response):
            return result
        status = result.status()
        if status == 204:
            return Response(status_code=204)
        return PlainTextResponse(refusal_text(result), status_code=status)
