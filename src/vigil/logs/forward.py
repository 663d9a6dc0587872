"""Scale-out for logs: forward what the log store takes to an external Loki-push endpoint
(Loki, VictoriaLogs, Grafana Cloud) from the store's WAL (`logs.wal_forward`), as
remote_write does for samples: stream records name the refs, every entries record (one
accepted push) is sent as Loki push JSON in batches. A 429 or 5xx is retried with a
back-off; another 4xx drops the batch, counted, as Promtail does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
from prometheus_client import CollectorRegistry

from vigil.config.http import HTTPClientConfig
from vigil.logs.wal import ENTRIES, RECORD_TYPES, STREAMS, Piece, decode_entries, decode_streams
from vigil.logs.wal_forward import ForwardCounters, Forwarded, WALForwarder
from vigil.model import Labels
from vigil.tsdb.wlog_follow import Record


@dataclass(frozen=True, slots=True)
class ForwardOptions:
    url: str
    http: HTTPClientConfig = field(default_factory=HTTPClientConfig)
    batch_lines: int = 20_000
    timeout_s: float = 30.0
    max_backoff_s: float = 60.0
    interval_s: float = 1.0


class LogForwarder(WALForwarder[list[tuple[int, Piece]]]):
    def __init__(
        self,
        wal_dir: Path,
        position_file: Path,
        options: ForwardOptions,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._streams: dict[int, Labels] = {}
        forwarded = Forwarded(
            noun="logs",
            thread="vigil-logs-forward",
            record_types=RECORD_TYPES,
            decode=_entries,
            body=self._push_body,
            content_type="application/json",
            retryable=lambda status: status == 429 or status >= 500,
            index_types=frozenset({STREAMS}),
            on_index=self._on_streams,
        )
        counters = ForwardCounters.register(
            registry, "logs", "lines", "Log lines", "a 4xx other than 429", "pushes"
        )
        super().__init__(
            wal_dir,
            position_file,
            forwarded,
            options,
            options.batch_lines,
            counters,
            clock,
            transport,
        )

    def _on_streams(self, payload: memoryview) -> None:
        for ref, labels in decode_streams(payload):
            self._streams[ref] = labels

    def _push_body(self, batches: list[list[tuple[int, Piece]]]) -> bytes:
        return _push_body([group for batch in batches for group in batch], self._streams)


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
