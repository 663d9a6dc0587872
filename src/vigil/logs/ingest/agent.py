"""The in-process agent's entries straight into the log store: what `vigil server` collects
from its own host (container logs, files) goes through the same Loki 3 discovery as a push
to `/loki/api/v1/push`, without an HTTP round trip."""

from __future__ import annotations

from collections.abc import Sequence

from vigil.exporter.logs.entry import LogEntry
from vigil.exporter.logs.outcome import Outcome
from vigil.exporter.logs.outcome import PushResult as ShipResult
from vigil.logs._api import RATE_LIMIT_REASONS, LogAppender
from vigil.logs.ingest.batch import PushBatch
from vigil.logs.ingest.discovery import Discovery
from vigil.model import Labels
from vigil.tsdb import StorageNotReady


class AppenderSink:
    """A `vigil.exporter.logs` sink over a LogAppender. A store that cannot write, or that
    refuses a batch whole for a rate or stream limit, asks the collector to retry (it keeps
    its position); entries refused for good are dropped, as a 4xx from Loki would be."""

    def __init__(self, appender: LogAppender, discovery: Discovery | None = None) -> None:
        self._appender = appender
        self._discovery = discovery or Discovery()

    def push(self, entries: Sequence[LogEntry]) -> ShipResult:
        batch = PushBatch(self._discovery)
        streams: dict[tuple[tuple[str, str], ...], list[LogEntry]] = {}
        for entry in entries:
            streams.setdefault(entry.labels, []).append(entry)
        for labels, rows in streams.items():
            batch.add_stream(
                Labels(labels),
                [e.ts_ns for e in rows],
                [e.line.encode() for e in rows],
                [Labels.from_dict(e.metadata) if e.metadata else Labels() for e in rows],
            )
        try:
            result = batch.push().store(self._appender)
        except (OSError, StorageNotReady) as err:
            return ShipResult(Outcome.RETRY, f"log store cannot write: {err}")
        if not result.discarded:
            return ShipResult(Outcome.SHIPPED)
        reasons = "; ".join(d.message for d in result.discarded)
        limited = all(d.reason in RATE_LIMIT_REASONS for d in result.discarded)
        if limited and result.accepted_lines == 0:
            return ShipResult(Outcome.RETRY, reasons)
        return ShipResult(
            Outcome.REJECTED if result.accepted_lines == 0 else Outcome.SHIPPED, reasons
        )
