"""Scale-out for traces: forward what the span store takes to an external OTLP/HTTP traces
endpoint (Tempo, Jaeger, an OpenTelemetry collector: e.g. http://tempo:4318/v1/traces) from
the store's WAL (`logs.wal_forward`), as the log forwarder does for lines: every spans record
(one accepted export) is decoded and sent as an `ExportTraceServiceRequest` (protobuf, gzip),
batched up to `batch_spans`. OTLP's retryable answers (429, 502, 503, 504) and connection
errors are retried with a back-off; another 4xx or 5xx drops the batch, counted, as OTLP
exporters do.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry

from vigil.config.http import HTTPClientConfig
from vigil.logs.wal_forward import ForwardCounters, Forwarded, WALForwarder
from vigil.traces._api import Spans
from vigil.traces.block_page import decode_page
from vigil.traces.wal import RECORD_TYPES, SPANS
from vigil.tsdb.wlog_follow import Record

_RETRYABLE = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class SpanForwardOptions:
    url: str
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    batch_spans: int = 8192
    timeout_s: float = 30.0
    max_backoff_s: float = 60.0
    interval_s: float = 1.0


class SpanForwarder(WALForwarder[Spans]):
    def __init__(
        self,
        wal_dir: Path,
        position_file: Path,
        options: SpanForwardOptions,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        forwarded = Forwarded(
            noun="spans",
            thread="vigil-traces-forward",
            record_types=RECORD_TYPES,
            decode=_spans,
            body=_export_request,
            content_type="application/x-protobuf",
            retryable=_RETRYABLE.__contains__,
        )
        counters = ForwardCounters.register(
            registry, "traces", "spans", "Spans", "an answer OTLP does not retry", "exports"
        )
        super().__init__(
            wal_dir,
            position_file,
            forwarded,
            options,
            options.batch_spans,
            counters,
            clock,
            transport,
        )


def _export_request(batches: list[Spans]) -> bytes:
    from vigil.traces.otlp_encode import export_request

    return export_request(batches)


def _spans(record: Record) -> tuple[Spans, int]:
    if record.payload[0] != SPANS:
        return Spans.empty(), 0
    spans = decode_page(record.payload[1:])
    return spans, len(spans)
