"""`POST /otlp/v1/logs`: OTLP/HTTP logs (protobuf or JSON, gzip or not), the path Loki serves
and OpenTelemetry SDKs and collectors send to (`endpoint: http://vigil:9090/otlp`), answered as
every OTLP receiver is (remote.otlp.export). Records the store refuses beside others it keeps
are counted in `partial_success` with Loki's reasons; a request refused whole is a
`google.rpc.Status`: 429 with Retry-After when a rate or stream limit refused it, 400 when its
records were refused for what they hold (too old, too long, bad labels)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.logs import LogAppender
from vigil.logs.ingest import otlp
from vigil.logs.ingest.batch import IngestRejected
from vigil.logs.ingest.discovery import Discovery, DiscoveryOptions
from vigil.remote.otlp.export import Exported, ExportLimits, OTLPExport
from vigil.remote.receiver import WriteRejected
from vigil.web.ingest.endpoint import IngestLimits, refusal_lines

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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._appender = appender
        self._discovery = Discovery(discovery)
        self._now_ns = now_ns
        self._export = OTLPExport(
            "OTLP logs",
            "log store",
            self._store,
            otlp.encode_response,
            ExportLimits(limits.max_body_bytes, limits.max_decoded_bytes),
            clock,
        )

    def routes(self, path: str = PATH) -> Sequence[BaseRoute]:
        return [Route(path, self.push, methods=["POST"])]

    async def push(self, request: Request) -> Response:
        return await self._export.handle(request)

    def export_protobuf(self, body: bytes) -> bytes:
        """One OTLP/gRPC export (blocking): the ExportLogsServiceResponse."""
        return self._export.export_protobuf(body)

    def _store(self, raw: bytes, kind: str) -> Exported:
        try:
            result = otlp.decode(raw, kind, self._discovery, self._now_ns).store(self._appender())
        except IngestRejected as err:
            raise WriteRejected(err.status, err.message) from None
        if not result.discarded:
            return Exported()
        message = "; ".join(refusal_lines(result))
        if not result.accepted_lines:
            raise WriteRejected(result.status(), message)
        return Exported(sum(d.lines for d in result.discarded), message)
