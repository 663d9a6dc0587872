"""A write-ahead log any store can keep: segmented files of length + CRC32C framed records,
group-committed; the metrics WAL (`wal`) is one, the log store's will be another.

Layout (a store's WAL dir): segments `00000000`, `00000001`, … (at most `segment_size`
bytes each, unless one record is larger) and at most one `checkpoint.NNNNNNNN/` holding
what the store kept when segments up to NNNNNNNN were deleted. A record is `u32 length,
u32 crc32c, payload`; the payload's first byte is its type, one of the `types` its store
declares (anything else is corruption). What a payload holds is the store's business.

The writer compresses a record when that makes it smaller: its type byte then has the
`COMPRESSED` bit set and is followed by the record's length (u32) and the LZ4 block of the
whole record, its own type byte first. LZ4 rather than Prometheus's snappy: on sample records
it compresses 5x faster and decompresses 3x faster than zstd at level 1, for about the same
size. Readers take both kinds, so WALs written before compression still replay.

Replay drops a torn or corrupt *tail* of the last segment (logging how many bytes). Any
other corruption is repaired as Prometheus repairs it at start-up, if the store asks for
that: the file is truncated at the bad record and later segments deleted, with one log line
saying what was dropped; otherwise replay stops with `WALCorruptionError` naming file and
offset, and `vigil tsdb repair` does the same truncation after explicit confirmation.
"""

from __future__ import annotations

import dataclasses
import errno
import logging
import mmap
import os
import re
import shutil
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cramjam
import crc32c
import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

from vigil.tsdb.fileutil import fsync_dir
from vigil.tsdb.write_health import WriteHealth

log = logging.getLogger(__name__)

FsyncPolicy = Literal["always", "batch", "never"]

DEFAULT_SEGMENT_SIZE = 128 * 1024 * 1024
HEADER = struct.Struct("<II")  # payload length, crc32c of payload
_SEGMENT_NAME = re.compile(r"\d{8}\Z")
_CHECKPOINT_NAME = re.compile(r"checkpoint\.(\d{8})\Z")

RecordSink = Callable[[memoryview], None]
"""Takes one record's payload; raises ValueError (or struct.error, UnicodeDecodeError) when
it does not decode, which makes the record corrupt."""
ReplayProgress = Callable[[int, int], None]
"""Called with (files replayed, files in all) before the first file and after each one;
the checkpoint's files count like segments."""


class WALCorruptionError(Exception):
    """A WAL record that cannot be read, followed by readable ones: replay cannot skip it."""

    def __init__(self, path: Path, offset: int, reason: str, data_dir: Path | None = None) -> None:
        target = data_dir if data_dir is not None else path.parent.parent
        super().__init__(
            f"WAL corruption in {path} at offset {offset}: {reason}; later records are intact, "
            f"so replay stops rather than drop them. Run `vigil tsdb repair {target}` to "
            "see what truncating there would drop (and `--yes` to do it)."
        )
        self.path = path
        self.offset = offset
        self.reason = reason


class WALWriteError(OSError):
    """A commit could not be written; nothing of it was applied, earlier commits are intact."""


COMPRESSED = 0x80
_COMPRESSED_HEAD = struct.Struct("<BI")  # flagged type byte, length of the whole record
_LZ4_MAX_RATIO = 255  # an LZ4 block never expands more than this (plus a few bytes)


def frame(payload: bytes) -> bytes:
    """The record as stored: header, then `payload` as it is."""
    return HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


def compress(payload: bytes) -> bytes:
    """`payload` compressed (type byte flagged), or as it is if that is not smaller."""
    block = cramjam.lz4.compress_block(payload, store_size=False)
    if len(block) + _COMPRESSED_HEAD.size >= len(payload):
        return payload
    return b"".join((_COMPRESSED_HEAD.pack(payload[0] | COMPRESSED, len(payload)), block))


def decompress(stored: memoryview) -> memoryview:
    """The record a stored payload holds; ValueError if a compressed one does not decode."""
    if not stored[0] & COMPRESSED:
        return stored
    if len(stored) < _COMPRESSED_HEAD.size:
        raise ValueError(f"compressed record of {len(stored)} bytes has no length")
    kind, length = _COMPRESSED_HEAD.unpack_from(stored, 0)
    block = stored[_COMPRESSED_HEAD.size :]
    if not 0 < length <= _LZ4_MAX_RATIO * len(block) + 16:
        raise ValueError(f"compressed record of {len(block)} bytes claims {length} bytes")
    record = bytearray(length)
    try:
        written = cramjam.lz4.decompress_block_into(block, record)
    except cramjam.DecompressionError as err:
        raise ValueError(f"compressed record does not decompress: {err}") from None
    if written != length or record[0] != kind & ~COMPRESSED:
        raise ValueError("compressed record decompresses to another record")
    return memoryview(record)


