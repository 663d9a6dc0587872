"""The write-ahead log under the metrics WAL serves any store: its own record types, framed,
group-committed, checkpointed and replayed in write order, a torn tail dropped."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import crc32c
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil.tsdb.wlog import (
    COMPRESSED,
    HEADER,
    WAL,
    WALCorruptionError,
    WALMetrics,
    list_segments,
    repair,
    replay_log,
)

LINE = 7  # a record type of another store (say, a log line)
TYPES = frozenset({LINE})


def _replayed(wal_dir: Path) -> list[bytes]:
    found: list[bytes] = []
    replay_log(wal_dir, TYPES, lambda payload: found.append(bytes(payload)))
    return found


def _stored(wal_dir: Path) -> list[tuple[int, bytes]]:
    """(offset, payload as stored) of each record of the WAL's one segment."""
    (segment,) = list_segments(wal_dir)
    data = segment.read_bytes()
    found, offset = [], 0
    while offset < len(data):
        length, _ = HEADER.unpack_from(data, offset)
        found.append((offset, data[offset + HEADER.size : offset + HEADER.size + length]))
        offset += HEADER.size + length
    return found


def test_records_are_stored_compressed_when_smaller_and_older_plain_ones_still_replay(
    tmp_path: Path,
) -> None:
    old = WAL(tmp_path, fsync="never", compression=False)  # as WALs were written before
    plain = [b"\x07" + bytes(1000), b"\x07short"]
    old.log(plain)
    old.close()
    (segment,) = list_segments(tmp_path)
    registry = CollectorRegistry()
    new = WAL(tmp_path, fsync="never", metrics=WALMetrics(registry))
    segment.rename(tmp_path / "00000000.old")  # one segment to look at
    later = [b"\x07" + bytes(2000), b"\x07tiny", b"\x07" + np.random.default_rng(1).bytes(500)]
    new.log(later)
    new.close()
    stored = [payload for _, payload in _stored(tmp_path)]
    assert [p[0] for p in stored] == [LINE | COMPRESSED, LINE, LINE]
    assert stored[1:] == later[1:]
    assert len(stored[0]) < 100
    saved = registry.get_sample_value("prometheus_tsdb_wal_record_bytes_saved_total")
    assert saved == len(later[0]) - len(stored[0])
    (tmp_path / "00000000.old").rename(segment)
    assert _replayed(tmp_path) == [*plain, *later]


def _garble_block(payload: bytearray) -> None:
    payload[5:] = b"\xff" * (len(payload) - 5)


def _claim_a_longer_record(payload: bytearray) -> None:
    payload[1:5] = (int.from_bytes(payload[1:5], "little") + 1).to_bytes(4, "little")


@pytest.mark.parametrize("garble", [_garble_block, _claim_a_longer_record])
def test_a_compressed_record_that_does_not_decompress_is_corrupt_and_repaired(
    tmp_path: Path, garble: Callable[[bytearray], None]
) -> None:
    """Its checksum matches (written so): only decompressing finds it; repair at replay drops
    it and what follows, as for any corrupt record."""
    wal = WAL(tmp_path, fsync="never")
    payloads = [b"\x07" + bytes([i]) * 1000 for i in range(3)]
    wal.log(payloads)
    wal.close()
    offset, stored = _stored(tmp_path)[1]
    payload = bytearray(stored)
    assert payload[0] == LINE | COMPRESSED
    garble(payload)
    (segment,) = list_segments(tmp_path)
    data = bytearray(segment.read_bytes())
    HEADER.pack_into(data, offset, len(payload), crc32c.crc32c(bytes(payload)))
    data[offset + HEADER.size : offset + HEADER.size + len(payload)] = payload
    segment.write_bytes(bytes(data))
    with pytest.raises(WALCorruptionError, match=f"at offset {offset}: record does not decode"):
        _replayed(tmp_path)
    found: list[bytes] = []
    stats = replay_log(tmp_path, TYPES, lambda p: found.append(bytes(p)), repair=True)
    assert found == payloads[:1]
    assert stats.repaired is not None
    assert (stats.repaired.offset, stats.repaired.dropped_records) == (offset, 1)
    assert segment.stat().st_size == offset


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
    payloads = [b"\x07" + np.random.default_rng(i).bytes(1000) for i in range(6)]  # as stored
    for payload in payloads:
        wal.log([payload])
    wal.close()
    (segment,) = list_segments(tmp_path)
    data = bytearray(segment.read_bytes())
    record = len(data) // 6
    data[record : 3 * record + 500] = bytes(2 * record + 500)  # records 1, 2 and half of 3
    segment.write_bytes(bytes(data))
    found: list[bytes] = []
    stats = replay_log(tmp_path, TYPES, lambda p: found.append(bytes(p)), repair=True)
    assert found == payloads[:1]
    assert stats.repaired is not None
    assert (stats.repaired.offset, stats.repaired.reason) == (record, "zero record length")
    assert stats.repaired.dropped_records == 2  # records 4 and 5 were readable
