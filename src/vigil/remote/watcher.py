"""Follows vigil's metrics WAL for remote_write (`tsdb.wlog_follow` does the following):
series records build the ref → labels table, sample and histogram records become batches to
send. remote_write persists the position of the oldest record not yet delivered, so a restart
or an outage of the remote end resends from the WAL instead of losing samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.model import Labels
from vigil.tsdb.wal import (
    HISTOGRAMS,
    RECORD_TYPES,
    SERIES_TYPES,
    decode_histograms,
    decode_samples,
    decode_series,
)
from vigil.tsdb.wlog_follow import Position, Record, WALFollower

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
SeriesSink = Callable[[list[tuple[int, Labels]]], None]

__all__ = ["Position", "SampleRecord", "WALWatcher"]


@dataclass(frozen=True, slots=True)
class SampleRecord:
    """One WAL sample record and the position just after it; a histogram record's samples
    have NaN values and their histograms in `histograms` (as SeriesData's column)."""

    refs: I64
    ts: I64
    vs: F64
    end: Position
    histograms: npt.NDArray[np.object_] | None = None


class WALWatcher:
    """Reads records from `start` on (or from the end of the WAL), calling `on_series` for
    series records; `read()` returns the sample records that became available."""

    def __init__(self, wal_dir: Path, on_series: SeriesSink, start: Position | None) -> None:
        self.wal_dir = wal_dir
        self._follower = WALFollower(
            wal_dir,
            RECORD_TYPES,
            SERIES_TYPES,
            lambda payload: on_series(decode_series(payload)),
            start,
            "remote_write",
        )

    @property
    def position(self) -> Position:
        return self._follower.position

    @property
    def skipped_segments(self) -> int:
        return self._follower.skipped_segments

    def read(self, max_samples: int) -> list[SampleRecord]:
        """Sample records after the position, up to about max_samples; advances the position.
        Series records met on the way go to `on_series` at once."""
        return self._follower.read(max_samples, _sample_record)


def _sample_record(record: Record) -> tuple[SampleRecord, int]:
    if record.payload[0] == HISTOGRAMS:
        histograms = _histogram_record(record.payload, record.end)
        return histograms, len(histograms.refs)
    refs, ts, vs = decode_samples(record.payload)
    return SampleRecord(refs.copy(), ts.copy(), vs.copy(), record.end), len(refs)


def _histogram_record(payload: memoryview, end: Position) -> SampleRecord:
    samples = decode_histograms(payload)
    column = np.empty(len(samples), dtype=object)
    column[:] = samples.histograms
    return SampleRecord(
        np.asarray(samples.refs, dtype=np.int64),
        np.asarray(samples.timestamps, dtype=np.int64),
        np.full(len(samples), np.nan),
        end,
        column,
    )