def stored_types(types: frozenset[int]) -> frozenset[int]:
    """The first bytes a stored record of one of `types` may have: plain or compressed."""
    return types | {t | COMPRESSED for t in types}


# ----- reading -----


class _BadRecord(Exception):
    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


Data = bytes | mmap.mmap


def _check_record(data: Data, offset: int, types: frozenset[int]) -> tuple[int, str]:
    """Length of the valid record at offset, or 0 and why it is not one."""
    if len(data) - offset < HEADER.size:
        return 0, f"torn record header ({len(data) - offset} of {HEADER.size} bytes)"
    length, crc = HEADER.unpack_from(data, offset)
    if length == 0:
        return 0, "zero record length"
    if offset + HEADER.size + length > len(data):
        return 0, f"record length {length} runs past the end of the file ({len(data)} bytes)"
    start = offset + HEADER.size
    if data[start] not in types:
        return 0, f"unknown record type {data[start]}"
    if crc32c.crc32c(memoryview(data)[start : start + length]) != crc:
        return 0, "checksum mismatch"
    return length, ""


def _records(data: Data, types: frozenset[int]) -> Iterator[tuple[int, memoryview]]:
    """(offset, payload) of each record; raises _BadRecord at the first that is not valid."""
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        length, reason = _check_record(data, offset, types)
        if not length:
            raise _BadRecord(offset, reason)
        start = offset + HEADER.size
        yield offset, view[start : start + length]
        offset = start + length


_SCAN_WINDOW = 4 << 20


def _next_valid_offset(data: Data, start: int, types: frozenset[int]) -> int | None:
    """Where the next readable record starts after a bad one: offsets whose type byte is
    known and whose length field fits the file are found a window at a time, and only those
    are checked (a zeroed or garbage stretch is skipped at numpy speed)."""
    end = len(data) - HEADER.size  # a record needs its header and a type byte
    if start >= end:
        return None
    raw = np.frombuffer(data, dtype=np.uint8)
    known = np.zeros(256, dtype=np.bool_)
    known[sorted(types)] = True
    for lo in range(start, end, _SCAN_WINDOW):
        hi = min(lo + _SCAN_WINDOW, end)
        at = np.flatnonzero(known[raw[lo + HEADER.size : hi + HEADER.size]]) + lo
        length = raw[at].astype(np.int64)
        for byte in range(1, 4):
            length |= raw[at + byte].astype(np.int64) << (8 * byte)
        at = at[(length > 0) & (length <= len(data) - HEADER.size - at)]
        for offset in at.tolist():
            if _check_record(data, offset, types)[0]:
                return offset
    return None


def _count_records_from(data: Data, start: int | None, types: frozenset[int]) -> int:
    count = 0
    offset = start
    while offset is not None and offset < len(data):
        length, _ = _check_record(data, offset, types)
        if length:
            count += 1
            offset += HEADER.size + length
        else:
            offset = _next_valid_offset(data, offset + 1, types)
    return count


def segment_index(path: Path) -> int:
    return int(path.name)


def list_segments(wal_dir: Path) -> list[Path]:
    if not wal_dir.is_dir():
        return []
    return sorted(
        (p for p in wal_dir.iterdir() if _SEGMENT_NAME.match(p.name) and p.is_file()),
        key=segment_index,
    )


def latest_checkpoint(wal_dir: Path) -> tuple[int, Path] | None:
    if not wal_dir.is_dir():
        return None
    found = [
        (int(m.group(1)), p)
        for p in wal_dir.iterdir()
        if (m := _CHECKPOINT_NAME.match(p.name)) and p.is_dir()
    ]
    return max(found) if found else None


@dataclass(frozen=True, slots=True)
class LogReplayStats:
    """`repaired`: the corruption replay truncated the WAL at (with `repair`), and what
    that dropped."""

    checkpoint: int | None = None
    segments: int = 0
    records: int = 0
    dropped_tail_bytes: int = 0
    seconds: float = 0.0
    repaired: RepairReport | None = None


@dataclass(slots=True)
class _Progress:
    records: int = 0
    dropped_tail_bytes: int = 0


