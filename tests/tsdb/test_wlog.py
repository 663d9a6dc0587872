"""The write-ahead log under the metrics WAL serves any store: its own record types, framed,
group-committed, checkpointed and replayed in write order, a torn tail dropped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from vigil.tsdb.wlog import WAL, WALCorruptionError, list_segments, repair, replay_log

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


def test_repair_at_replay_keeps_what_repair_keeps_even_in_a_checkpoint(tmp_path: Path) -> None:
    """A bad record in the checkpoint drops the rest of it and every segment after it."""
    wal = WAL(tmp_path / "live", segment_size=64, fsync="never")
    wal.log([b"\x07one"])
    upto = wal.cut_segment()
    wal.write_checkpoint(upto, [b"\x07kept", b"\x07flipped", b"\x07lost"])
    wal.log([b"\x07after"])
    wal.close()
    (checkpoint,) = (tmp_path / "live").glob("checkpoint.*/*")
    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the second record
    checkpoint.write_bytes(bytes(data))
    shutil.copytree(tmp_path / "live", tmp_path / "copy")

    found: list[bytes] = []
    stats = replay_log(tmp_path / "live", TYPES, lambda p: found.append(bytes(p)), repair=True)
    assert found == [b"\x07kept"]
    assert stats.repaired is not None
    assert (stats.repaired.path, stats.repaired.dropped_records) == (checkpoint, 2)
    assert repair(tmp_path / "copy", TYPES, lambda p: None, apply=True) is not None
    assert _replayed(tmp_path / "copy") == _replayed(tmp_path / "live") == [b"\x07kept"]
    assert [p.name for p in list_segments(tmp_path / "live")] == []


def test_records_after_a_zeroed_stretch_are_found_and_counted(tmp_path: Path) -> None:
    wal = WAL(tmp_path, fsync="never")
    for i in range(6):
        wal.log([b"\x07" + bytes([i]) * 1000])
    wal.close()
    (segment,) = list_segments(tmp_path)
    data = bytearray(segment.read_bytes())
    record = len(data) // 6
    data[record : 3 * record + 500] = bytes(2 * record + 500)  # records 1, 2 and half of 3
    segment.write_bytes(bytes(data))
    found: list[bytes] = []
    stats = replay_log(tmp_path, TYPES, lambda p: found.append(bytes(p)), repair=True)
    assert found == [b"\x07" + bytes(1000)]
    assert stats.repaired is not None
    assert (stats.repaired.offset, stats.repaired.reason) == (record, "zero record length")
    assert stats.repaired.dropped_records == 2  # records 4 and 5 were readable
