"""WAL: framing round trip, torn tails dropped with a log line, middle corruption repaired at
open (what `vigil tsdb repair --yes` keeps, logged and counted) or, strict, refused with file +
offset and repaired by `vigil tsdb repair`, ENOSPC rolls back one commit only."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import crc32c
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from vigil import cmd
from vigil.model import Labels
from vigil.tsdb.db import TSDB, TSDBOptions
from vigil.tsdb.wal import (
    decode_samples,
    decode_series,
    encode_samples,
    encode_series,
    replay,
)
from vigil.tsdb.wlog import (
    COMPRESSED,
    HEADER,
    WAL,
    WALCorruptionError,
    WALWriteError,
    list_segments,
)

OPTIONS = TSDBOptions(max_series=0, wal_fsync="never")
STRICT = TSDBOptions(max_series=0, wal_fsync="never", wal_repair=False)
_Corruption = Callable[[list[tuple[Path, int]]], tuple[Path, int, list[int], int]]
"""Corrupts a WAL `_segmented` wrote: the bad segment, the bad record's offset, the commits
repair keeps and the readable records it drops."""
LABELS = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(3)]


def _open(path: Path, options: TSDBOptions = OPTIONS) -> TSDB:
    return TSDB.open(path, options, registry=CollectorRegistry())


def _commit(db: TSDB, k: int) -> None:
    appender = db.appender()
    refs = appender.refs_for(LABELS)
    appender.append_batch(refs, np.full(3, 1000 + k), np.full(3, float(k)))
    appender.commit()


def _write_commits(path: Path, n: int) -> tuple[Path, list[int]]:
    """n commits in one segment; returns the segment and its size after each commit."""
    ends = []
    with _open(path) as db:
        segment = db.wal._segment.path
        for k in range(n):
            _commit(db, k)
            ends.append(segment.stat().st_size)
    return segment, ends


def _committed(path: Path, options: TSDBOptions = OPTIONS) -> list[int]:
    with _open(path, options) as db:
        found = {s.labels: s.timestamps.tolist() for s in db.querier(0, 10**6).select([])}
    assert len({tuple(ts) for ts in found.values()}) <= 1, "all series got the same commits"
    return [t - 1000 for t in next(iter(found.values()), [])]


def test_records_round_trip() -> None:
    series = [
        (7, Labels.from_dict({"__name__": "up", "job": "ünïcode", "e": ""})),
        (2**40, Labels()),
    ]
    assert decode_series(encode_series(series)) == series
    refs, ts, vs = np.array([1, 2]), np.array([-5, 2**62]), np.array([float("nan"), -0.0])
    got = decode_samples(encode_samples(refs, ts, vs))
    assert [a.tobytes() for a in got] == [refs.tobytes(), ts.tobytes(), vs.tobytes()]


def test_sample_records_written_before_compression_still_replay(tmp_path: Path) -> None:
    """Plain refs and timestamps (types 2 and 3, out of order), stored uncompressed."""
    refs, ts, vs = np.array([3, 1]), np.array([5_000, 7_000]), np.array([0.5, -1.0])
    old = [
        struct.pack("<BI", kind, 2) + refs.tobytes() + ts.tobytes() + vs.tobytes()
        for kind in (2, 3)
    ]
    wal = WAL(tmp_path, fsync="never", compression=False)
    wal.log([encode_series([(1, LABELS[0]), (3, LABELS[1])]), *old])
    wal.close()
    found: list[tuple[list[int], list[int], list[float], bool]] = []
    stats = replay(
        tmp_path,
        lambda series: None,
        lambda r, t, v, ooo: found.append((r.tolist(), t.tolist(), v.tolist(), ooo)),
    )
    assert (stats.series, stats.samples) == (2, 4)
    assert found == [([3, 1], [5_000, 7_000], [0.5, -1.0], ooo) for ooo in (False, True)]


def test_torn_tail_is_dropped_with_a_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rng = np.random.default_rng(3)
    for trial in range(8):
        path = tmp_path / str(trial)
        segment, ends = _write_commits(path, 6)
        series_record_end = HEADER.size + HEADER.unpack(segment.read_bytes()[: HEADER.size])[0]
        cut = int(rng.integers(series_record_end + 1, ends[-1]))
        os.truncate(segment, cut)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vigil.tsdb.wlog"):
            got = _committed(path)
        kept = [k for k, end in enumerate(ends) if end <= cut]
        dropped = cut - (ends[kept[-1]] if kept else series_record_end)
        assert got == kept
        if dropped:
            assert f"dropping the last {dropped} bytes" in caplog.text
            assert str(segment) in caplog.text


# Which byte of the 3rd commit's record to flip: length field, checksum, payload.
FLIPS = [("length", 1), ("checksum", 5), ("payload", HEADER.size + 30)]


@pytest.mark.parametrize(("where", "byte"), FLIPS, ids=[f[0] for f in FLIPS])
def test_middle_corruption_stops_and_repair_recovers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str, byte: int
) -> None:
    segment, ends = _write_commits(tmp_path, 6)
    record = ends[1]  # the third commit's record starts where the second ended
    data = bytearray(segment.read_bytes())
    data[record + byte] ^= 0xFF
    segment.write_bytes(bytes(data))
    with pytest.raises(WALCorruptionError) as err:
        _open(tmp_path, STRICT)
    assert (err.value.path, err.value.offset) == (segment, record)
    assert f"vigil tsdb repair {tmp_path}" in str(err.value)

    assert cmd.main(["tsdb", "repair", str(tmp_path)]) == 1
    report = capsys.readouterr().out
    assert f"{segment} at offset {record}" in report
    assert "3 readable records after it" in report
    assert segment.stat().st_size == len(data), "nothing changes without --yes"

    assert cmd.main(["tsdb", "repair", str(tmp_path), "--yes"]) == 0
    assert "Truncated the WAL" in capsys.readouterr().out
    assert _committed(tmp_path, STRICT) == [0, 1]
    assert cmd.main(["tsdb", "repair", str(tmp_path)]) == 0


def test_corrupt_record_in_an_earlier_segment_is_an_error_when_strict(tmp_path: Path) -> None:
    options = TSDBOptions(max_series=0, wal_fsync="never", wal_segment_size=100, wal_repair=False)
    with _open(tmp_path, options) as db:
        for k in range(5):
            _commit(db, k)
    segments = [p for p in list_segments(tmp_path / "wal") if p.stat().st_size]
    assert len(segments) >= 3
    os.truncate(segments[0], segments[0].stat().st_size - 3)  # torn, but later segments exist
    with pytest.raises(WALCorruptionError) as err:
        _open(tmp_path, options)
    assert err.value.path == segments[0]


SEGMENTED = TSDBOptions(max_series=0, wal_fsync="never", wal_segment_size=150)
COMMITS = 8


def _segmented(path: Path) -> list[tuple[Path, int]]:
    """COMMITS commits over several 150-byte segments: each commit's segment and end offset."""
    placed = []
    with _open(path, SEGMENTED) as db:
        for k in range(COMMITS):
            _commit(db, k)
            segment = db.wal._segment.path
            placed.append((segment, segment.stat().st_size))
    return placed