def _mapped(path: Path) -> Data:
    """The file's bytes, mapped rather than read: replay takes sample arrays as views of
    them and copies each sample once, into the head (no 128 MiB buffer filled per segment).
    The map lives as long as a view of it does."""
    with path.open("rb") as handle:
        if not os.fstat(handle.fileno()).st_size:
            return b""
        return mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)


def _replay_file(
    path: Path,
    types: frozenset[int],
    on_record: RecordSink,
    progress: _Progress,
    tail_may_tear: bool,
    metrics: WALMetrics | None,
) -> tuple[Data, _BadRecord] | None:
    """Feed the file's records to `on_record`; a torn tail (`tail_may_tear`) is cut off, any
    other bad record stops the file and is returned with the file's bytes."""
    data = _mapped(path)
    try:
        for offset, payload in _records(data, types):
            try:
                on_record(decompress(payload))
            except (ValueError, struct.error, UnicodeDecodeError) as err:
                raise _BadRecord(offset, f"record does not decode: {err}") from None
            progress.records += 1
    except _BadRecord as bad:
        if metrics is not None:
            metrics.corruptions.inc()
        if _next_valid_offset(data, bad.offset + 1, types) is not None or not tail_may_tear:
            return data, bad
        dropped = len(data) - bad.offset
        log.warning(
            "WAL segment %s ends with a torn or corrupt record at offset %d (%s): "
            "dropping the last %d bytes",
            path,
            bad.offset,
            bad.reason,
            dropped,
        )
        with path.open("r+b") as handle:
            handle.truncate(bad.offset)
            os.fsync(handle.fileno())
        progress.dropped_tail_bytes += dropped
    return None


def _files(wal_dir: Path) -> tuple[int | None, list[Path], list[Path]]:
    """The latest checkpoint's index, its files, and the segments after it."""
    checkpoint = latest_checkpoint(wal_dir)
    if checkpoint is None:
        return None, [], list_segments(wal_dir)
    after, checkpoint_dir = checkpoint
    later = [p for p in list_segments(wal_dir) if segment_index(p) > after]
    return after, list_segments(checkpoint_dir), later


def replay_log(
    wal_dir: Path,
    types: frozenset[int],
    on_record: RecordSink,
    metrics: WALMetrics | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_progress: ReplayProgress | None = None,
    repair: bool = False,
) -> LogReplayStats:
    """Feed the records of the latest checkpoint, then of every later segment, to
    `on_record`, in write order; a record it cannot decode counts as corrupt. With `repair`,
    a corrupt record that is not a torn tail ends the replay there, and the WAL is truncated
    as `vigil tsdb repair --yes` would (logged once, counted in `metrics`); without it,
    WALCorruptionError."""
    started = clock()
    types = stored_types(types)
    progress = _Progress()
    checkpoint, checkpoint_files, segments = _files(wal_dir)
    files = [*checkpoint_files, *segments]
    report = on_progress if on_progress is not None else lambda done, total: None
    report(0, len(files))
    # The last segment with data may end torn (a crash mid-write); only empty ones follow it.
    sizes = [p.stat().st_size for p in segments]
    last_written = max((i for i, size in enumerate(sizes) if size), default=-1)
    repaired: RepairReport | None = None
    for i, path in enumerate(files):
        tail_may_tear = i - len(checkpoint_files) == last_written
        bad = _replay_file(path, types, on_record, progress, tail_may_tear, metrics)
        if bad is not None:
            data, record = bad
            if not repair:
                raise WALCorruptionError(path, record.offset, record.reason)
            repaired = _truncate(_dropping(wal_dir, files, i, data, record, types))
            log.warning(
                "WAL corruption in %s at offset %d (%s): truncated the WAL there and dropped %s",
                path,
                record.offset,
                record.reason,
                repaired.dropped,
            )
            if metrics is not None:
                metrics.repair_dropped_records.inc(repaired.dropped_records)
                metrics.repair_dropped_bytes.inc(repaired.dropped_bytes)
            report(len(files), len(files))
            break
        report(i + 1, len(files))
    return LogReplayStats(
        checkpoint=checkpoint,
        segments=len(segments),
        records=progress.records,
        dropped_tail_bytes=progress.dropped_tail_bytes,
        seconds=clock() - started,
        repaired=repaired,
    )


# ----- repair -----


