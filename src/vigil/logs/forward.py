"""Scale-out for logs: forward what the log store takes to an external Loki-push endpoint
(Loki, VictoriaLogs, Grafana Cloud) from the store's WAL, as remote_write does for samples.

The forwarder follows the WAL (`tsdb.wlog_follow`): stream records name the refs, every
entries record (one accepted push) is sent as Loki push JSON in batches. The position of the
oldest record not yet delivered is saved after each delivered batch, so an outage of the far
end or a restart resends from the WAL: at least once, nothing acknowledged is lost while the
WAL still holds it (a far end down for longer than the WAL keeps records loses what was
checkpointed away, with a warning, as remote_write does). A 429 or 5xx is retried with a
back-off; another 4xx drops the batch, counted, as Promtail does.
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
import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.config.http import HTTPClientConfig
from vigil.config.http_client import sync_client
from vigil.logs.wal import ENTRIES, RECORD_TYPES, STREAMS, Piece, decode_entries, decode_streams
from vigil.model import Labels
from vigil.tsdb.wlog_follow import Position, Record, WALFollower

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ForwardOptions:
    url: str
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    batch_lines: int = 20_000
    timeout_s: float = 30.0
    max_backoff_s: float = 60.0
    interval_s: float = 1.0


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.sent = Counter(
            "vigil_logs_forwarded_lines",
            "Log lines the forward endpoint accepted.",
            registry=registry,
        )
        self.dropped = Counter(
            "vigil_logs_forward_dropped_lines",
            "Log lines the forward endpoint refused for good (a 4xx other than 429).",
            registry=registry,
        )
        self.failures = Counter(
            "vigil_logs_forward_failures", "Failed forward pushes (retried).", registry=registry
        )
        self.lag = Gauge(
            "vigil_logs_forward_wal_segment_lag",
            "WAL segments between the forwarder's position and the newest one.",
            registry=registry,
        )


class LogForwarder:
    def __init__(
        self,
        wal_dir: Path,
        position_file: Path,
        options: ForwardOptions,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._options = options
        self._position_file = position_file
        self._clock = clock
        self._metrics = _Metrics(registry)
        self._streams: dict[int, Labels] = {}
        self._follower = WALFollower(
            wal_dir,
            RECORD_TYPES,
            frozenset({STREAMS}),
            self._on_streams,
            Position.load(position_file),
            "logs forward",
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

    def _on_streams(self, payload: memoryview) -> None:
        for ref, labels in decode_streams(payload):
            self._streams[ref] = labels

    def tick(self) -> int:
        """One round: send what the WAL gained (one batch); lines delivered."""
        now = self._clock()
        if now < self._next_attempt:
            return 0
        start = self._follower.position
        batches = self._follower.read(self._options.batch_lines, _entries)
        groups = [group for batch in batches for group in batch]
        if not groups:
            self._save(start)
            return 0
        lines = sum(len(piece) for _, piece in groups)
        outcome = self._push(groups)
        if outcome == "retry":
            self._follower.position = start
            self._metrics.failures.inc()
            self._backoff = min(self._options.max_backoff_s, max(1.0, self._backoff * 2))
            self._next_attempt = now + self._backoff
            return 0
        self._backoff = 0.0
        if outcome == "dropped":
            self._metrics.dropped.inc(lines)
        else:
            self._metrics.sent.inc(lines)
        self._save(self._follower.position)
        return lines if outcome == "sent" else 0

    def _save(self, position: Position) -> None:
        if position != self._saved or not self._position_file.exists():
            position.save(self._position_file)
            self._saved = position

    def _push(self, groups: list[tuple[int, Piece]]) -> str:
        body = gzip.compress(_push_body(groups, self._streams), compresslevel=1)
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        try:
            response = self._client.post(self._options.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return self._failed(f"{type(err).__name__}: {err}", retry=True)
        if response.is_success:
            self.last_error = ""
            return "sent"
        reason = f"HTTP {response.status_code}: {response.text[:300].strip()}"
        retry = response.status_code == 429 or response.status_code >= 500
        return self._failed(reason, retry)

    def _failed(self, reason: str, retry: bool) -> str:
        if reason != self.last_error:
            log.warning("forwarding logs to %s failed: %s", self._options.url, reason)
        self.last_error = reason
        return "retry" if retry else "dropped"

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-logs-forward", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.tick()
            except (OSError, ValueError) as err:  # the WAL went away under us, a bad record
                log.error("forwarding logs failed: %s", err)
                sent = 0
            if not sent:
                self._stop.wait(self._options.interval_s)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._client.close()


def _entries(record: Record) -> tuple[list[tuple[int, Piece]], int]:
    if record.payload[0] != ENTRIES:
        return [], 0
    groups = decode_entries(record.payload)
    return groups, sum(len(piece) for _, piece in groups)


def _push_body(groups: list[tuple[int, Piece]], streams: dict[int, Labels]) -> bytes:
    by_stream: dict[int, list[list[object]]] = {}
    for ref, piece in groups:
        values = by_stream.setdefault(ref, [])
        meta = piece.metadata
        for i, (t, line) in enumerate(zip(piece.timestamps.tolist(), piece.lines, strict=True)):
            value: list[object] = [str(t), line.decode("utf-8", "replace")]
            if meta is not None and meta[i]:
                value.append(dict(meta[i]))
            values.append(value)
    return orjson.dumps(
        {
            "streams": [
                {"stream": dict(streams.get(ref, Labels())), "values": values}
                for ref, values in by_stream.items()
            ]
        }
    )
