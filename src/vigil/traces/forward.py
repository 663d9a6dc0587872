"""Scale-out for traces: forward what the span store takes to an external OTLP/HTTP traces
endpoint (Tempo, Jaeger, an OpenTelemetry collector: e.g. http://tempo:4318/v1/traces) from
the store's WAL, as the log forwarder does for lines and remote_write for samples.

The forwarder follows the WAL (`tsdb.wlog_follow`); every spans record (one accepted export) is
decoded and sent as an `ExportTraceServiceRequest` (protobuf, gzip), batched up to
`batch_spans`. The position of the oldest record not yet delivered is saved after each
delivered batch, so an outage of the far end or a restart resends from the WAL: at least once,
nothing acknowledged is lost while the WAL holds it. OTLP's retryable answers (429, 502, 503,
504) and connection errors are retried with a back-off; another 4xx or 5xx drops the batch,
counted, as OTLP exporters do.
"""

from __future__ import annotations

import gzip
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client import CollectorRegistry, Counter

from vigil.config.http import HTTPClientConfig
from vigil.config.http_client import sync_client
from vigil.traces._api import Spans
from vigil.traces.block_page import decode_page
from vigil.traces.wal import RECORD_TYPES, SPANS
from vigil.tsdb.wlog_follow import Position, Record, WALFollower

log = logging.getLogger(__name__)

_RETRYABLE = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class SpanForwardOptions:
    url: str
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    batch_spans: int = 8192
    timeout_s: float = 30.0
    max_backoff_s: float = 60.0
    interval_s: float = 1.0


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "vigil_traces_forwarded_spans",
            "Spans the forward endpoint accepted.",
            registry=registry,
        )
        self.dropped = Counter(
            "vigil_traces_forward_dropped_spans",
            "Spans the forward endpoint refused for good (an answer OTLP does not retry).",
            registry=registry,
        )
        self.failures = Counter(
            "vigil_traces_forward_failures", "Failed forward exports (retried).", registry=registry
        )


class SpanForwarder:
    def __init__(
        self,
        wal_dir: Path,
        position_file: Path,
        options: SpanForwardOptions,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._options = options
        self._position_file = position_file
        self._clock = clock
        self._metrics = _Metrics(registry)
        self._follower = WALFollower(
            wal_dir,
            RECORD_TYPES,
            frozenset(),
            lambda _: None,
            Position.load(position_file),
            "traces forward",
        )
        self._client = sync_client(
            options.http,
            timeout=options.timeout_s,
            headers={"User-Agent": "vigil"},
            transport=transport,
        )
        self._saved = self._follower.position
        self._backoff = 0.0
        self._next_attempt = 0.0
        self.last_error = ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> int:
        """One round: send what the WAL gained (one batch); spans delivered."""
        now = self._clock()
        if now < self._next_attempt:
            return 0
        start = self._follower.position
        batches = [b for b in self._follower.read(self._options.batch_spans, _spans) if len(b)]
        if not batches:
            self._save(start)
            return 0
        spans = sum(len(batch) for batch in batches)
        outcome = self._export(batches)
        if outcome == "retry":
            self._follower.position = start
            self._metrics.failures.inc()
            self._backoff = min(self._options.max_backoff_s, max(1.0, self._backoff * 2))
            self._next_attempt = now + self._backoff
            return 0
        self._backoff = 0.0
        (self._metrics.sent if outcome == "sent" else self._metrics.dropped).inc(spans)
        self._save(self._follower.position)
        return spans if outcome == "sent" else 0

    def _save(self, position: Position) -> None:
        if position != self._saved or not self._position_file.exists():
            position.save(self._position_file)
            self._saved = position

    def _export(self, batches: list[Spans]) -> str:
        from vigil.traces.otlp_encode import export_request

        body = gzip.compress(export_request(batches), compresslevel=1)
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        try:
            response = self._client.post(self._options.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return self._failed(f"{type(err).__name__}: {err}", retry=True)
        if response.is_success:
            self.last_error = ""
            return "sent"
        reason = f"HTTP {response.status_code}: {response.text[:300].strip()}"
        return self._failed(reason, response.status_code in _RETRYABLE)

    def _failed(self, reason: str, retry: bool) -> str:
        if reason != self.last_error:
            log.warning("forwarding spans to %s failed: %s", self._options.url, reason)
        self.last_error = reason
        return "retry" if retry else "dropped"

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-traces-forward", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.tick()
            except (OSError, ValueError) as err:  # the WAL went away under us, a bad record
                log.error("forwarding spans failed: %s", err)
                sent = 0
            if not sent:
                self._stop.wait(self._options.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._client.close()


def _spans(record: Record) -> tuple[Spans, int]:
    if record.payload[0] != SPANS:
        return Spans.empty(), 0
    spans = decode_page(record.payload[1:])
    return spans, len(spans)