def _flip_middle(placed: list[tuple[Path, int]]) -> tuple[Path, int, list[int], int]:
    """Flip a payload byte of the second commit of the first segment holding three."""
    for segment in dict.fromkeys(p for p, _ in placed):
        ends = [(k, end) for k, (p, end) in enumerate(placed) if p == segment]
        if len(ends) >= 3:
            start, second = ends[0][1], ends[1][0]
            data = bytearray(segment.read_bytes())
            data[start + HEADER.size + 20] ^= 0x01
            segment.write_bytes(bytes(data))
            return segment, start, list(range(second)), COMMITS - second - 1
    raise AssertionError("no segment holds three commits")


def _truncate_record(placed: list[tuple[Path, int]]) -> tuple[Path, int, list[int], int]:
    """Cut the first segment's last record short (later segments follow it)."""
    segment = placed[0][0]
    ends = [(k, end) for k, (p, end) in enumerate(placed) if p == segment]
    last, end = ends[-1]
    start = ends[-2][1]
    os.truncate(segment, end - 3)
    return segment, start, list(range(last)), COMMITS - last - 1


def _garbage_segment(placed: list[tuple[Path, int]]) -> tuple[Path, int, list[int], int]:
    """Overwrite the second segment with random bytes."""
    segment = dict.fromkeys(p for p, _ in placed).__iter__()
    next(segment)
    garbage = next(segment)
    size = garbage.stat().st_size
    garbage.write_bytes(np.random.default_rng(5).integers(0, 256, size, dtype=np.uint8).tobytes())
    inside = [k for k, (p, _) in enumerate(placed) if p == garbage]
    return garbage, 0, list(range(inside[0])), COMMITS - inside[-1] - 1


