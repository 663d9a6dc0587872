"""A log line on its way from a source on the host to a Loki-push endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from vigil.exporter.logs.tail import Position

StreamLabels = tuple[tuple[str, str], ...]


@dataclass(slots=True)
class LogEntry:
    """One entry: its stream's labels (sorted pairs), Unix ns, the line, Loki 3 structured
    metadata, and the source position just past it (committed once it is shipped)."""

    labels: StreamLabels
    ts_ns: int
    line: str
    metadata: dict[str, str] = field(default_factory=dict)
    end: Position | None = None


def stream_labels(**labels: str) -> StreamLabels:
    return tuple(sorted((k, v) for k, v in labels.items() if v))
