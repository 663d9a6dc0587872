"""What a LogQL query answers: streams of lines for a log query, a matrix (range query) or a
vector/scalar (instant query) for a metric query, each with Loki-style statistics."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from vigil.model import Labels
from vigil.promql.value import Matrix, Scalar, Vector


class Direction(enum.Enum):
    FORWARD = "forward"
    BACKWARD = "backward"


@dataclass(frozen=True, slots=True)
class Stream:
    """One result stream: entries in the query's direction (newest first for backward)."""

    labels: Labels
    timestamps: npt.NDArray[np.int64]  # Unix ns
    lines: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Streams:
    streams: tuple[Stream, ...]

    def entries(self) -> int:
        return sum(len(s.lines) for s in self.streams)


LogQLValue = Streams | Matrix | Vector | Scalar


@dataclass(frozen=True, slots=True)
class QueryStats:
    """Loki's `stats.summary` figures for one query."""

    lines_processed: int = 0
    bytes_processed: int = 0
    entries_returned: int = 0
    exec_time_s: float = 0.0
    queue_time_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        elapsed = self.exec_time_s or 1e-9
        return {
            "bytesProcessedPerSecond": int(self.bytes_processed / elapsed),
            "linesProcessedPerSecond": int(self.lines_processed / elapsed),
            "totalBytesProcessed": self.bytes_processed,
            "totalLinesProcessed": self.lines_processed,
            "execTime": self.exec_time_s,
            "queueTime": self.queue_time_s,
            "subqueries": 0,
            "totalEntriesReturned": self.entries_returned,
            "splits": 0,
            "shards": 0,
            "totalPostFilterLines": self.entries_returned,
            "totalStructuredMetadataBytesProcessed": 0,
        }


@dataclass(frozen=True, slots=True)
class LogQLResult:
    value: LogQLValue
    stats: QueryStats
