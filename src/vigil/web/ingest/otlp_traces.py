"""`POST /otlp/v1/traces` on the main port and `/v1/traces` on --otlp.listen-address: OTLP/HTTP
traces, protobuf or JSON, gzip or not, answered as every OTLP receiver is (remote.otlp.export):
`partial_success` counting the spans the decoder or the store refused, and why."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from vigil.remote.otlp.export import Exported, ExportLimits, OTLPExport
from vigil.traces import SpanAppender
from vigil.traces.otlp import decode, encode_response
from vigil.traces.otlp_columns import SpanColumns, SpanLimits

PATH = "/otlp/v1/traces"


@dataclass(frozen=True, slots=True)
class TraceLimits:
    """Bounds on one request, before and after decompression, and on its spans."""

    max_body_bytes: int = 20 << 20
    max_decoded_bytes: int = 20 << 20
    span: SpanLimits = field(default_factory=SpanLimits)


class OTLPTraces:
    def __init__(
        self,
        appender: Callable[[], SpanAppender],
        limits: TraceLimits = TraceLimits(),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._appender = appender
        self.limits = limits
        self._export = OTLPExport(
            "OTLP traces",
            "span store",
            self._store,
            encode_response,
            ExportLimits(limits.max_body_bytes, limits.max_decoded_bytes),
            clock,
        )

    def routes(self, path: str = PATH) -> Sequence[BaseRoute]:
        return [Route(path, self.export, methods=["POST"])]

    async def export(self, request: Request) -> Response:
        return await self._export.handle(request)

    def export_protobuf(self, body: bytes) -> bytes:
        """One OTLP/gRPC export (blocking): the ExportTraceServiceResponse."""
        return self._export.export_protobuf(body)

    def _store(self, raw: bytes, kind: str) -> Exported:
        columns = SpanColumns(self.limits.span)
        decode(raw, kind, columns)
        spans = columns.spans()
        message = columns.message()
        if not len(spans):
            return Exported(columns.refused_count(), message)
        result = self._appender().append(spans)
        rejected = columns.refused_count() + result.rejected
        return Exported(rejected, "; ".join(m for m in (message, result.message) if m))
