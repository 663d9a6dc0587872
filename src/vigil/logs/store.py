"""The disk log store: a WAL-backed head and immutable blocks behind `LogAppender` and
`LogQueryable`.

Layout of its dir: `lock`, `wal/` (the generic WAL of `tsdb.wlog` with the log store's
record types) and one dir per block (`<ULID>/`). A push returns once its record is written
(fsync policy as the TSDB's: "batch" fsyncs within `wal_fsync_interval_s`, "always" before
returning). `tick()`, driven by the caller's clock, cuts the head's chunks older than the
flush boundary (the out-of-order window back, rounded down to `block_range_ns`) into a
block, merges each finished day's blocks, and applies retention.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from vigil.logs._api import Entries, LogQuerier, PushResult
from vigil.logs.block import LogBlock, read_meta
from vigil.logs.block_list import BlockList
from vigil.logs.block_set import TickReport
from vigil.logs.compact import DAY_NS
from vigil.logs.head import HOUR_NS, Head, HeadOptions
from vigil.logs.limits import LogLimits, PushValidator, default_max_streams
from vigil.logs.metrics import LogStoreMetrics
from vigil.logs.querier import LogStoreQuerier
from vigil.logs.store_dir import WALFlusher, open_dir
from vigil.logs.wal import LogReplaySinks, replay
from vigil.model import Labels
from vigil.tsdb.db import DirLock
from vigil.tsdb.limits import memory_limit_bytes
from vigil.tsdb.wlog import WAL, FsyncPolicy
from vigil.tsdb.write_health import WriteHealth

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch; tests pass a fake one."""


@dataclass(frozen=True, slots=True)
class LogStoreOptions:
    """`limits.max_global_streams_per_user` sets the head's stream limit."""

    head: HeadOptions = field(default_factory=HeadOptions)
    limits: LogLimits = field(default_factory=LogLimits)
    block_range_ns: int = 2 * HOUR_NS
    compaction_range_ns: int = DAY_NS
    retention_ns: int = 7 * DAY_NS  # 0: keep forever
    retention_bytes: int = 0  # WAL and blocks; 0: no limit
    wal_segment_size: int = 64 * 1024 * 1024
    wal_fsync: FsyncPolicy = "batch"
    wal_fsync_interval_s: float = 1.0
    wal_repair: bool = True


class LogStore:
    """Open with `LogStore.open`; close to release the dir."""

    def __init__(
        self,
        path: Path,
        options: LogStoreOptions,
        clock: Clock,
        head: Head,
        wal: WAL,
        lock: DirLock,
        write_health: WriteHealth,
        metrics: LogStoreMetrics,
        blocks: list[LogBlock],
    ) -> None:
        self.path = path
        self.options = options
        self.head = head
        self.wal = wal
        self.write_health = write_health
        self._clock = clock
        self._lock = lock
        self.blocks = BlockList(path, blocks, head, wal)
        self._validator = PushValidator(options.limits, clock)
        self._metrics = metrics
        metrics.max_streams.set(head.options.max_streams)
        metrics.watch(
            lambda: head.num_streams,
            head.num_chunks,
            lambda: len(self.blocks.blocks),
            self.blocks.size_bytes,
        )
        self._maintenance = threading.Lock()
        self._flusher = WALFlusher(wal, options, "vigil-logs-wal-fsync", "log")

    @classmethod
    def open(
        cls,
        path: Path | str,
        options: LogStoreOptions | None = None,
        clock: Clock = time.time,
        registry: CollectorRegistry | None = None,
    ) -> LogStore:
        """Lock the dir and replay the WAL into a new head (a torn tail is dropped, other
        corruption repaired as the TSDB's, unless `wal_repair` is off)."""
        path = Path(path)
        options = options or LogStoreOptions()
        max_streams = options.limits.max_global_streams_per_user
        if max_streams is None:
            max_streams = default_max_streams(memory_limit_bytes())
        head = Head(dataclasses.replace(options.head, max_streams=max_streams))
        sinks = LogReplaySinks(head.replay_streams, head.replay_entries, head.replay_chunk)
        opened = open_dir(
            path,
            "--logs.storage.path",
            options,
            clock,
            read_meta=read_meta,
            open_block=LogBlock.open,
            noun="log",
            replay=lambda wal_dir: replay(wal_dir, sinks, None, options.wal_repair),
        )
        wal, stats, blocks = opened.wal, opened.replayed, opened.blocks
        head.wal = wal
        log.info(
            "replayed log WAL %s in %.3fs: checkpoint %s, %d segments, %d records, %d streams; "
            "%d blocks loaded",
            wal.directory,
            stats.seconds,
            stats.checkpoint,
            stats.segments,
            stats.records,
            head.num_streams,
            len(blocks),
        )
        metrics = LogStoreMetrics(registry if registry is not None else CollectorRegistry())
        return cls(path, options, clock, head, wal, opened.lock, opened.health, metrics, blocks)

    # ----- the two seams -----

    def push(self, streams: Sequence[Entries]) -> PushResult:
        """Loki's limits first (labels, entry times and sizes, ingestion rate), then the
        head's (stream limit, out-of-order window); refusals are counted by reason."""
        kept, discarded = self._validator.validate(streams)
        groups: dict[Labels, list[Entries]] = {}
        for batch in kept:
            groups.setdefault(batch.labels, []).append(batch)
        stored, token = self.head.append(groups)
        if token:
            self.wal.wait_durable(token)
        discarded.extend(stored.discarded)
        self._metrics.count(stored.lines, stored.bytes, discarded)
        return PushResult(stored.lines, stored.bytes, tuple(discarded))

    def querier(self, mint_ns: int, maxt_ns: int) -> LogQuerier:
        return LogStoreQuerier([self.blocks.chunks], mint_ns, maxt_ns)

    # ----- periodic work -----

    def tick(self) -> TickReport:
        """fsync the WAL ("batch"), cut a block from the head, compact, apply retention."""
        with self._maintenance:
            return self._tick()

    def _tick(self) -> TickReport:
        self.wal.sync()
        now_ns = int(self._clock() * 10**9)
        block_range = self.options.block_range_ns
        cutoff = (now_ns - self.head.options.out_of_order_window_ns) // block_range * block_range
        written = self.blocks.flush(cutoff)
        compacted = self.blocks.compact(cutoff, self.options.compaction_range_ns)
        deleted = self.blocks.apply_retention(
            now_ns, self.options.retention_ns, self.options.retention_bytes
        )
        return TickReport([written] if written else [], compacted, deleted)

    def size_bytes(self) -> int:
        """Disk used by WAL and blocks (what size retention counts)."""
        return self.wal.size_bytes() + self.blocks.size_bytes()

    # ----- lifecycle -----

    def close(self) -> None:
        """Stops a compaction in progress at its next chunk, then waits for the tick."""
        self.blocks.closing.set()
        self._maintenance.acquire()
        self._flusher.stop()
        self.wal.close()
        self._lock.release()

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
