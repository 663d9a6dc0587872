"""The disk span store: a WAL-backed head and immutable blocks behind `SpanAppender` and
`SpanQueryable`.

Layout of its dir: `lock`, `wal/` (the generic WAL of `tsdb.wlog` with the span store's
record type) and one dir per block (`<ULID>/`). An append returns once its record is
written (fsync policy as the TSDB's: "batch" fsyncs within `wal_fsync_interval_s`,
"always" before returning). `tick()`, driven by the caller's clock, merges the head's small
pages, cuts the spans older than the flush boundary (the out-of-order window back, rounded
down to `block_range_ns`) into a block per window, merges each finished day's blocks, and
applies retention (by age, and by `retention_bytes`: the store's share of the disk budget).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from vigil.logs.block_set import TickReport
from vigil.logs.store_dir import WALFlusher, open_dir
from vigil.traces._api import AppendResult, SpanQuerier, Spans
from vigil.traces.block import SpanBlock, read_meta
from vigil.traces.block_list import BlockList
from vigil.traces.head import HOUR_NS, Head, HeadOptions
from vigil.traces.store_metrics import TraceStoreMetrics
from vigil.traces.store_querier import TraceStoreQuerier
from vigil.traces.wal import replay
from vigil.tsdb.db import DirLock
from vigil.tsdb.wlog import WAL, FsyncPolicy
from vigil.tsdb.write_health import WriteHealth

log = logging.getLogger(__name__)

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch; tests pass a fake one."""
DAY_NS = 24 * HOUR_NS


@dataclass(frozen=True, slots=True)
class TraceStoreOptions:
    head: HeadOptions = field(default_factory=HeadOptions)
    block_range_ns: int = 2 * HOUR_NS
    block_page_spans: int = 8192  # bigger pages compress better, smaller ones read faster
    compaction_range_ns: int = DAY_NS
    retention_ns: int = 7 * DAY_NS  # 0: keep forever
    retention_bytes: int = 0  # WAL and blocks; 0: no limit
    wal_segment_size: int = 64 * 1024 * 1024
    wal_fsync: FsyncPolicy = "batch"
    wal_fsync_interval_s: float = 1.0
    wal_repair: bool = True


class TraceStore:
    """Open with `TraceStore.open`; close to release the dir."""

    def __init__(
        self,
        path: Path,
        options: TraceStoreOptions,
        clock: Clock,
        head: Head,
        wal: WAL,
        lock: DirLock,
        write_health: WriteHealth,
        metrics: TraceStoreMetrics,
        blocks: list[SpanBlock],
    ) -> None:
        self.path = path
        self.options = options
        self.head = head
        self.wal = wal
        self.write_health = write_health
        self._clock = clock
        self._lock = lock
        self._metrics = metrics
        self.blocks = BlockList(path, blocks, head, wal)
        metrics.watch(
            head.num_spans,
            head.num_pages,
            lambda: len(self.blocks.blocks),
            self.blocks.size_bytes,
            self.blocks.num_spans,
        )
        self._maintenance = threading.Lock()
        self._flusher = WALFlusher(wal, options, "vigil-traces-wal-fsync", "span")

    @classmethod
    def open(
        cls,
        path: Path | str,
        options: TraceStoreOptions | None = None,
        clock: Clock = time.time,
        registry: CollectorRegistry | None = None,
    ) -> TraceStore:
        """Lock the dir and replay the WAL into a new head (a torn tail is dropped, other
        corruption repaired as the TSDB's, unless `wal_repair` is off)."""
        path = Path(path)
        options = options or TraceStoreOptions()
        head = Head(options.head)
        opened = open_dir(
            path,
            "--traces.storage.path",
            options,
            clock,
            read_meta=read_meta,
            open_block=SpanBlock.open,
            noun="span",
            replay=lambda wal_dir: replay(wal_dir, head.replay_page, None, options.wal_repair),
            compression=False,
        )
        wal, stats, blocks = opened.wal, opened.replayed, opened.blocks
        head.wal = wal
        log.info(
            "replayed span WAL %s in %.3fs: checkpoint %s, %d segments, %d records, %d spans; "
            "%d blocks loaded",
            wal.directory,
            stats.seconds,
            stats.checkpoint,
            stats.segments,
            stats.records,
            head.num_spans(),
            len(blocks),
        )
        metrics = TraceStoreMetrics(registry if registry is not None else CollectorRegistry())
        return cls(path, options, clock, head, wal, opened.lock, opened.health, metrics, blocks)

    # ----- the two seams -----

    def append(self, spans: Spans) -> AppendResult:
        if not len(spans):
            return AppendResult(0)
        size, token = self.head.append(spans)
        if token:
            self.wal.wait_durable(token)
        self._metrics.count(len(spans), size)
        return AppendResult(len(spans))

    def querier(self, mint_ns: int, maxt_ns: int) -> SpanQuerier:
        return TraceStoreQuerier(self.blocks.pages, self.blocks.trace_pages, mint_ns, maxt_ns)

    # ----- periodic work -----

    def tick(self) -> TickReport:
        """fsync the WAL ("batch"), merge the head's small pages, cut blocks from the head,
        compact, apply retention."""
        with self._maintenance:
            self.wal.sync()
            self.head.merge_small_pages()
            now_ns = int(self._clock() * 10**9)
            block_range = self.options.block_range_ns
            window = self.head.options.out_of_order_window_ns
            cutoff = (now_ns - window) // block_range * block_range
            written = self.blocks.flush(cutoff, block_range, self.options.block_page_spans)
            compacted = self.blocks.compact(cutoff, self.options.compaction_range_ns)
            deleted = self.blocks.apply_retention(
                now_ns, self.options.retention_ns, self.options.retention_bytes
            )
            return TickReport(written, compacted, deleted)

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

    def __enter__(self) -> TraceStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
