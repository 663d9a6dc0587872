"""The write-ahead log under the metrics WAL serves any store: its own record types, framed,
group-committed, checkpointed and replayed in write order, a torn tail dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from vigil.tsdb.wlog import WAL, WALCorruptionError, list_segments, replay_log

LINE = 7  # a record type of another store (say, a log line)
TYPES = frozenset({LINE})


def _replayed(wal_dir: Path) -> list[bytes]:
    found: list[bytes] = []
    replay_log(wal_dir, TYPES, lambda payload: found.append(bytes(payload)))
    return found


def test_another_stores_records_replay_in_write_order_across_a_checkpoint(
    tmp_path: Path,
) -> None:
    wal = WAL(tmp_path, segment_size=64, fsync="always")
    try:
        wal.wait_durable(wal.log([b"\x07one", b"\x07two"]))
        upto = wal.cut_segment()
        wal.write_checkpoint(upto, [b"\x07kept"])
        wal.wait_durable(wal.log([b"\x07three"]))
    finally:
        wal.close()
    assert _replayed(tmp_path) == [b"\x07kept", b"\x07three"]


def test_a_torn_tail_is_dropped_and_a_foreign_record_type_is_corruption(tmp_path: Path) -> None:
    wal = WAL(tmp_path / "torn", fsync="never")
    wal.log([b"\x07whole", b"\x07torn"])
    wal.close()
    (segment,) = list_segments(tmp_path / "torn")
    segment.write_bytes(segment.read_bytes()[:-2])
    assert _replayed(tmp_path / "torn") == [b"\x07whole"]

    wal = WAL(tmp_path / "foreign", fsync="never")
    wal.log([b"\x02metrics", b"\x07line"])
    wal.close()
    with pytest.raises(WALCorruptionError, match="unknown record type 2"):
        _replayed(tmp_path / "foreign")
