"""remote_write: one queue per `remote_write` entry, fed from the WAL, sending Remote-Write 1.0.

Per queue: a WAL watcher reads sample records; samples of series that survive external
labels + write_relabel_configs are split over shards by series ref (so each series stays in
order); each shard is an asyncio task that sends a snappy-compressed WriteRequest when it
holds max_samples_per_send samples or batch_send_deadline has passed, retrying 5xx, network
errors and (with retry_on_http_429) 429 with exponential backoff, and dropping a batch that
got another 4xx (counted in `..._samples_failed_total` and, by status code, in
`vigil_remote_storage_samples_rejected_total`). The watcher stops reading while the shards
hold `capacity` samples each, so an outage leaves the backlog in the WAL; the position of
the oldest record not yet delivered is saved under `DATA/remote_write/<queue>/position.json`
so a restart resends from there (at least once, never skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cramjam
import httpx
import numpy as np
import numpy.typing as npt
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from vigil import __version__
from vigil.config.http_client import async_client
from vigil.config.prometheus import Config
from vigil.config.remote import QueueConfig, RemoteWriteConfig
from vigil.config.shown import redact_url
from vigil.model import Labels
from vigil.model.clock import Clock, SystemClock
from vigil.remote.encode import LabelTable, encode_metadata
from vigil.remote.watcher import Position, SampleRecord, WALWatcher
from vigil.scrape.metadata import MetadataSource
from vigil.scrape.relabel import relabel
from vigil.tsdb.series import Histograms, histogram_column

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

USER_AGENT = f"vigil/{__version__}"
REMOTE_WRITE_VERSION = "0.1.0"
METADATA_TYPES = {
    "unknown": 0,
    "counter": 1,
    "gauge": 2,
    "histogram": 3,
    "gaugehistogram": 4,
    "summary": 5,
    "info": 6,
    "stateset": 7,
}
SHARD_UPDATE_INTERVAL = 10.0  # seconds, as Prometheus's shardUpdateDuration


class RemoteWriteMetrics:
    """Prometheus's remote storage self-metrics (labels remote_name and url)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        q = ("remote_name", "url")
        self.samples = Counter(
            "prometheus_remote_storage_samples",
            "Total number of samples sent to remote storage.",
            q,
            registry=registry,
        )
        self.failed = Counter(
            "prometheus_remote_storage_samples_failed",
            "Total number of samples which failed on send to remote storage, non-recoverable errors.",
            q,
            registry=registry,
        )
        self.histograms = Counter(
            "prometheus_remote_storage_histograms",
            "Total number of histograms sent to remote storage.",
            q,
            registry=registry,
        )
        self.histograms_failed = Counter(
            "prometheus_remote_storage_histograms_failed",
            "Total number of histograms which failed on send to remote storage, non-recoverable errors.",
            q,
            registry=registry,
        )
        self.retried = Counter(
            "prometheus_remote_storage_samples_retried",
            "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
            q,
            registry=registry,
        )
        self.dropped = Counter(
            "prometheus_remote_storage_samples_dropped",
            "Total number of samples which were dropped after being read from the WAL before being sent via remote write, either via relabelling, due to being too old or unintentionally because of an unknown reference ID.",
            (*q, "reason"),
            registry=registry,
        )
        self.rejected = Counter(
            "vigil_remote_storage_samples_rejected",
            "Samples dropped because the remote end answered a non-retryable HTTP status.",
            (*q, "code"),
            registry=registry,
        )
        self.pending = Gauge(
            "prometheus_remote_storage_samples_pending",
            "The number of samples pending in the queues shards to be sent to the remote storage.",
            q,
            registry=registry,
        )
        self.highest_timestamp = Gauge(
            "prometheus_remote_storage_highest_timestamp_in_seconds",
            "Highest timestamp that has come into the remote storage via the Appender interface, in seconds since epoch.",
            registry=registry,
        )
        self.highest_sent = Gauge(
            "prometheus_remote_storage_queue_highest_sent_timestamp_seconds",
            "Timestamp from a WAL sample, the highest timestamp successfully sent by this queue, in seconds since epoch.",
            q,
            registry=registry,
        )
        self.shards = Gauge(
            "prometheus_remote_storage_shards",
            "The number of shards used for parallel sending to the remote storage.",
            q,
            registry=registry,
        )
        self.shards_max = Gauge(
            "prometheus_remote_storage_shards_max",
            "The number of shards used for parallel sending to the remote storage.",
            q,
            registry=registry,
        )
        self.shards_min = Gauge(
            "prometheus_remote_storage_shards_min",
            "The number of shards used for parallel sending to the remote storage.",
            q,
            registry=registry,
        )
        self.shards_desired = Gauge(
            "prometheus_remote_storage_shards_desired",
            "The number of shards that the queues shard calculation wants to run based on the rate of samples in vs. samples out.",
            q,
            registry=registry,
        )
        self.bytes = Counter(
            "prometheus_remote_storage_bytes",
            "The total number of bytes of data (not metadata) sent by the queue after compression.",
            q,
            registry=registry,
        )
        self.metadata = Counter(
            "prometheus_remote_storage_metadata",
            "Total number of metadata entries sent to remote storage.",
            q,
            registry=registry,
        )
        self.metadata_failed = Counter(
            "prometheus_remote_storage_metadata_failed",
            "Total number of metadata entries which failed on send to remote storage, non-recoverable errors.",
            q,
            registry=registry,
        )
        self.batch_duration = Histogram(
            "prometheus_remote_storage_sent_batch_duration_seconds",
            "Duration of send calls to the remote storage.",
            q,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 60, 120, 300),
            registry=registry,
        )
        self._highest_seen = 0.0

    def note_timestamp(self, seconds: float) -> None:
        """A sample read from the WAL: keeps the highest-timestamp gauge (shared by queues)."""
        if seconds > self._highest_seen:
            self._highest_seen = seconds
            self.highest_timestamp.set(seconds)


