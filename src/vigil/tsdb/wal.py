"""Write-ahead log: segmented files of length + CRC32C framed records, group-committed.

Layout (`DATA/wal/`): segments `00000000`, `00000001`, … (at most `segment_size` bytes each,
unless one record is larger) and at most one `checkpoint.NNNNNNNN/` holding what the head
kept when segments up to NNNNNNNN were deleted. A record is `u32 length, u32 crc32c,
payload`; the payload's first byte is its type. Series records map ref -> labels (refs and
label counts as arrays, then every name and value as UTF-8 ended by a 0xff byte, which UTF-8
never uses, so a whole record decodes in a few C calls; the older record of one
length-prefixed string at a time is still read); sample records hold a commit's refs,
timestamps and values as raw little-endian numpy bytes.

Replay drops a torn or corrupt *tail* of the last segment (logging how many bytes); any
other corruption stops with `WALCorruptionError` naming file and offset, which
`vigil tsdb repair` resolves by truncating there, after explicit confirmation.
"""

from __future__ import annotations

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

import crc32c
import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, Summary

from vigil.model import Labels
from vigil.tsdb.fileutil import fsync_dir

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
FsyncPolicy = Literal["always", "batch", "never"]

DEFAULT_SEGMENT_SIZE = 128 * 1024 * 1024
HEADER = struct.Struct("<II")  # payload length, crc32c of payload
SERIES_V1 = 1
SAMPLES = 2
OOO_SAMPLES = 3
SERIES = 4
RECORD_TYPES = frozenset((SERIES_V1, SAMPLES, OOO_SAMPLES, SERIES))
SERIES_TYPES = frozenset((SERIES_V1, SERIES))
_COUNT = struct.Struct("<BI")  # record type, entries
_SERIES_HEAD = struct.Struct("<qH")  # ref, label count
_NAME_LEN = struct.Struct("<H")
_VALUE_LEN = struct.Struct("<I")
_SEGMENT_NAME = re.compile(r"\d{8}\Z")
_CHECKPOINT_NAME = re.compile(r"checkpoint\.(\d{8})\Z")
_CHECKPOINT_SERIES_PER_RECORD = 10_000
_CHECKPOINT_SAMPLES_PER_RECORD = 1_000_000


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


# ----- record encoding -----


def frame(payload: bytes) -> bytes:
    return HEADER.pack(len(payload), crc32c.crc32c(payload)) + payload


_SEPARATOR = "\udcff"  # what surrogateescape decodes the 0xff ending each string to


def encode_series(series: Iterable[tuple[int, Labels]]) -> bytes:
    refs: list[int] = []
    sizes: list[int] = []
    strings: list[str] = []
    for ref, labels in series:
        refs.append(ref)
        sizes.append(len(labels))
        for name, value in labels:
            strings.append(name)
            strings.append(value)
    strings.append("")
    "".join(strings).encode("utf-8")  # a lone surrogate (not UTF-8) raises here, not later
    return b"".join(
        (
            _COUNT.pack(SERIES, len(refs)),
            np.array(refs, dtype="<i8").tobytes(),
            np.array(sizes, dtype="<u2").tobytes(),
            _SEPARATOR.join(strings).encode("utf-8", "surrogateescape"),
        )
    )


def decode_series(payload: bytes | memoryview) -> list[tuple[int, Labels]]:
    kind, count = _COUNT.unpack_from(payload, 0)
    if kind == SERIES_V1:
        return _decode_series_v1(payload, count)
    start = _COUNT.size
    if len(payload) < start + 10 * count:
        raise ValueError(f"series record of {count} series has only {len(payload)} bytes")
    refs = np.frombuffer(payload, dtype="<i8", count=count, offset=start)
    if count and int(refs.min()) < 0:
        raise ValueError(f"series record has a negative ref {int(refs.min())}")
    sizes = np.frombuffer(payload, dtype="<u2", count=count, offset=start + 8 * count)
    strings = (
        bytes(payload[start + 10 * count :]).decode("utf-8", "surrogateescape").split(_SEPARATOR)
    )
    total = int(sizes.sum(dtype=np.int64))
    if len(strings) != 2 * total + 1 or strings[-1]:
        raise ValueError(f"series record has {len(strings) - 1} strings for {total} labels")
    try:  # bytes that are not UTF-8 were escaped to lone surrogates, which UTF-8 refuses
        "".join(strings).encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(f"series record holds a label that is not UTF-8 ({err.reason})") from None
    pairs = list(zip(strings[0:-1:2], strings[1:-1:2], strict=True))
    found: list[tuple[int, Labels]] = []
    end = 0
    for ref, size in zip(refs.tolist(), sizes.tolist(), strict=True):
        begin, end = end, end + size
        found.append((ref, Labels(pairs[begin:end])))
    return found


