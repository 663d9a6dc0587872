"""The embedded TSDB: a WAL-backed head plus persisted blocks behind one Appender/Querier.

`tick()` does the periodic work, driven by the caller's clock: cut the head into a block
once it spans more than 1.5 block ranges (Prometheus's rule), truncate the head and
checkpoint the WAL, then apply retention. Layout of the data dir: `lock`, `wal/`, and one
directory per block (`<ULID>/`).
"""

from __future__ import annotations

import errno
import fcntl
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.model import Labels, Matcher
from vigil.tsdb._api import Querier, SelectHints
from vigil.tsdb.block import (
    Block,
    delete_block,
    load_blocks,
    remove_leftovers,
    write_block,
)
from vigil.tsdb.cache import DecodedCache
from vigil.tsdb.compact import block_ranges, compact, plan
from vigil.tsdb.head import Head
from vigil.tsdb.head_append import HeadAppender
from vigil.tsdb.head_read import HeadQuerier
from vigil.tsdb.head_state import F64, I64, MAX_TIME, MIN_TIME, HeadOptions
from vigil.tsdb.index import CorruptBlockError
from vigil.tsdb.limits import default_max_series, memory_limit_bytes
from vigil.tsdb.retention import expired
from vigil.tsdb.series import SeriesBatch, SeriesData, merge_batches, merge_series
from vigil.tsdb.wal import HistogramSamples, ReplayStats, checkpoint_records, replay
from vigil.tsdb.wlog import (
    WAL,
    FsyncPolicy,
    ReplayProgress,
    WALMetrics,
    remove_stale_temp_dirs,
)
from vigil.tsdb.write_health import WriteHealth

log = logging.getLogger(__name__)

