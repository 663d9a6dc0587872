"""The WAL watcher remote_write reads with: where it starts, how it follows segments, and
what it does with torn records and positions that no longer fit the WAL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vigil.model import Labels
from vigil.remote.watcher import Position, WALWatcher
from vigil.tsdb.wal import encode_samples, encode_series
from vigil.tsdb.wlog import WAL, frame

SERIES = [(1, Labels.from_dict({"__name__": "a"})), (2, Labels.from_dict({"__name__": "b"}))]


def _samples(t: int) -> bytes:
    refs = np.array([1, 2], dtype=np.int64)
    return encode_samples(refs, np.array([t, t], dtype=np.int64), np.array([1.0, 2.0]))


def _read_all(watcher: WALWatcher) -> list[int]:
    return [int(t) for record in watcher.read(1_000_000) for t in record.ts[:1]]


def _wal(tmp_path: Path, times: list[int], cut_after: int | None = None) -> Path:
    wal = WAL(tmp_path / "wal")
    wal.log([encode_series(SERIES)])
    for i, t in enumerate(times):
        wal.log([_samples(t)])
        if cut_after is not None and i == cut_after:
            wal.cut_segment()
    wal.close()
    return tmp_path / "wal"


@pytest.mark.parametrize(
    ("name", "start", "want"),
    [
        ("new queue starts at the end", None, []),
        ("saved position at the start", Position(0, 0), [10, 20, 30]),
        ("position past the end of the WAL", Position(7, 0), [30]),
        ("offset past a truncated segment", Position(1, 10_000), [30]),
    ],
)
def test_start_positions(
    tmp_path: Path, name: str, start: Position | None, want: list[int]
) -> None:
    wal_dir = _wal(tmp_path, [10, 20, 30], cut_after=1)
    series: list[tuple[int, Labels]] = []
    watcher = WALWatcher(wal_dir, series.extend, start)
    assert (_read_all(watcher), sorted(set(series))) == (want, SERIES), name


def test_follows_new_records_and_segments(tmp_path: Path) -> None:
    wal_dir = _wal(tmp_path, [10])
    watcher = WALWatcher(wal_dir, lambda _: None, Position(0, 0))
    assert _read_all(watcher) == [10]
    wal = WAL(wal_dir)  # a restarted writer starts segment 1
    wal.log([_samples(20)])
    wal.cut_segment()
    wal.log([_samples(30)])
    assert (_read_all(watcher), watcher.position.segment) == ([20, 30], 2)
    wal.close()


def test_waits_for_a_record_being_written_and_skips_a_torn_one_once_a_segment_follows(
    tmp_path: Path,
) -> None:
    wal_dir = _wal(tmp_path, [10])
    segment = wal_dir / "00000000"
    whole = frame(_samples(20))
    with segment.open("ab") as handle:
        handle.write(whole[:-5])  # the writer is in the middle of it
    watcher = WALWatcher(wal_dir, lambda _: None, Position(0, 0))
    assert _read_all(watcher) == [10]
    (wal_dir / "00000001").write_bytes(frame(_samples(30)))  # never completed: torn
    assert (_read_all(watcher), watcher.position) == ([30], Position(1, len(frame(_samples(30)))))


@pytest.mark.parametrize("content", ["", "{", '{"segment": "x"}', "[]"])
def test_unreadable_position_file_is_ignored(tmp_path: Path, content: str) -> None:
    path = tmp_path / "position.json"
    path.write_text(content)
    assert Position.load(path) is None


def test_position_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "q" / "position.json"
    Position(3, 1234).save(path)
    assert Position.load(path) == Position(3, 1234)