def _decode_series_v1(payload: bytes | memoryview, count: int) -> list[tuple[int, Labels]]:
    offset = _COUNT.size
    found: list[tuple[int, Labels]] = []
    view = memoryview(payload)
    for _ in range(count):
        ref, n_labels = _SERIES_HEAD.unpack_from(view, offset)
        offset += _SERIES_HEAD.size
        pairs = []
        for _ in range(n_labels):
            (name_len,) = _NAME_LEN.unpack_from(view, offset)
            offset += _NAME_LEN.size
            name = bytes(view[offset : offset + name_len]).decode()
            offset += name_len
            (value_len,) = _VALUE_LEN.unpack_from(view, offset)
            offset += _VALUE_LEN.size
            value = bytes(view[offset : offset + value_len]).decode()
            offset += value_len
            pairs.append((name, value))
        found.append((ref, Labels(pairs)))
    if offset != len(payload):
        raise ValueError(f"series record has {len(payload) - offset} trailing bytes")
    return found


def encode_samples(refs: I64, ts: I64, vs: F64, out_of_order: bool = False) -> bytes:
    kind = OOO_SAMPLES if out_of_order else SAMPLES
    return b"".join(
        (
            _COUNT.pack(kind, len(refs)),
            refs.astype("<i8", copy=False).tobytes(),
            ts.astype("<i8", copy=False).tobytes(),
            vs.astype("<f8", copy=False).tobytes(),
        )
    )


def decode_samples(payload: bytes | memoryview) -> tuple[I64, I64, F64]:
    _, count = _COUNT.unpack_from(payload, 0)
    if len(payload) != _COUNT.size + 24 * count:
        raise ValueError(f"sample record of {count} samples has {len(payload)} bytes")
    start = _COUNT.size
    # Read-only views of the payload (vigil runs on little-endian hosts only): replay copies
    # them once, into the head's blocks, rather than here as well.
    refs = np.frombuffer(payload, dtype=np.int64, count=count, offset=start)
    ts = np.frombuffer(payload, dtype=np.int64, count=count, offset=start + 8 * count)
    vs = np.frombuffer(payload, dtype=np.float64, count=count, offset=start + 16 * count)
    return refs, ts, vs


# ----- reading -----


class _BadRecord(Exception):
    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(reason)
        self.offset = offset
        self.reason = reason


Data = bytes | mmap.mmap


def _check_record(data: Data, offset: int) -> tuple[int, str]:
    """Length of the valid record at offset, or 0 and why it is not one."""
    if len(data) - offset < HEADER.size:
        return 0, f"torn record header ({len(data) - offset} of {HEADER.size} bytes)"
    length, crc = HEADER.unpack_from(data, offset)
    if length == 0:
        return 0, "zero record length"
    if offset + HEADER.size + length > len(data):
        return 0, f"record length {length} runs past the end of the file ({len(data)} bytes)"
    start = offset + HEADER.size
    if data[start] not in RECORD_TYPES:
        return 0, f"unknown record type {data[start]}"
    if crc32c.crc32c(memoryview(data)[start : start + length]) != crc:
        return 0, "checksum mismatch"
    return length, ""


def _records(data: Data) -> Iterator[tuple[int, memoryview]]:
    """(offset, payload) of each record; raises _BadRecord at the first that is not valid."""
    view = memoryview(data)
    offset = 0
    while offset < len(data):
        length, reason = _check_record(data, offset)
        if not length:
            raise _BadRecord(offset, reason)
        start = offset + HEADER.size
        yield offset, view[start : start + length]
        offset = start + length