@dataclass(frozen=True, slots=True)
class RepairReport:
    """The first unreadable record and what truncating there drops."""

    path: Path
    offset: int
    reason: str
    dropped_bytes: int
    dropped_records: int
    dropped_segments: tuple[Path, ...] = ()
    applied: bool = False

    @property
    def dropped(self) -> str:
        """What truncating drops, in words."""
        return (
            f"{self.dropped_bytes} bytes: the bad record and {self.dropped_records} readable "
            f"records after it, including {len(self.dropped_segments)} later segment(s)"
        )


def _dropping(
    wal_dir: Path, files: list[Path], at: int, data: Data, bad: _BadRecord, types: frozenset[int]
) -> RepairReport:
    """What truncating `files[at]` (whose bytes are `data`) at `bad` drops: the rest of it and
    every later segment (a later file of the checkpoint itself stays)."""
    later = tuple(p for p in files[at + 1 :] if p.parent == wal_dir)
    records = _count_records_from(data, _next_valid_offset(data, bad.offset + 1, types), types)
    records += sum(_count_records_from(_mapped(p), 0, types) for p in later)
    dropped = len(data) - bad.offset + sum(p.stat().st_size for p in later)
    return RepairReport(files[at], bad.offset, bad.reason, dropped, records, later)


def _truncate(report: RepairReport) -> RepairReport:
    with report.path.open("r+b") as handle:
        handle.truncate(report.offset)
        os.fsync(handle.fileno())
    for path in report.dropped_segments:
        path.unlink()
    fsync_dir(report.path.parent)
    if report.dropped_segments:
        fsync_dir(report.dropped_segments[0].parent)
    return dataclasses.replace(report, applied=True)


def find_corruption(wal_dir: Path, types: frozenset[int], check: RecordSink) -> RepairReport | None:
    """Scan checkpoint and segments; the first unreadable record, or None if all is well."""
    types = stored_types(types)
    _, checkpoint_files, segments = _files(wal_dir)
    files = [*checkpoint_files, *segments]
    for i, path in enumerate(files):
        data = _mapped(path)
        try:
            for offset, payload in _records(data, types):
                try:
                    check(decompress(payload))
                except (ValueError, struct.error, UnicodeDecodeError) as err:
                    raise _BadRecord(offset, f"record does not decode: {err}") from None
        except _BadRecord as bad:
            return _dropping(wal_dir, files, i, data, bad, types)
    return None


def repair(
    wal_dir: Path, types: frozenset[int], check: RecordSink, apply: bool
) -> RepairReport | None:
    """Truncate the WAL at its first unreadable record (and delete later segments) if `apply`;
    either way, report what that drops."""
    report = find_corruption(wal_dir, types, check)
    if report is None or not apply:
        return report
    return _truncate(report)


# ----- writing -----