def queue_name(config: RemoteWriteConfig) -> str:
    """The queue's `remote_name`: its `name`, else a short hash of its URL (stable across
    reloads that change other fields, so the saved position keeps applying)."""
    return config.name or hashlib.sha256(config.url.encode()).hexdigest()[:6]


@dataclass(slots=True)
class _Record:
    """A WAL record's samples in flight: done when all were delivered or dropped."""

    end: Position
    remaining: int


@dataclass(slots=True)
class _Shard:
    refs: list[I64] = field(default_factory=list)
    ts: list[I64] = field(default_factory=list)
    vs: list[F64] = field(default_factory=list)
    seqs: list[I64] = field(default_factory=list)
    hs: list[Histograms | None] = field(default_factory=list)  # per chunk, as SampleRecord's
    pending: int = 0
    oldest_at: float = 0.0  # clock time the oldest pending sample was queued
    busy: bool = False  # a batch taken from this shard is being sent
    flush: bool = False  # send what is pending now (resharding)
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def put(
        self, refs: I64, ts: I64, vs: F64, seqs: I64, now: float, hs: Histograms | None = None
    ) -> None:
        if not self.pending:
            self.oldest_at = now
        self.hs.append(hs)
        self.refs.append(refs)
        self.ts.append(ts)
        self.vs.append(vs)
        self.seqs.append(seqs)
        self.pending += len(refs)
        self.wake.set()

    def take(self, limit: int, now: float) -> tuple[I64, I64, F64, I64, Histograms | None]:
        """The oldest `limit` pending samples (copying only the chunks they come from), and
        their histogram column if any of them is a histogram."""
        count = 0
        chunks = 0
        while chunks < len(self.refs) and count < limit:
            count += len(self.refs[chunks])
            chunks += 1
        hs = self._take_histograms(chunks, limit)
        refs = _pop_front(self.refs, chunks, limit)
        ts = _pop_front(self.ts, chunks, limit)
        vs = _pop_front(self.vs, chunks, limit)
        seqs = _pop_front(self.seqs, chunks, limit)
        self.pending -= len(refs)
        self.oldest_at = now
        return refs, ts, vs, seqs, hs

    def _take_histograms(self, chunks: int, limit: int) -> Histograms | None:
        taken = self.hs[:chunks]
        del self.hs[:chunks]
        if all(h is None for h in taken):
            if sum(len(r) for r in self.refs[:chunks]) > limit:
                self.hs.insert(0, None)
            return None
        column = np.concatenate(
            [
                histogram_column(len(r)) if h is None else h
                for h, r in zip(taken, self.refs[:chunks], strict=True)
            ]
        )
        if len(column) > limit:
            self.hs.insert(0, column[limit:])
        return column[:limit]