def _next_valid_offset(data: Data, start: int) -> int | None:
    """Where the next readable record starts after a bad one (a byte-by-byte resync)."""
    for offset in range(start, len(data) - HEADER.size):
        length = int.from_bytes(data[offset : offset + 4], "little")
        if 0 < length <= len(data) - offset - HEADER.size and _check_record(data, offset)[0]:
            return offset
    return None


def _count_records_from(data: Data, start: int | None) -> int:
    count = 0
    offset = start
    while offset is not None and offset < len(data):
        length, _ = _check_record(data, offset)
        if length:
            count += 1
            offset += HEADER.size + length
        else:
            offset = _next_valid_offset(data, offset + 1)
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
class ReplayStats:
    checkpoint: int | None = None
    segments: int = 0
    records: int = 0
    series: int = 0
    samples: int = 0
    dropped_tail_bytes: int = 0
    seconds: float = 0.0


@dataclass(slots=True)
class _Progress:
    records: int = 0
    series: int = 0
    samples: int = 0
    dropped_tail_bytes: int = 0


SeriesSink = Callable[[list[tuple[int, Labels]]], None]
SamplesSink = Callable[[I64, I64, F64, bool], None]
ReplayProgress = Callable[[int, int], None]
"""Called with (files replayed, files in all) before the first file and after each one;
the checkpoint's files count like segments."""


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
    on_series: SeriesSink,
    on_samples: SamplesSink,
    progress: _Progress,
    tail_may_tear: bool,
    metrics: WALMetrics | None,
) -> None:
    data = _mapped(path)
    try:
        for offset, payload in _records(data):
            kind = payload[0]
            try:
                if kind in SERIES_TYPES:
                    series = decode_series(payload)
                    on_series(series)
                    progress.series += len(series)
                else:
                    refs, ts, vs = decode_samples(payload)
                    on_samples(refs, ts, vs, kind == OOO_SAMPLES)
                    progress.samples += len(refs)
            except (ValueError, struct.error, UnicodeDecodeError) as err:
                raise _BadRecord(offset, f"record does not decode: {err}") from None
            progress.records += 1
    except _BadRecord as bad:
        if metrics is not None:
            metrics.corruptions.inc()
        if _next_valid_offset(data, bad.offset + 1) is not None or not tail_may_tear:
            raise WALCorruptionError(path, bad.offset, bad.reason) from None
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