class WALMetrics:
    """The WAL's self-metrics, with Prometheus's names."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fsync_duration = Summary(
            "prometheus_tsdb_wal_fsync_duration_seconds",
            "Duration of write log fsync.",
            registry=registry,
        )
        self.corruptions = Counter(
            "prometheus_tsdb_wal_corruptions", "Total number of WAL corruptions.", registry=registry
        )
        self.repair_dropped_records = Counter(
            "vigil_tsdb_wal_repair_dropped_records",
            "Readable WAL records dropped by start-up repairs, behind a corrupt record.",
            registry=registry,
        )
        self.repair_dropped_bytes = Counter(
            "vigil_tsdb_wal_repair_dropped_bytes",
            "WAL bytes dropped by start-up repairs: the corrupt record and all after it.",
            registry=registry,
        )
        self.repair_time = Gauge(
            "vigil_tsdb_wal_repair_timestamp_seconds",
            "When the WAL was last repaired at start-up (0: not by this process).",
            registry=registry,
        )
        self.writes_failed = Counter(
            "prometheus_tsdb_wal_writes_failed",
            "Total number of write log writes that failed.",
            registry=registry,
        )
        self.segment_current = Gauge(
            "prometheus_tsdb_wal_segment_current",
            "Write log segment index that TSDB is currently writing to.",
            registry=registry,
        )
        self.record_bytes = Counter(
            "prometheus_tsdb_wal_record_bytes",
            "Bytes of records written to the WAL.",
            registry=registry,
        )
        self.record_bytes_saved = Counter(
            "prometheus_tsdb_wal_record_bytes_saved",
            "Total number of bytes saved by the optional record compression.",
            registry=registry,
        )
        self.truncations = Counter(
            "prometheus_tsdb_wal_truncations",
            "Total number of write log truncations.",
            registry=registry,
        )
        self.checkpoint_creations = Counter(
            "prometheus_tsdb_checkpoint_creations",
            "Total number of checkpoint creations attempted.",
            registry=registry,
        )


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


@dataclass(slots=True)
class _Segment:
    index: int
    fd: int
    size: int
    path: Path = field(default_factory=Path)


class WAL:
    """The writer: appends framed records to the newest segment; never rewrites a byte.

    fsync policies: "always" fsyncs before a commit returns (commits that arrive during one
    fsync share the next: group commit); "batch" returns once the record is written (it
    survives a crash of the process, not of the host) and fsyncs within `sync_interval_s` of
    the first unsynced write (`sync_if_due`, run by the TSDB's flusher thread between
    `await_sync` calls), at every
    segment cut, tick and close, so a power loss costs at most that interval of commits
    (Prometheus itself fsyncs only when it completes a segment); "never" leaves it to the OS.
    With `compression`, a record is stored compressed when that makes it smaller.
    """

    def __init__(
        self,
        directory: Path,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        fsync: FsyncPolicy = "batch",
        metrics: WALMetrics | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sync_interval_s: float = 1.0,
        health: WriteHealth | None = None,
        compression: bool = True,
    ) -> None:
        """`health` hears of every write's outcome (what self-monitoring reads)."""
        self.directory = directory
        self.health = health
        self.compression = compression
        self.segment_size = segment_size
        self.fsync_policy: FsyncPolicy = fsync
        self.sync_interval_s = sync_interval_s
        self._dirty_since: float | None = None  # clock() at the first write not yet fsynced
        self.metrics = metrics if metrics is not None else WALMetrics(CollectorRegistry())
        self._clock = clock
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._wake = threading.Event()  # a write found the WAL synced, or stop_waiting
        self._waiting_stopped = False
        self._written = 0  # bytes written since open, across segments: the group-commit token
        self._synced = 0
        directory.mkdir(parents=True, exist_ok=True)
        existing = list_segments(directory)
        checkpoint = latest_checkpoint(directory)
        last = max(
            [segment_index(existing[-1]) if existing else -1, checkpoint[0] if checkpoint else -1]
        )
        self._segment = self._open_segment(last + 1)

    def _open_segment(self, index: int) -> _Segment:
        path = self.directory / f"{index:08d}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        fsync_dir(self.directory)
        self.metrics.segment_current.set(index)
        return _Segment(index, fd, os.fstat(fd).st_size, path)

    def log(self, payloads: list[bytes]) -> int:
        """Write one commit's records in one write; returns a token for `wait_durable`.
        On failure (ENOSPC, EIO) the partial write is cut off again and WALWriteError raised."""
        data = b"".join(frame(self._stored(p)) for p in payloads)
        with self._lock:
            segment = self._segment
            if segment.size and segment.size + len(data) > self.segment_size:
                self._cut_locked()
                segment = self._segment
            try:
                _write_all(segment.fd, data)
            except OSError as err:
                self.metrics.writes_failed.inc()
                self._undo_partial_write(segment)
                reason = "no space left on device" if err.errno == errno.ENOSPC else err.strerror
                if self.health is not None:
                    self.health.failed(reason or str(err), len(data))
                raise WALWriteError(
                    err.errno,
                    f"writing {len(data)} bytes to WAL segment {segment.path} failed ({reason}); "
                    "this commit was not applied, earlier commits are intact",
                ) from err
            if self.health is not None:
                self.health.succeeded(len(data))
            segment.size += len(data)
            self._written += len(data)
            if self._dirty_since is None:
                self._dirty_since = self._clock()
                self._wake.set()
            self.metrics.record_bytes.inc(len(data))
            return self._written

    def _stored(self, payload: bytes) -> bytes:
        if not self.compression:
            return payload
        stored = compress(payload)
        self.metrics.record_bytes_saved.inc(len(payload) - len(stored))
        return stored

    def _undo_partial_write(self, segment: _Segment) -> None:
        try:
            os.ftruncate(segment.fd, segment.size)
        except OSError:
            log.exception(
                "cannot cut a partial record off %s; starting a new segment", segment.path
            )
            self._cut_locked()

    def wait_durable(self, token: int) -> None:
        """With fsync="always", return once everything up to token is fsynced."""
        if self.fsync_policy == "always":
            self._sync_through(token)

    def _sync_through(self, token: int) -> None:
        """fsync unless another commit's fsync already covered everything up to token: commits
        that arrive while one fsync runs share the next one (group commit)."""
        if self._synced >= token:
            return
        with self._sync_lock:
            if self._synced >= token:
                return
            with self._lock:
                target, fd = self._written, self._segment.fd
                dirty_since, self._dirty_since = self._dirty_since, None
            started = self._clock()
            try:
                os.fsync(fd)
            except OSError:
                with self._lock:  # still due: the next sync_if_due tries again
                    if self._dirty_since is None:
                        self._dirty_since = dirty_since
                        self._wake.set()
                raise
            self.metrics.fsync_duration.observe(self._clock() - started)
            self._synced = max(self._synced, target)

    def sync(self) -> None:
        """fsync everything written so far ("batch" policy: called by TSDB.tick and close)."""
        if self.fsync_policy != "never":
            self._sync_through(self._written)

    @property
    def unsynced_bytes(self) -> int:
        return self._written - self._synced

    def sync_if_due(self) -> bool:
        """With the "batch" policy, fsync once the oldest unsynced write is sync_interval_s old;
        True if it did."""
        since = self._dirty_since
        if self.fsync_policy != "batch" or since is None:
            return False
        if self._clock() - since < self.sync_interval_s:
            return False
        self.sync()
        return True

    def sync_wait(self) -> float | None:
        """Seconds until `sync_if_due` may fsync ("batch" policy): until the oldest unsynced
        write is sync_interval_s old, at least a tenth of the interval (the pace at which a
        failing fsync is retried); None while everything written is synced."""
        since = self._dirty_since
        if since is None:
            return None
        interval = self.sync_interval_s
        return max(interval / 10, since + interval - self._clock())

    def await_sync(self) -> bool:
        """The flusher thread's sleep between `sync_if_due` calls: `sync_wait` long, or until
        the next write while everything is synced, so an idle server's flusher does not wake;
        False once `stop_waiting` was called."""
        if not self._waiting_stopped:
            self._wake.wait(self.sync_wait())
            self._wake.clear()
        return not self._waiting_stopped

    def stop_waiting(self) -> None:
        """Ends `await_sync` (the flusher's loop) at once, now and for every later call."""
        self._waiting_stopped = True
        self._wake.set()

    def _cut_locked(self) -> int:
        old = self._segment
        started = self._clock()
        os.fsync(old.fd)
        self.metrics.fsync_duration.observe(self._clock() - started)
        os.close(old.fd)
        self._synced = max(self._synced, self._written)
        self._dirty_since = None
        self._segment = self._open_segment(old.index + 1)
        return old.index

    def cut_segment(self) -> int:
        """Close the current segment and start the next; returns the closed one's index."""
        with self._lock:
            return self._cut_locked()

    def write_checkpoint(self, upto: int, payloads: Iterable[bytes]) -> Path:
        """Write `checkpoint.upto` atomically (temp dir + rename), then delete segments <= upto
        and older checkpoints: the store's state replaces the history that produced it."""
        self.metrics.checkpoint_creations.inc()
        final = self.directory / f"checkpoint.{upto:08d}"
        temp = self.directory / f"checkpoint.{upto:08d}.tmp"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        path = temp / f"{0:08d}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for payload in payloads:
                _write_all(fd, frame(self._stored(payload)))
            os.fsync(fd)
        except OSError:
            os.close(fd)
            shutil.rmtree(temp, ignore_errors=True)
            raise
        os.close(fd)
        fsync_dir(temp)
        if final.exists():
            shutil.rmtree(final)
        os.replace(temp, final)
        fsync_dir(self.directory)
        for segment in list_segments(self.directory):
            if segment_index(segment) <= upto:
                segment.unlink()
        for old in self.directory.iterdir():
            match = _CHECKPOINT_NAME.match(old.name)
            if match and int(match.group(1)) < upto:
                shutil.rmtree(old)
        self.metrics.truncations.inc()
        return final

    def size_bytes(self) -> int:
        total = 0
        for root, _, files in os.walk(self.directory):
            for name in files:
                try:
                    total += os.stat(os.path.join(root, name)).st_size
                except FileNotFoundError:
                    continue
        return total

    def close(self) -> None:
        with self._lock:
            if self._segment.fd < 0:
                return
            if self.fsync_policy != "never":
                os.fsync(self._segment.fd)
            os.close(self._segment.fd)
            self._segment.fd = -1


def remove_stale_temp_dirs(wal_dir: Path) -> None:
    """A crash mid-checkpoint leaves `checkpoint.N.tmp`: never complete, always safe to drop."""
    if wal_dir.is_dir():
        for path in wal_dir.iterdir():
            if path.name.startswith("checkpoint.") and path.name.endswith(".tmp"):
                shutil.rmtree(path, ignore_errors=True)
