"""Forwarding a store's WAL to one far endpoint, as remote_write does for samples; the log
and span forwarders are this with their own records, body and answers to retry.

The forwarder follows the WAL (`tsdb.wlog_follow`) and sends what it gained, batched, as one
gzipped POST. The position of the oldest record not yet delivered is saved after each
delivered batch, so an outage of the far end or a restart resends from the WAL: at least
once, nothing acknowledged is lost while the WAL still holds it (a far end down for longer
than the WAL keeps records loses what was checkpointed away, with a warning). An answer to
retry, or no answer, backs the rounds off; another failure drops the batch, counted. Each
distinct reason for a failure is logged once.
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Literal, Protocol, TypeVar

import httpx
from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.config.http import HTTPClientConfig
from vigil.config.http_client import sync_client
from vigil.exporter.rounds import Backoff, RoundThread
from vigil.tsdb.wlog import list_segments, segment_index
from vigil.tsdb.wlog_follow import IndexSink, Position, Record, WALFollower

log = logging.getLogger(__name__)

T = TypeVar("T", bound=Sized)
Outcome = Literal["sent", "retry", "dropped"]


class ForwardTarget(Protocol):
    """Where to and how often: what the log and span forwarders' options have in common."""

    @property
    def url(self) -> str: ...
    @property
    def http(self) -> HTTPClientConfig: ...
    @property
    def timeout_s(self) -> float: ...
    @property
    def max_backoff_s(self) -> float: ...
    @property
    def interval_s(self) -> float: ...


@dataclass(frozen=True, slots=True)
class ForwardCounters:
    """Items (lines, spans) the far end `sent` accepted or `dropped` for good; `failures`
    counts the POSTs retried; `segment_lag` is how many WAL segments the forwarder's position
    is behind the newest one after each round."""

    sent: Counter
    dropped: Counter
    failures: Counter
    segment_lag: Gauge

    @classmethod
    def register(
        cls, registry: CollectorRegistry, signal: str, unit: str, items: str, why: str, posts: str
    ) -> ForwardCounters:
        """`vigil_{signal}_forwarded_{unit}` and its siblings; `items` names what is counted
        in help texts, `why` what is refused for good, `posts` what one POST is."""
        name = f"vigil_{signal}_forward"
        return cls(
            sent=Counter(
                f"vigil_{signal}_forwarded_{unit}",
                f"{items} the forward endpoint accepted.",
                registry=registry,
            ),
            dropped=Counter(
                f"{name}_dropped_{unit}",
                f"{items} the forward endpoint refused for good ({why}).",
                registry=registry,
            ),
            failures=Counter(
                f"{name}_failures", f"Failed forward {posts} (retried).", registry=registry
            ),
            segment_lag=Gauge(
                f"{name}_wal_segment_lag",
                "WAL segments between the forwarder's position and the newest one.",
                registry=registry,
            ),
        )


def _nothing(_: memoryview) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Forwarded(Generic[T]):
    """What a forwarder sends: of the WAL's `record_types`, each data record `decode`s to a
    batch (empty for records not sent) and its item count; `body` makes one POST of
    batches. Index records (`index_types`) go to `on_index` as they are met. `noun` names
    the items in log lines, `thread` the worker thread."""

    noun: str
    thread: str
    record_types: frozenset[int]
    decode: Callable[[Record], tuple[T, int]]
    body: Callable[[list[T]], bytes]
    content_type: str
    retryable: Callable[[int], bool]
    index_types: frozenset[int] = frozenset()
    on_index: IndexSink = _nothing


class WALForwarder(Generic[T]):
    def __init__(
        self,
        wal_dir: Path,
        position_file: Path,
        forwarded: Forwarded[T],
        target: ForwardTarget,
        batch: int,
        counters: ForwardCounters,
        clock: Callable[[], float],
        transport: httpx.BaseTransport | None,
    ) -> None:
        self._forwarded = forwarded
        self._target = target
        self._batch = batch
        self._position_file = position_file
        self._clock = clock
        self._counters = counters
        self._wal_dir = wal_dir
        self._follower = WALFollower(
            wal_dir,
            forwarded.record_types,
            forwarded.index_types,
            forwarded.on_index,
            Position.load(position_file),
            f"{forwarded.noun} forward",
        )
        self._client = sync_client(
            target.http,
            timeout=target.timeout_s,
            headers={"User-Agent": "vigil"},
            transport=transport,
        )
        self._saved = self._follower.position
        self._backoff = Backoff(target.max_backoff_s)
        self.last_error = ""
        self._rounds = RoundThread(
            forwarded.thread,
            lambda: self.tick() > 0,
            target.interval_s,
            f"forwarding {forwarded.noun} failed",
            (OSError, ValueError),  # the WAL went away under us, a bad record
        )

    def tick(self) -> int:
        """One round: send what the WAL gained (one batch); items delivered."""
        try:
            return self._round()
        finally:
            newest = max((segment_index(p) for p in list_segments(self._wal_dir)), default=0)
            self._counters.segment_lag.set(max(0, newest - self._follower.position.segment))

    def _round(self) -> int:
        now = self._clock()
        if self._backoff.waiting(now):
            return 0
        start = self._follower.position
        read = self._follower.read(self._batch, self._counted)
        batches = [batch for batch, _ in read if len(batch)]
        if not batches:
            self._save(start)
            return 0
        items = sum(n for batch, n in read if len(batch))
        outcome = self._post(batches)
        if outcome == "retry":
            self._follower.position = start
            self._counters.failures.inc()
            self._backoff.failed(now)
            return 0
        self._backoff.succeeded()
        (self._counters.sent if outcome == "sent" else self._counters.dropped).inc(items)
        self._save(self._follower.position)
        return items if outcome == "sent" else 0

    def _counted(self, record: Record) -> tuple[tuple[T, int], int]:
        batch, items = self._forwarded.decode(record)
        return (batch, items), items

    def _save(self, position: Position) -> None:
        if position != self._saved or not self._position_file.exists():
            position.save(self._position_file)
            self._saved = position

    def _post(self, batches: list[T]) -> Outcome:
        body = gzip.compress(self._forwarded.body(batches), compresslevel=1)
        headers = {"Content-Type": self._forwarded.content_type, "Content-Encoding": "gzip"}
        try:
            response = self._client.post(self._target.url, content=body, headers=headers)
        except httpx.HTTPError as err:
            return self._failed(f"{type(err).__name__}: {err}", retry=True)
        if response.is_success:
            self.last_error = ""
            return "sent"
        reason = f"HTTP {response.status_code}: {response.text[:300].strip()}"
        return self._failed(reason, self._forwarded.retryable(response.status_code))

    def _failed(self, reason: str, retry: bool) -> Outcome:
        if reason != self.last_error:
            log.warning(
                "forwarding %s to %s failed: %s", self._forwarded.noun, self._target.url, reason
            )
        self.last_error = reason
        return "retry" if retry else "dropped"

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        self._rounds.stop()
        self._client.close()
