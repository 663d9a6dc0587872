"""A push being decoded: entries gathered per stream, then handed to the store as `Entries`
(sorted by time, as the seam requires), together with what the decoder itself refused."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from vigil.logs._api import Discarded, Entries, Lines, LogAppender, PushResult
from vigil.logs.ingest.discovery import Discovery
from vigil.logs.lines import concat_lines, gather_lines
from vigil.model import Labels
from vigil.model.labels import is_legacy_label_name


class IngestRejected(Exception):
    """A request refused whole (nothing of it stored): `status` and a message for the sender."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class _Parts:
    """One stream's columns in the order they were added."""

    timestamps: list[npt.NDArray[np.int64]] = field(default_factory=list)
    lines: list[Lines] = field(default_factory=list)
    metadata: list[Labels] = field(default_factory=list)

    def entries(self, labels: Labels) -> Entries:
        stamps = np.concatenate(self.timestamps)
        lines = concat_lines(self.lines)
        meta = self.metadata
        order = np.argsort(stamps, kind="stable")
        if not np.array_equal(order, np.arange(len(order))):
            stamps, lines = stamps[order], gather_lines(lines, order)
            meta = [meta[i] for i in order.tolist()]
        return Entries(labels, stamps, lines, tuple(meta) if any(meta) else None)


@dataclass(frozen=True, slots=True)
class Push:
    """A decoded request: the streams to store and the streams refused while decoding."""

    streams: tuple[Entries, ...]
    discarded: tuple[Discarded, ...] = ()

    def store(self, appender: LogAppender) -> PushResult:
        """Push the streams (if any); the result also names what decoding refused."""
        result = appender.push(self.streams) if self.streams else PushResult(0, 0)
        if not self.discarded:
            return result
        return PushResult(
            result.accepted_lines, result.accepted_bytes, self.discarded + result.discarded
        )


class PushBatch:
    """Entries added a stream's column at a time under their stream's labels (after Loki 3's discovery of
    `service_name` and `detected_level`); `push()` builds one `Entries` per stream."""

    def __init__(self, discovery: Discovery) -> None:
        self._discovery = discovery
        self._streams: dict[Labels, _Parts] = {}
        self._discarded: list[Discarded] = []

    def add_stream(
        self,
        labels: Labels,
        timestamps: Sequence[int],
        lines: Sequence[bytes],
        metadata: Sequence[Labels],
    ) -> Labels | None:
        """One stream's entries as sent (see `add_column`)."""
        return self.add_column(
            labels,
            np.array(timestamps, dtype=np.int64),
            Lines.of(lines),
            metadata if any(metadata) else None,
        )

    def add_column(
        self,
        labels: Labels,
        timestamps: npt.NDArray[np.int64],
        lines: Lines,
        metadata: Sequence[Labels] | None,
    ) -> Labels | None:
        """One stream's entries as columns (`metadata` None: no line has any); returns the
        labels they are stored under. A stream without labels or with a name Loki refuses is
        discarded (Loki's `missing_labels`, `invalid_labels`; None is returned), the rest of
        the push kept."""
        problem = _label_problem(labels)
        if problem is not None:
            reason, message = problem
            self._discarded.append(Discarded(reason, labels, len(lines), len(lines.data), message))
            return None
        stream = self._discovery.stream_labels(labels)
        parts = self._streams.get(stream)
        if parts is None:
            parts = self._streams[stream] = _Parts()
        parts.timestamps.append(timestamps)
        parts.lines.append(lines)
        parts.metadata.extend(self._discovery.entries_metadata(stream, lines, metadata))
        return stream

    def last_problem(self) -> str:
        """Why the last discarded stream was discarded."""
        return self._discarded[-1].message if self._discarded else ""

    def push(self) -> Push:
        streams = tuple(parts.entries(labels) for labels, parts in self._streams.items())
        return Push(streams, tuple(self._discarded))


MISSING_LABELS = "error at least one label pair is required per stream"


def _label_problem(labels: Labels) -> tuple[str, str] | None:
    if not labels:
        return "missing_labels", MISSING_LABELS
    for name in labels.names():
        if not is_legacy_label_name(name):
            return (
                "invalid_labels",
                f"error parsing labels '{labels}' with error: invalid label name {name!r} "
                "(a label name is [a-zA-Z_][a-zA-Z0-9_]*)",
            )
    return None