def replay(
    wal_dir: Path,
    on_series: SeriesSink,
    on_samples: SamplesSink,
    metrics: WALMetrics | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_progress: ReplayProgress | None = None,
) -> ReplayStats:
    """Feed the latest checkpoint, then every later segment, to the sinks, in write order."""
    started = clock()
    progress = _Progress()
    checkpoint = latest_checkpoint(wal_dir)
    after = -1
    checkpoint_files: list[Path] = []
    if checkpoint is not None:
        after, checkpoint_dir = checkpoint
        checkpoint_files = list_segments(checkpoint_dir)
    segments = [p for p in list_segments(wal_dir) if segment_index(p) > after]
    total = len(checkpoint_files) + len(segments)
    report = on_progress if on_progress is not None else lambda done, total: None
    report(0, total)
    for done, path in enumerate(checkpoint_files, start=1):
        _replay_file(path, on_series, on_samples, progress, False, metrics)
        report(done, total)
    # The last segment with data may end torn (a crash mid-write); only empty ones follow it.
    sizes = [p.stat().st_size for p in segments]
    last_written = max((i for i, size in enumerate(sizes) if size), default=-1)
    for i, path in enumerate(segments):
        _replay_file(path, on_series, on_samples, progress, i == last_written, metrics)
        report(len(checkpoint_files) + i + 1, total)
    return ReplayStats(
        checkpoint=None if checkpoint is None else checkpoint[0],
        segments=len(segments),
        records=progress.records,
        series=progress.series,
        samples=progress.samples,
        dropped_tail_bytes=progress.dropped_tail_bytes,
        seconds=clock() - started,
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


def find_corruption(wal_dir: Path) -> RepairReport | None:
    """Scan checkpoint and segments; the first unreadable record, or None if all is well."""
    checkpoint = latest_checkpoint(wal_dir)
    after = -1
    files: list[Path] = []
    if checkpoint is not None:
        after = checkpoint[0]
        files.extend(list_segments(checkpoint[1]))
    files.extend(p for p in list_segments(wal_dir) if segment_index(p) > after)
    for i, path in enumerate(files):
        data = path.read_bytes()
        try:
            for offset, payload in _records(data):
                try:
                    if payload[0] in SERIES_TYPES:
                        decode_series(payload)
                    else:
                        decode_samples(payload)
                except (ValueError, struct.error, UnicodeDecodeError) as err:
                    raise _BadRecord(offset, f"record does not decode: {err}") from None
        except _BadRecord as bad:
            later = tuple(p for p in files[i + 1 :] if p.parent == wal_dir)
            records = _count_records_from(data, _next_valid_offset(data, bad.offset + 1))
            records += sum(_count_records_from(p.read_bytes(), 0) for p in later)
            dropped = len(data) - bad.offset + sum(p.stat().st_size for p in later)
            return RepairReport(path, bad.offset, bad.reason, dropped, records, later)
    return None


def repair(wal_dir: Path, apply: bool) -> RepairReport | None:
    """Truncate the WAL at its first unreadable record (and delete later segments) if `apply`;
    either way, report what that drops."""
    report = find_corruption(wal_dir)
    if report is None or not apply:
        return report
    with report.path.open("r+b") as handle:
        handle.truncate(report.offset)
        os.fsync(handle.fileno())
    for path in report.dropped_segments:
        path.unlink()
    fsync_dir(report.path.parent)
    return RepairReport(
        report.path,
        report.offset,
        report.reason,
        report.dropped_bytes,
        report.dropped_records,
        report.dropped_segments,
        applied=True,
    )


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
    the first unsynced write (`sync_if_due`, run by the TSDB's flusher thread), at every
    segment cut, tick and close, so a power loss costs at most that interval of commits
    (Prometheus itself fsyncs only when it completes a segment); "never" leaves it to the OS.
    """

    def __init__(
        self,
        directory: Path,
        segment_size: int = DEFAULT_SEGMENT_SIZE,
        fsync: FsyncPolicy = "batch",
        metrics: WALMetrics | None = None,
        clock: Callable[[], float] = time.perf_counter,
        sync_interval_s: float = 1.0,
    ) -> None:
        self.directory = directory
        self.segment_size = segment_size
        self.fsync_policy: FsyncPolicy = fsync
        self.sync_interval_s = sync_interval_s
        self._dirty_since: float | None = None  # clock() at the first write not yet fsynced
        self.metrics = metrics if metrics is not None else WALMetrics(CollectorRegistry())
        self._clock = clock
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
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
        data = b"".join(frame(p) for p in payloads)
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
                raise WALWriteError(
                    err.errno,
                    f"writing {len(data)} bytes to WAL segment {segment.path} failed ({reason}); "
                    "this commit was not applied, earlier commits are intact",
                ) from err
            segment.size += len(data)
            self._written += len(data)
            if self._dirty_since is None:
                self._dirty_since = self._clock()
            self.metrics.record_bytes.inc(len(data))
            return self._written

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

    def write_checkpoint(
        self, upto: int, series: list[tuple[int, Labels]], refs: I64, ts: I64, vs: F64
    ) -> Path:
        """Write `checkpoint.upto` atomically (temp dir + rename), then delete segments <= upto
        and older checkpoints: the head's state replaces the history that produced it."""
        self.metrics.checkpoint_creations.inc()
        final = self.directory / f"checkpoint.{upto:08d}"
        temp = self.directory / f"checkpoint.{upto:08d}.tmp"
        shutil.rmtree(temp, ignore_errors=True)
        temp.mkdir()
        path = temp / f"{0:08d}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            for start in range(0, len(series), _CHECKPOINT_SERIES_PER_RECORD):
                _write_all(
                    fd, frame(encode_series(series[start : start + _CHECKPOINT_SERIES_PER_RECORD]))
                )
            for start in range(0, len(refs), _CHECKPOINT_SAMPLES_PER_RECORD):
                end = start + _CHECKPOINT_SAMPLES_PER_RECORD
                _write_all(fd, frame(encode_samples(refs[start:end], ts[start:end], vs[start:end])))
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