def _undecompressable(placed: list[tuple[Path, int]]) -> tuple[Path, int, list[int], int]:
    """Garble the compressed block of the second commit of the first segment holding three,
    with a checksum that matches: only decompressing finds it."""
    for segment in dict.fromkeys(p for p, _ in placed):
        ends = [(k, end) for k, (p, end) in enumerate(placed) if p == segment]
        if len(ends) >= 3:
            start, second = ends[0][1], ends[1][0]
            data = bytearray(segment.read_bytes())
            length, _ = HEADER.unpack_from(data, start)
            payload = start + HEADER.size
            assert data[payload] & COMPRESSED, "a sample record of 3 series is stored compressed"
            data[payload + 5 : payload + length] = b"\xff" * (length - 5)
            crc = crc32c.crc32c(bytes(data[payload : payload + length]))
            HEADER.pack_into(data, start, length, crc)
            segment.write_bytes(bytes(data))
            return segment, start, list(range(second)), COMMITS - second - 1
    raise AssertionError("no segment holds three commits")


CORRUPTIONS = {
    "flipped-byte": _flip_middle,
    "undecompressable-record": _undecompressable,
    "truncated-record": _truncate_record,
    "garbage-segment": _garbage_segment,
}


@pytest.mark.parametrize("corrupt", CORRUPTIONS.values(), ids=CORRUPTIONS.keys())
def test_open_repairs_a_corrupt_wal_as_repair_would_and_says_what_it_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, corrupt: _Corruption
) -> None:
    placed = _segmented(tmp_path / "data")
    segment, offset, kept, dropped_records = corrupt(placed)
    shutil.copytree(tmp_path / "data", tmp_path / "copy")
    later = [p for p in list_segments(tmp_path / "data" / "wal") if p.name > segment.name]
    registry = CollectorRegistry()
    with caplog.at_level(logging.WARNING, logger="vigil.tsdb.wlog"):
        db = TSDB.open(tmp_path / "data", SEGMENTED, clock=lambda: 1234.0, registry=registry)
    with db:
        found = {s.labels: s.timestamps.tolist() for s in db.querier(0, 10**6).select([])}
        repaired = db.replay_stats.repaired
    assert found == {labels: [1000 + k for k in kept] for labels in LABELS}
    assert repaired is not None
    assert [r.getMessage() for r in caplog.records] == [
        f"WAL corruption in {segment} at offset {offset} ({repaired.reason}): truncated the "
        f"WAL there and dropped {repaired.dropped_bytes} bytes: the bad record and "
        f"{dropped_records} readable records after it, including {len(later)} later segment(s)"
    ]
    assert segment.stat().st_size == offset
    after = {p.name: p.stat().st_size for p in list_segments(tmp_path / "data" / "wal")}
    assert {name: size for name, size in after.items() if name > segment.name} == {
        later[0].name: 0  # later segments deleted; the writer's new one took the first name
    }
    metrics = {
        name: registry.get_sample_value(name)
        for name in (
            "prometheus_tsdb_wal_corruptions_total",
            "vigil_tsdb_wal_repair_dropped_records_total",
            "vigil_tsdb_wal_repair_timestamp_seconds",
        )
    }
    assert metrics == {
        "prometheus_tsdb_wal_corruptions_total": 1.0,
        "vigil_tsdb_wal_repair_dropped_records_total": float(dropped_records),
        "vigil_tsdb_wal_repair_timestamp_seconds": 1234.0,
    }
    assert cmd.main(["tsdb", "repair", str(tmp_path / "copy"), "--yes"]) == 0
    assert _committed(tmp_path / "copy", STRICT) == kept, "what `vigil tsdb repair` keeps"
    with _open(tmp_path / "data", STRICT) as db:
        _commit(db, 100)  # the repaired WAL takes new commits, and replays them
    assert _committed(tmp_path / "data", STRICT) == [*kept, 100]


class _DiskFull:
    """os.write that fails with ENOSPC while `full`, after writing `partial` bytes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, partial: int) -> None:
        self.full = False
        self.partial = partial
        self._write = os.write
        monkeypatch.setattr(os, "write", self)

    def __call__(self, fd: int, data: bytes | memoryview) -> int:
        if not self.full:
            return self._write(fd, data)
        if self.partial:  # the disk fills up in the middle of the record
            self._write(fd, bytes(data[: self.partial]))
            self.partial = 0
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("partial", [0, 10], ids=["nothing-written", "partial-write"])
def test_enospc_fails_one_commit_and_ingestion_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, partial: int
) -> None:
    disk = _DiskFull(monkeypatch, partial)
    with _open(tmp_path) as db:
        _commit(db, 0)
        disk.full = True
        with pytest.raises(WALWriteError, match="no space left on device") as err:
            _commit(db, 1)
        assert err.value.errno == errno.ENOSPC
        disk.full = False
        _commit(db, 2)
        in_memory = [
            t - 1000 for t in next(iter(db.querier(0, 10**6).select([]))).timestamps.tolist()
        ]
    assert (in_memory, _committed(tmp_path)) == ([0, 2], [0, 2])