A = TypeVar("A", I64, F64)


def _pop_front(queue: list[A], chunks: int, limit: int) -> A:
    """The first `limit` values of the first `chunks` arrays of queue, removed from it."""
    taken = np.concatenate(queue[:chunks]) if chunks > 1 else queue[0]
    del queue[:chunks]
    if len(taken) > limit:
        queue.insert(0, taken[limit:])
    return taken[:limit]


class _Rejected(Exception):
    def __init__(self, code: int, body: str) -> None:
        super().__init__(f"server returned HTTP status {code}: {body[:256]}")
        self.code = code


class _Recoverable(Exception):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class QueueManager:
    """One remote_write queue: WAL watcher → shards → HTTP."""

    def __init__(
        self,
        config: RemoteWriteConfig,
        external_labels: Labels,
        wal_dir: Path,
        state_dir: Path,
        metrics: RemoteWriteMetrics,
        clock: Clock | None = None,
        client: httpx.AsyncClient | None = None,
        metadata_source: MetadataSource | None = None,
        poll_interval: float = 0.25,
        position_save_interval: float = 1.0,
    ) -> None:
        self.config = dataclasses.replace(config, queue_config=_usable(config.queue_config))
        self.name = queue_name(config)
        self.external_labels = external_labels
        self.wal_dir = wal_dir
        self.position_file = state_dir / self.name / "position.json"
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._client = client if client is not None else async_client(config.http_client)
        self._owns_client = client is None
        self._metadata_source = metadata_source
        self.poll_interval = poll_interval
        self.position_save_interval = position_save_interval
        q = self.config.queue_config
        labels = (self.name, redact_url(config.url))
        self._m_samples = metrics.samples.labels(*labels)
        self._m_failed = metrics.failed.labels(*labels)
        self._m_histograms = metrics.histograms.labels(*labels)
        self._m_histograms_failed = metrics.histograms_failed.labels(*labels)
        self._m_retried = metrics.retried.labels(*labels)
        self._m_dropped = {
            reason: metrics.dropped.labels(*labels, reason)
            for reason in ("dropped_series", "unintentionally_dropped_series", "too_old")
        }
        self._metrics = metrics
        self._m_rejected = metrics.rejected
        self._m_pending = metrics.pending.labels(*labels)
        self._m_highest_sent = metrics.highest_sent.labels(*labels)
        self._m_shards = metrics.shards.labels(*labels)
        self._m_desired = metrics.shards_desired.labels(*labels)
        self._m_bytes = metrics.bytes.labels(*labels)
        self._m_metadata = metrics.metadata.labels(*labels)
        self._m_metadata_failed = metrics.metadata_failed.labels(*labels)
        self._m_duration = metrics.batch_duration.labels(*labels)
        self._labels = labels
        metrics.shards_max.labels(*labels).set(q.max_shards)
        metrics.shards_min.labels(*labels).set(q.min_shards)
        self._table = LabelTable()
        self._shards: list[_Shard] = []
        self._shard_tasks: list[asyncio.Task[None]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._records: deque[tuple[int, _Record]] = deque()
        self._by_seq: dict[int, _Record] = {}
        self._next_seq = 0
        self._delivered: Position | None = None
        self._saved: Position | None = None
        self._last_save = 0.0
        self._highest_sent = 0.0
        self._watcher: WALWatcher | None = None
        # Rates for the desired-shards estimate (Prometheus's calculateDesiredShards, simplified).
        self._sent_since = 0
        self._send_seconds = 0.0
        self._read_since = 0
        self._rate_from = 0.0
        self._saturated = False  # the shards were full at some point of this interval
        self._failing = False  # the last send attempt failed and is being retried
        self._room = asyncio.Event()  # a shard sent a batch: the reader may read on

    # ----- lifecycle -----

    async def start(self) -> None:
        """Open the watcher at the saved position (its scan of the WAL for series runs in a
        thread) and start reading and sending."""
        start = Position.load(self.position_file)
        self._watcher = await asyncio.to_thread(WALWatcher, self.wal_dir, self._add_series, start)
        self._delivered = self._watcher.position
        if start != self._delivered:  # first start, or the saved segment was checkpointed away
            self._save_position(force=True)
        else:
            self._saved = start
        self._rate_from = self.clock.now()
        self._start_shards(max(1, self.config.queue_config.min_shards))
        self._m_desired.set(len(self._shards))
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._read_loop()))
        if self._metadata_source is not None and self.config.metadata_config.send:
            self._tasks.append(loop.create_task(self._metadata_loop()))

    def _start_shards(self, count: int) -> None:
        loop = asyncio.get_running_loop()
        self._shards = [_Shard() for _ in range(count)]
        self._shard_tasks = [loop.create_task(self._shard_loop(s)) for s in self._shards]
        self._m_shards.set(count)

    async def stop(self) -> None:
        """Stop reading and sending; the saved position covers only what was delivered, so
        what was still queued is sent again by the next start."""
        tasks = [*self._tasks, *self._shard_tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._save_position(force=True)
        if self._owns_client:
            await self._client.aclose()

    # ----- series and samples from the WAL -----

    def _add_series(self, series: list[tuple[int, Labels]]) -> None:
        extra = self.external_labels
        configs = self.config.write_relabel_configs
        if extra:
            series = [
                (ref, Labels.from_dict({**dict(extra), **dict(labels)})) for ref, labels in series
            ]
        if configs:
            self._table.set_many([(ref, relabel(labels, configs)) for ref, labels in series])
        else:
            self._table.set_many(series)

    async def _read_loop(self) -> None:
        assert self._watcher is not None
        q = self.config.queue_config
        while True:
            room = q.capacity * len(self._shards) - self.pending()
            if room <= 0:
                self._saturated = True
            records = self._watcher.read(room) if room > 0 else []
            for record in records:
                self._dispatch(record)
            if self._watcher.position != self._delivered and not self._records:
                self._delivered = self._watcher.position  # only series records were read
            self._save_position()
            self._m_pending.set(self.pending())
            if self.clock.now() - self._rate_from >= SHARD_UPDATE_INTERVAL:
                desired = self.desired_shards()
                self._m_desired.set(desired)
                self._rate_from = self.clock.now()
                self._sent_since = self._read_since = 0
                self._send_seconds = 0.0
                self._saturated = False
                current = len(self._shards)
                if not self._failing and not 0.7 * current <= desired <= 1.3 * current:
                    await self._reshard(desired)
            if records:
                await asyncio.sleep(0)
            elif room <= 0:
                self._room.clear()
                await self._room.wait()  # set when a send completes
            else:
                await self.clock.sleep_until(self.clock.now() + self.poll_interval)

    def pending(self) -> int:
        return sum(s.pending for s in self._shards)

    def _dispatch(self, record: SampleRecord) -> None:
        refs, ts, vs, hs = record.refs, record.ts, record.vs, record.histograms
        self._read_since += len(refs)
        if len(ts):
            self._metrics.note_timestamp(float(ts.max()) / 1000)
        status = self._table.status(refs)
        keep = status >= 0
        unknown = int((status == -1).sum())
        if unknown:
            self._m_dropped["unintentionally_dropped_series"].inc(unknown)
        relabelled = int((status == -2).sum())
        if relabelled:
            self._m_dropped["dropped_series"].inc(relabelled)
        age_limit = self.config.queue_config.sample_age_limit.milliseconds
        if age_limit > 0:
            young = ts >= int(self.clock.now() * 1000) - age_limit
            old = int((keep & ~young).sum())
            if old:
                self._m_dropped["too_old"].inc(old)
            keep &= young
        if not keep.all():
            refs, ts, vs = refs[keep], ts[keep], vs[keep]
            hs = None if hs is None else hs[keep]
        seq = self._next_seq
        self._next_seq += 1
        entry = _Record(record.end, len(refs))
        self._records.append((seq, entry))
        if not len(refs):
            self._advance()
            return
        self._by_seq[seq] = entry
        seqs = np.full(len(refs), seq, dtype=np.int64)
        n = len(self._shards)
        now = self.clock.now()
        if n == 1:
            self._shards[0].put(refs, ts, vs, seqs, now, hs)
            return
        which = refs % n
        for i, shard in enumerate(self._shards):
            mask = which == i
            if mask.any():
                shard.put(
                    refs[mask],
                    ts[mask],
                    vs[mask],
                    seqs[mask],
                    now,
                    None if hs is None else hs[mask],
                )

    def _ack(self, seqs: I64) -> None:
        self._room.set()
        values, counts = np.unique(seqs, return_counts=True)
        for seq, count in zip(values.tolist(), counts.tolist(), strict=True):
            entry = self._by_seq.get(seq)
            if entry is not None:
                entry.remaining -= count
                if entry.remaining <= 0:
                    del self._by_seq[seq]
        self._advance()

    def _advance(self) -> None:
        while self._records and self._records[0][1].remaining <= 0:
            self._delivered = self._records.popleft()[1].end

    def _save_position(self, force: bool = False) -> None:
        position = self._delivered
        if position is None or position == self._saved:
            return
        now = self.clock.now()
        if not force and now - self._last_save < self.position_save_interval:
            return
        try:
            position.save(self.position_file)
        except OSError as err:
            log.error("remote_write %s: saving position failed: %s", self.name, err)
            return
        self._saved = position
        self._last_save = now

    @property
    def delivered(self) -> Position | None:
        """Position up to which every sample was delivered (or dropped for good)."""
        return self._delivered

    # ----- sending -----

    async def _shard_loop(self, shard: _Shard) -> None:
        q = self.config.queue_config
        deadline_s = q.batch_send_deadline.milliseconds / 1000
        while True:
            now = self.clock.now()
            if shard.pending >= q.max_samples_per_send or (
                shard.pending and (shard.flush or now >= shard.oldest_at + deadline_s)
            ):
                refs, ts, vs, seqs, hs = shard.take(q.max_samples_per_send, now)
                shard.busy = True
                try:
                    await self._send_samples(refs, ts, vs, hs)
                finally:
                    shard.busy = False
                self._ack(seqs)
                continue
            shard.wake.clear()
            waits: list[asyncio.Future[object]] = [asyncio.ensure_future(shard.wake.wait())]
            if shard.pending:
                waits.append(
                    asyncio.ensure_future(self.clock.sleep_until(shard.oldest_at + deadline_s))
                )
            try:
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waits:
                    w.cancel()

    async def _send_samples(self, refs: I64, ts: I64, vs: F64, hs: Histograms | None) -> None:
        body = bytes(cramjam.snappy.compress_raw(self._encode(refs, ts, vs, hs)))
        count = len(refs)
        histograms = 0 if hs is None else int(np.count_nonzero(hs.astype(np.bool_)))
        ok = await self._send(body, count, self._m_retried)
        if ok:
            self._m_samples.inc(count - histograms)
            self._m_histograms.inc(histograms)
            self._m_bytes.inc(len(body))
            self._sent_since += count
            highest = float(ts.max()) / 1000
            if highest > self._highest_sent:
                self._highest_sent = highest
                self._m_highest_sent.set(highest)
        else:
            self._m_failed.inc(count - histograms)
            self._m_histograms_failed.inc(histograms)

    def _encode(self, refs: I64, ts: I64, vs: F64, hs: Histograms | None) -> bytes:
        """One WriteRequest: float samples, then any histogram ones."""
        if hs is None:
            return self._table.encode(refs, ts, vs)
        held = hs.astype(np.bool_)
        floats = ~held
        head = self._table.encode(refs[floats], ts[floats], vs[floats]) if floats.any() else b""
        return head + self._table.encode_histograms(
            refs[held].tolist(), ts[held].tolist(), hs[held].tolist()
        )

    async def _send(self, body: bytes, count: int, retried: Counter) -> bool:
        """POST with retries; True once accepted, False when rejected for good."""
        q = self.config.queue_config
        backoff = q.min_backoff.milliseconds / 1000
        max_backoff = q.max_backoff.milliseconds / 1000
        while True:
            try:
                await self._post(body)
                self._failing = False
                return True
            except _Rejected as err:
                log.error("remote_write %s: dropping %d samples: %s", self.name, count, err)
                self._m_rejected.labels(*self._labels, str(err.code)).inc(count)
                return False
            except _Recoverable as err:
                self._failing = True
                log.warning(
                    "remote_write %s: %s; retrying in %.3gs",
                    self.name,
                    err,
                    err.retry_after or backoff,
                )
                retried.inc(count)
                wait = err.retry_after if err.retry_after is not None else backoff
                await self.clock.sleep_until(self.clock.now() + wait)
                backoff = min(2 * backoff, max_backoff) if backoff else max_backoff

    async def _post(self, body: bytes) -> None:
        headers = {
            "Content-Encoding": "snappy",
            "Content-Type": "application/x-protobuf",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Remote-Write-Version": REMOTE_WRITE_VERSION,
            **dict(self.config.headers),
        }
        started = time.perf_counter()
        try:
            response = await self._client.post(
                self.config.url,
                content=body,
                headers=headers,
                timeout=self.config.remote_timeout.milliseconds / 1000,
            )
        except httpx.HTTPError as err:
            where = redact_url(self.config.url)
            raise _Recoverable(f"sending to {where} failed: {type(err).__name__}: {err}") from None
        finally:
            self._m_duration.observe(time.perf_counter() - started)
        code = response.status_code
        if code // 100 == 2:
            self._send_seconds += time.perf_counter() - started
            return
        text = response.text
        if code // 100 == 5 or (code == 429 and self.config.queue_config.retry_on_http_429):
            raise _Recoverable(
                f"server returned HTTP status {code}: {text[:256].strip()}",
                _retry_after(response.headers.get("Retry-After")),
            )
        raise _Rejected(code, text.strip())

    # ----- metadata -----

    async def _metadata_loop(self) -> None:
        assert self._metadata_source is not None
        interval = self.config.metadata_config.send_interval.milliseconds / 1000
        per_send = max(1, self.config.metadata_config.max_samples_per_send)
        while True:
            await self.clock.sleep_until(self.clock.now() + interval)
            entries = sorted(
                {
                    (METADATA_TYPES.get(kind, 0), name, help_text, unit)
                    for name, kind, help_text, unit in self._metadata_source()
                },
                key=lambda e: e[1],
            )
            for start in range(0, len(entries), per_send):
                chunk = entries[start : start + per_send]
                body = bytes(cramjam.snappy.compress_raw(encode_metadata(chunk)))
                if await self._send(body, len(chunk), self._m_retried):
                    self._m_metadata.inc(len(chunk))
                else:
                    self._m_metadata_failed.inc(len(chunk))

    # ----- shard count -----

    def desired_shards(self) -> int:
        """Shards needed to keep up, from the last interval: the shard-seconds per second
        spent in successful sends with 30 % headroom, doubled while the shards were full
        (a backlog is waiting in the WAL); between min_shards and max_shards."""
        q = self.config.queue_config
        elapsed = self.clock.now() - self._rate_from
        current = len(self._shards)
        if elapsed <= 0:
            return current
        desired = math.ceil(self._send_seconds / elapsed * 1.3) if self._send_seconds else 1
        if self._saturated:
            desired = max(desired, 2 * current)
        return max(q.min_shards, min(q.max_shards, desired))

    async def _reshard(self, count: int) -> None:
        """Let the shards send what they hold, then replace them by `count` new ones; given
        up (and tried again next interval) if they cannot drain within a batch deadline."""
        q = self.config.queue_config
        for shard in self._shards:
            shard.flush = True
            shard.wake.set()
        deadline = self.clock.now() + q.batch_send_deadline.milliseconds / 1000
        while self.pending() or any(s.busy for s in self._shards):
            if self.clock.now() >= deadline or self._failing:
                for shard in self._shards:
                    shard.flush = False
                return
            await self.clock.sleep_until(self.clock.now() + min(0.05, self.poll_interval))
        for task in self._shard_tasks:
            task.cancel()
        for task in self._shard_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        log.info("remote_write %s: resharding from %d to %d", self.name, len(self._shards), count)
        self._start_shards(count)


def _usable(q: QueueConfig) -> QueueConfig:
    """Prometheus accepts any integers here; values below 1 (or min_shards above max_shards)
    would stall a queue, so they are raised to the least that works."""
    min_shards = max(1, q.min_shards)
    return dataclasses.replace(
        q,
        capacity=max(1, q.capacity),
        max_samples_per_send=max(1, q.max_samples_per_send),
        min_shards=min_shards,
        max_shards=max(min_shards, q.max_shards),
    )


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class RemoteWriteStorage:
    """All remote_write queues of a config; `apply` makes them match a (re)loaded config."""

    def __init__(
        self,
        wal_dir: Path,
        state_dir: Path,
        registry: CollectorRegistry,
        clock: Clock | None = None,
        metadata_source: MetadataSource | None = None,
        client_factory: Callable[[RemoteWriteConfig], httpx.AsyncClient] | None = None,
    ) -> None:
        self.wal_dir = wal_dir
        self.state_dir = state_dir
        self.metrics = RemoteWriteMetrics(registry)
        self.clock: Clock = clock if clock is not None else SystemClock()
        self._metadata_source = metadata_source
        self._client_factory = client_factory
        self._queues: dict[str, tuple[tuple[RemoteWriteConfig, Labels], QueueManager]] = {}

    @property
    def queues(self) -> Sequence[QueueManager]:
        return [queue for _, queue in self._queues.values()]

    async def apply(self, config: Config) -> None:
        """Start new queues, restart changed ones (from their saved position), stop removed
        ones; unchanged queues keep running."""
        external = config.global_config.external_labels
        wanted = {queue_name(rw): rw for rw in config.remote_write}
        for name in list(self._queues):
            key, queue = self._queues[name]
            if wanted.get(name) != key[0] or key[1] != external:
                await queue.stop()
                del self._queues[name]
        for name, rw in wanted.items():
            if name in self._queues:
                continue
            client = self._client_factory(rw) if self._client_factory is not None else None
            queue = QueueManager(
                rw,
                external,
                self.wal_dir,
                self.state_dir,
                self.metrics,
                clock=self.clock,
                client=client,
                metadata_source=self._metadata_source,
            )
            await queue.start()
            self._queues[name] = ((rw, external), queue)

    async def stop(self) -> None:
        for _, queue in self._queues.values():
            await queue.stop()
        self._queues.clear()