FSYNC_LOG_EVERY_S = 60.0

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch; tests pass a fake one."""

HOUR_MS = 3_600_000
# WAL replay applies in-order records in batches of at least this many samples, and of at
# least _REPLAY_RUN samples per series, so per-series work (one row per series and batch) is
# spread over a run of samples; the batch is views of the mapped segments until applied.
_REPLAY_BATCH_SAMPLES = 4_000_000
_REPLAY_RUN = 32
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, slots=True)
class TSDBOptions:
    """`max_series=None` derives the series limit from the memory limit (see limits.py); 0 is
    unlimited. `retention_bytes` counts WAL and blocks; 0 disables size retention."""

    block_range_ms: int = 2 * HOUR_MS
    retention_ms: int = 15 * DAY_MS
    retention_bytes: int = 0
    out_of_order_time_window_ms: int = 0
    max_future_ms: int = 10 * 60 * 1000  # refuse samples newer than now + this; 0: no bound
    max_series: int | None = None
    wal_segment_size: int = 128 * 1024 * 1024
    wal_fsync: FsyncPolicy = "batch"
    wal_fsync_interval_s: float = 1.0  # "batch": fsync at most this long after a write
    # a corrupt WAL record before the torn tail: truncate there and start (Prometheus's
    # repair), or refuse to open with WALCorruptionError
    wal_repair: bool = True
    chunk_samples: int = 120
    # decoded block series kept for queries (DecodedCache); 0 turns the cache off
    block_cache_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TSDBStats:
    """What `/api/v1/status/tsdb` shows (Prometheus's headStats and cardinality lists)."""

    head_series: int
    head_chunks: int
    head_min_time: int
    head_max_time: int
    series_count_by_metric_name: list[tuple[str, int]]
    label_value_count_by_label_name: list[tuple[str, int]]
    memory_in_bytes_by_label_name: list[tuple[str, int]]
    series_count_by_label_value_pair: list[tuple[str, int]]
    max_series: int
    refused_series_by_metric_name: list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick did."""

    blocks_written: list[Path] = field(default_factory=list)
    blocks_compacted: list[Path] = field(default_factory=list)
    blocks_deleted: list[Path] = field(default_factory=list)
    series_removed: int = 0


class DataDirError(OSError):
    """The data dir cannot be used: names the path and what is wrong with it."""


class DirLock:
    """An exclusive `flock` on DATA/lock held while the TSDB is open; released by the
    kernel if the process dies, so a crash never leaves a stale lock behind."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise DataDirError(
                errno.EBUSY,
                f"data dir {path.parent} is in use by another process (lock file {path} is held)",
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def prepare_dir(path: Path, flag: str = "--storage.tsdb.path") -> None:
    """Create the data dir if needed; DataDirError naming `flag` if it cannot be used."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except PermissionError as err:
        raise DataDirError(
            errno.EACCES,
            f"cannot create data dir {path}: permission denied on {err.filename or path} "
            f"(running as uid {os.getuid()}); create it or pick another {flag}",
        ) from None
    except OSError as err:
        raise DataDirError(err.errno, f"cannot create data dir {path}: {err.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise DataDirError(
            errno.EACCES,
            f"data dir {path} is not writable by uid {os.getuid()} (mode {path.stat().st_mode & 0o777:o})",
        )


class DBMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.blocks_loaded = Gauge(
            "prometheus_tsdb_blocks_loaded",
            "Number of currently loaded data blocks",
            registry=registry,
        )
        self.storage_blocks_bytes = Gauge(
            "prometheus_tsdb_storage_blocks_bytes",
            "The number of bytes that are currently used for local storage by all blocks.",
            registry=registry,
        )
        self.head_compactions = Counter(
            "prometheus_tsdb_compactions",
            "Total number of compactions that were executed.",
            registry=registry,
        )
        self.compactions_failed = Counter(
            "prometheus_tsdb_compactions_failed",
            "Total number of compactions that failed for the partition.",
            registry=registry,
        )
        self.block_compactions = Counter(
            "vigil_tsdb_block_compactions",
            "Blocks written by merging other blocks (leveled or overlapping).",
            registry=registry,
        )
        self.time_retentions = Counter(
            "prometheus_tsdb_time_retentions",
            "The number of times that blocks were deleted because the maximum time limit was exceeded.",
            registry=registry,
        )
        self.size_retentions = Counter(
            "prometheus_tsdb_size_retentions",
            "The number of times that blocks were deleted because the maximum number of bytes was exceeded.",
            registry=registry,
        )
        self.corrupt_blocks = Gauge(
            "vigil_tsdb_blocks_corrupt",
            "Blocks found corrupt (on open or by a read): reads that need what is broken fail "
            "until `vigil tsdb repair` moves them to quarantine.",
            registry=registry,
        )
        self.max_series = Gauge(
            "vigil_tsdb_head_max_series",
            "Series the head accepts before refusing new ones (0: no limit).",
            registry=registry,
        )


class TSDB:
    """Open with `TSDB.open`; close to release the data dir."""

    def __init__(
        self,
        path: Path,
        options: TSDBOptions,
        clock: Clock,
        head: Head,
        wal: WAL,
        blocks: list[Block],
        lock: DirLock,
        metrics: DBMetrics,
        replay_stats: ReplayStats,
        block_cache: DecodedCache | None = None,
        unusable_blocks: Sequence[CorruptBlockError] = (),
        write_health: WriteHealth | None = None,
    ) -> None:
        """`unusable_blocks`: block directories left out because their range is unknown."""
        self.path = path
        self.write_health = write_health if write_health is not None else WriteHealth(clock)
        self.block_cache = block_cache
        self.options = options
        self.head = head
        self.wal = wal
        self.replay_stats = replay_stats
        self._clock = clock
        self._blocks = blocks
        self._blocks_lock = threading.Lock()  # the list, against queriers picking blocks
        self._lock = lock
        self._metrics = metrics
        self._refused_logged = 0
        self.unusable_blocks = list(unusable_blocks)
        metrics.corrupt_blocks.set_function(
            lambda: len(self.unusable_blocks) + sum(b.corruption is not None for b in self.blocks)
        )
        self._update_block_metrics()
        self._flusher: threading.Thread | None = None
        if options.wal_fsync == "batch" and options.wal_fsync_interval_s > 0:
            self._flusher = threading.Thread(
                target=self._flush_wal, name="vigil-wal-fsync", daemon=True
            )
            self._flusher.start()

    @classmethod
    def open(
        cls,
        path: Path | str,
        options: TSDBOptions | None = None,
        clock: Clock = time.time,
        registry: CollectorRegistry | None = None,
        on_replay_progress: ReplayProgress | None = None,
    ) -> TSDB:
        """Lock the dir, load blocks, replay the WAL into a new head. Raises DataDirError, or
        WALCorruptionError (which says how to repair) when `options.wal_repair` is off; with
        it on, a corrupt WAL is truncated at the bad record, saying so in the log."""
        return cls.prepare(path, options, clock, registry).load(on_replay_progress)

    @classmethod
    def prepare(
        cls,
        path: Path | str,
        options: TSDBOptions | None = None,
        clock: Clock = time.time,
        registry: CollectorRegistry | None = None,
    ) -> TSDBLoader:
        """The fast half of `open`: create and lock the data dir (DataDirError at once); the
        returned loader's `load()` does the slow half, which a server runs in the background."""
        path = Path(path)
        prepare_dir(path)
        return TSDBLoader(
            path,
            options or TSDBOptions(),
            clock,
            registry if registry is not None else CollectorRegistry(),
            DirLock(path / "lock"),
        )

    @classmethod
    def _load(
        cls,
        path: Path,
        options: TSDBOptions,
        clock: Clock,
        registry: CollectorRegistry,
        lock: DirLock,
        on_replay_progress: ReplayProgress | None,
    ) -> TSDB:
        max_series = options.max_series
        if max_series is None:
            max_series = default_max_series(memory_limit_bytes())
        metrics = DBMetrics(registry)
        metrics.max_series.set(max_series)
        for leftover in remove_leftovers(path):
            log.info("removed leftover block directory %s", leftover)
        cache = DecodedCache(options.block_cache_bytes) if options.block_cache_bytes > 0 else None
        blocks, unusable = load_blocks(path, cache)
        head = Head(
            HeadOptions(
                block_range_ms=options.block_range_ms,
                out_of_order_time_window_ms=options.out_of_order_time_window_ms,
                max_series=max_series,
                chunk_samples=options.chunk_samples,
                max_future_ms=options.max_future_ms,
            ),
            registry,
            clock=clock,
        )
        if blocks:
            head.set_min_valid_time(max(b.meta.maxt for b in blocks) + 1)
        wal_dir = path / "wal"
        remove_stale_temp_dirs(wal_dir)
        wal_metrics = WALMetrics(registry)
        try:

            def add_series(series: list[tuple[int, Labels]]) -> None:
                head.replay_series_many(series)

            # In-order records are applied many at a time: each series then gets a run of
            # samples per batch, placed and chunked row-wise (see Head.replay_in_order).
            pending: list[tuple[I64, I64, F64]] = []
            pending_samples = [0]

            def flush() -> None:
                if pending:
                    head.replay_in_order(pending)
                    pending.clear()
                    pending_samples[0] = 0

            def add_samples(refs: I64, ts: I64, vs: F64, out_of_order: bool) -> None:
                if out_of_order:
                    flush()
                    head.replay(refs, ts, vs, True)
                    return
                pending.append((refs, ts, vs))
                pending_samples[0] += len(refs)
                if pending_samples[0] >= max(_REPLAY_BATCH_SAMPLES, _REPLAY_RUN * head.num_series):
                    flush()

            def add_histograms(samples: HistogramSamples) -> None:
                flush()
                head.replay_histograms(samples)

            # Replay creates millions of lasting objects (labels, postings) and no cycles:
            # the cyclic collector would only rescan them, over and over (2-3x the time).
            collecting = gc.isenabled()
            gc.disable()
            try:
                stats = replay(
                    wal_dir,
                    add_series,
                    add_samples,
                    wal_metrics,
                    on_progress=on_replay_progress,
                    repair=options.wal_repair,
                    on_histograms=add_histograms,
                )
                flush()
            finally:
                if collecting:
                    gc.enable()
        except BaseException:
            for block in blocks:
                block.close()
            raise
        if stats.repaired is not None:
            wal_metrics.repair_time.set(clock())
        health = WriteHealth(clock, registry)
        wal = WAL(
            wal_dir,
            options.wal_segment_size,
            options.wal_fsync,
            wal_metrics,
            sync_interval_s=options.wal_fsync_interval_s,
            health=health,
        )
        head.attach_wal(wal)
        log.info(
            "replayed WAL %s in %.3fs: checkpoint %s, %d segments, %d series, %d samples; %d blocks loaded",
            wal_dir,
            stats.seconds,
            stats.checkpoint,
            stats.segments,
            stats.series,
            stats.samples,
            len(blocks),
        )
        return cls(
            path, options, clock, head, wal, blocks, lock, metrics, stats, cache, unusable, health
        )

    # ----- the two seams -----

    def appender(self) -> HeadAppender:
        return self.head.appender()

    def querier(self, mint: int, maxt: int) -> TSDBQuerier:
        """Blocks overlapping [mint, maxt] and the head, merged (head wins on equal timestamps).
        The querier holds its blocks until closed: a tick meanwhile defers their deletion."""
        with self._blocks_lock:
            blocks = [b for b in self._blocks if b.meta.mint <= maxt and b.meta.maxt >= mint]
            for block in blocks:
                block.acquire()
        return TSDBQuerier(
            [b.querier(mint, maxt) for b in blocks], self.head.querier(mint, maxt), blocks
        )

    @property
    def blocks(self) -> list[Block]:
        return list(self._blocks)

    def _add_block(self, block: Block) -> None:
        with self._blocks_lock:
            self._blocks.append(block)
            self._blocks.sort(key=lambda b: (b.meta.mint, b.meta.maxt))

    # ----- periodic work -----

    def tick(self) -> TickReport:
        """fsync the WAL ("batch" policy), cut the head into blocks while it spans more than
        1.5 block ranges, compact blocks, then apply retention (relative to the clock)."""
        self.wal.sync()
        try:
            written, removed = self._cut_head()
            compacted = self._compact()
        except Exception:
            self._metrics.compactions_failed.inc()
            raise
        deleted = self._apply_retention()
        self._log_refused_series()
        self._update_block_metrics()
        return TickReport(written, compacted, deleted, removed)

    def _cut_head(self) -> tuple[list[Path], int]:
        """Write the head's oldest block ranges out while it spans more than 1.5 of them;
        the blocks written and the series the head dropped."""
        written: list[Path] = []
        removed = 0
        block_range = self.options.block_range_ms
        while True:
            head_min, head_max = self.head.min_time, self.head.max_time
            if (
                head_max == MIN_TIME
                or head_min == MAX_TIME
                or head_max - head_min <= block_range * 3 // 2
            ):
                break
            start = head_min - head_min % block_range
            end = start + block_range  # exclusive
            series = self.head.querier(start, end - 1).select([])
            path = write_block(self.path, series, start, end - 1)
            self._add_block(Block.open(path, self.block_cache))
            written.append(path)
            self._metrics.head_compactions.inc()
            removed += self.head.truncate(end)
            self._checkpoint()
            log.info("cut head [%d, %d] into block %s", start, end - 1, path)
        return written, removed

    def _flush_wal(self) -> None:
        """The "batch" policy's timer: fsync once a write has waited for it a whole interval
        (asleep while nothing is written)."""
        failing_since: float | None = None  # a failing fsync is logged once, then once a minute
        logged_at = 0.0
        while self.wal.await_sync():
            try:
                synced = self.wal.sync_if_due()
            except OSError as err:
                now = time.monotonic()
                if failing_since is None or now - logged_at >= FSYNC_LOG_EVERY_S:
                    failing = "" if failing_since is None else f" (for {now - failing_since:.0f}s)"
                    log.error(
                        "fsync of WAL segment in %s failed%s: %s", self.wal.directory, failing, err
                    )
                    logged_at = now
                    failing_since = now if failing_since is None else failing_since
                continue
            if synced and failing_since is not None:
                log.warning("fsync of WAL segments in %s works again", self.wal.directory)
                failing_since = None

    def _checkpoint(self) -> None:
        with self.head.locked():
            upto = self.wal.cut_segment()
            snapshot = self.head.snapshot()
        self.wal.write_checkpoint(
            upto,
            checkpoint_records(
                snapshot.series,
                snapshot.refs,
                snapshot.timestamps,
                snapshot.values,
                snapshot.histograms,
            ),
        )

    def _compact(self) -> list[Path]:
        """Merge blocks as the leveled planner says (overlapping ones first) until it is done."""
        written: list[Path] = []
        ranges = block_ranges(self.options.retention_ms, self.options.block_range_ms)
        while groups := plan([b for b in self._blocks if b.corruption is None], ranges):
            for group in groups:
                try:
                    path = compact(self.path, group)
                except CorruptBlockError:
                    if not any(b.corruption for b in group):
                        raise
                    break  # the block found corrupt is marked: the next plan leaves it out
                self._add_block(Block.open(path, self.block_cache))
                for source in group:
                    self._delete(source)
                written.append(path)
                self._metrics.block_compactions.inc()
        return written

    def _apply_retention(self) -> list[Path]:
        """Drop blocks wholly older than retention_ms before now, then the oldest ones while
        WAL + blocks exceed retention_bytes (retention.expired: Prometheus's rules)."""
        now_ms = int(self._clock() * 1000)
        doomed = expired(
            self._blocks,
            now_ms,
            self.options.retention_ms,
            self.options.retention_bytes,
            other_bytes=self.wal.size_bytes(),
        )
        for block in doomed:
            self._delete(block)
            if block.meta.maxt < now_ms - self.options.retention_ms:
                self._metrics.time_retentions.inc()
            else:
                self._metrics.size_retentions.inc()
        return [block.path for block in doomed]

    def _delete(self, block: Block) -> None:
        """Unlist the block now; its directory goes once the queriers holding it close."""
        with self._blocks_lock:
            self._blocks.remove(block)
        delete_block(block)

    def _log_refused_series(self) -> None:
        top = self.head.refused_series_top(5)
        refused = sum(count for _, count in self.head.refused_series_top(1_000_000))
        if refused > self._refused_logged:
            log.warning(
                "series limit %d reached: %d new series refused so far; top metric names: %s",
                self.head.options.max_series,
                refused,
                ", ".join(f"{name or '<no name>'} ({count})" for name, count in top),
            )
            self._refused_logged = refused

    def _update_block_metrics(self) -> None:
        self._metrics.blocks_loaded.set(len(self._blocks))
        self._metrics.storage_blocks_bytes.set(sum(b.size_bytes for b in self._blocks))

    # ----- status -----

    def size_bytes(self) -> int:
        """Disk used by WAL and blocks (what size retention counts)."""
        return self.wal.size_bytes() + sum(b.size_bytes for b in self._blocks)

    def refused_series_top(self, n: int = 10) -> list[tuple[str, int]]:
        return self.head.refused_series_top(n)

    def stats(self, limit: int = 10) -> TSDBStats:
        head = self.head
        return TSDBStats(
            head_series=head.num_series,
            head_chunks=head.num_chunks,
            head_min_time=head.min_time if head.num_series else 0,
            head_max_time=head.max_time if head.max_time != MIN_TIME else 0,
            series_count_by_metric_name=head.series_count_by_metric_name(limit),
            label_value_count_by_label_name=head.label_value_count_by_name(limit),
            memory_in_bytes_by_label_name=head.memory_in_bytes_by_label_name(limit),
            series_count_by_label_value_pair=head.series_count_by_label_pair(limit),
            max_series=head.options.max_series,
            refused_series_by_metric_name=head.refused_series_top(limit),
        )

    def close(self) -> None:
        self.wal.stop_waiting()
        if self._flusher is not None:
            self._flusher.join()
        self.wal.close()
        for block in self._blocks:
            block.close()
        self._lock.release()

    def __enter__(self) -> TSDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TSDBLoader:
    """A created and locked data dir whose blocks and WAL are not loaded yet."""

    def __init__(
        self,
        path: Path,
        options: TSDBOptions,
        clock: Clock,
        registry: CollectorRegistry,
        lock: DirLock,
    ) -> None:
        self.path = path
        self._args = (options, clock, registry, lock)

    def load(self, on_replay_progress: ReplayProgress | None = None) -> TSDB:
        """Load blocks and replay the WAL; on failure the dir is unlocked again."""
        options, clock, registry, lock = self._args
        try:
            return TSDB._load(self.path, options, clock, registry, lock, on_replay_progress)
        except BaseException:
            lock.release()
            raise

    def abandon(self) -> None:
        """Unlock the dir without loading it."""
        self._args[3].release()


class TSDBQuerier:
    """Block queriers and the head querier as one Querier; overlapping samples deduplicated.
    Releases the blocks it holds (`held`) on close."""

    def __init__(
        self, blocks: Sequence[Querier], head: HeadQuerier, held: Sequence[Block] = ()
    ) -> None:
        self._parts: list[Querier] = [*blocks, head]
        self._held = list(held)

    def _queriers(self) -> list[Querier]:
        return self._parts

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> Iterator[SeriesData]:
        streams = [q.select(matchers, hints) for q in self._queriers()]
        if len(streams) == 1:
            return iter(streams[0])
        return merge_series(streams)

    def select_batch(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesBatch:
        return merge_batches([q.select_batch(matchers, hints) for q in self._queriers()])

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({name for q in self._queriers() for name in q.label_names(matchers)})

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        return sorted({value for q in self._queriers() for value in q.label_values(name, matchers)})

    def series(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return sorted({labels for q in self._queriers() for labels in q.series(matchers)})

    def close(self) -> None:
        for q in self._queriers():
            q.close()
        held, self._held = self._held, []
        for block in held:
            block.release()
