"""`vigil agent`'s log collection: follow Docker's container logs, files by glob and the
systemd journal, process
at the edge, ship to a Loki-push endpoint, and commit positions only after a push succeeds
(at least once: a restart, a failed push or `kill -9` repeats lines rather than lose them).

Each `tick` is one round (the agent's thread runs one per interval; tests call it with a
clock they drive): discover files, read what was appended (bounded), push it as one batch,
commit. While the far end fails, nothing more is read (memory stays bounded: the backlog is
the files themselves) and rounds back off up to `max_backoff_s`.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from vigil.exporter.logs.entry import LogEntry
from vigil.exporter.logs.journal import (
    JOURNAL_SOURCE,
    JournalFollower,
    JournalOptions,
    JournalUnavailable,
)
from vigil.exporter.logs.multiline import MultilineRule
from vigil.exporter.logs.outcome import Outcome, PushResult
from vigil.exporter.logs.positions import Positions
from vigil.exporter.logs.sources import (
    FollowedFile,
    docker_labels,
    docker_logs,
    file_labels,
    glob_files,
)
from vigil.exporter.logs.stages import Level, Stage, run_pipeline
from vigil.exporter.rounds import Backoff, IdlePace, RoundThread

log = logging.getLogger(__name__)

DOCKER_CONTAINERS = Path("/var/lib/docker/containers")


class Sink(Protocol):
    def push(self, entries: Sequence[LogEntry]) -> PushResult: ...


@dataclass(frozen=True, slots=True)
class LogCollectionOptions:
    docker_containers: Path | None = DOCKER_CONTAINERS  # None: no container logs
    files: tuple[str, ...] = ()  # globs
    journal: JournalOptions | None = None  # None: not the journal
    positions_file: Path | None = None
    host: str = field(default_factory=socket.gethostname)
    stages: tuple[Stage, ...] = (Level(),)
    multiline: MultilineRule = field(default_factory=MultilineRule)
    batch_bytes: int = 1 << 20
    interval_s: float = 1.0
    # The most a round waits after rounds that found nothing. Kept at interval_s until a
    # container's death wakes the collector: its last lines must be read before the death
    # alert's notification (group_wait can be 1 s) takes them from the store.
    idle_interval_s: float = 1.0
    max_backoff_s: float = 30.0


class _Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.shipped = Counter(
            "vigil_logs_shipped_entries", "Log entries the far end accepted.", registry=registry
        )
        self.shipped_bytes = Counter(
            "vigil_logs_shipped_bytes",
            "Bytes of log lines the far end accepted.",
            registry=registry,
        )
        self.dropped = Counter(
            "vigil_logs_dropped",
            "Log entries dropped at the edge, by the rule that dropped them.",
            ["rule"],
            registry=registry,
        )
        self.failures = Counter(
            "vigil_logs_push_failures",
            "Failed log pushes: `retry` ones are sent again, `rejected` ones are dropped.",
            ["outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "vigil_logs_rejected_entries",
            "Log entries the far end refused for good (a 4xx answer).",
            registry=registry,
        )
        self.undecodable = Counter(
            "vigil_logs_undecodable_lines",
            "Lines of Docker json-file logs that were not json-file records.",
            registry=registry,
        )
        self.files = Gauge("vigil_logs_files", "Log files followed.", registry=registry)
        self.journal_up = Gauge(
            "vigil_logs_journal_up",
            "1 while the systemd journal is followed, 0 when journalctl failed (see the log).",
            registry=registry,
        )


class LogCollector:
    def __init__(
        self,
        options: LogCollectionOptions,
        sink: Sink,
        registry: CollectorRegistry,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._options = options
        self._sink = sink
        self._clock = clock
        self._metrics = _Metrics(registry)
        self._positions = Positions(options.positions_file)
        self._files: dict[str, FollowedFile] = {}
        self._journal: JournalFollower | None = None
        self._journal_error = ""
        self._journal_retry_at = 0.0
        self._backoff = Backoff(options.max_backoff_s)
        self.pace = IdlePace(options.interval_s, options.idle_interval_s)
        self.last_error = ""
        self._rounds = RoundThread(
            "vigil-logs", self._round, self.pace, "log collection round failed"
        )

    # --- one round ---------------------------------------------------------------------------

    def tick(self) -> None:
        now = self._clock()
        if self._backoff.waiting(now):
            return
        discovered = self._discover()
        share = max(64 * 1024, self._options.batch_bytes // max(1, len(self._files)))
        entries: list[LogEntry] = []
        read_from: list[FollowedFile] = []
        for followed in self._files.values():
            undecodable = followed.undecodable
            got = followed.read(share, now)
            self._metrics.undecodable.inc(followed.undecodable - undecodable)
            read_from.append(followed)
            self._process(got, entries)
        journal = self._follow_journal(now)
        if journal is not None:
            undecodable = journal.undecodable
            self._process(journal.read(self._options.batch_bytes), entries)
            self._metrics.undecodable.inc(journal.undecodable - undecodable)
        if entries or discovered or any(followed.active() for followed in read_from):
            self.pace.worked()
        else:
            self.pace.idle()
        if entries:
            result = self._sink.push(entries)
            if result.outcome is Outcome.RETRY:
                self._retry_later(now, result.reason, read_from)
                return
            self._count(entries, result)
        self._backoff.succeeded()
        self._commit(read_from)

    def _process(self, got: list[LogEntry], entries: list[LogEntry]) -> None:
        for entry in got:
            dropped_by = run_pipeline(self._options.stages, entry)
            if dropped_by is None:
                entries.append(entry)
            else:
                self._metrics.dropped.labels(dropped_by.name).inc()

    def _follow_journal(self, now: float) -> JournalFollower | None:
        """The journal's follower, started on the first round (from the saved cursor). A
        journalctl that cannot run or has stopped is logged (once per distinct reason),
        shown as `vigil_logs_journal_up 0`, and started again 30 s later."""
        options = self._options.journal
        if options is None:
            return None
        journal = self._journal
        if journal is not None and journal.error:
            self._journal_failed(now, journal.error)
            journal.close()
            journal = self._journal = None
        if journal is None and now >= self._journal_retry_at:
            try:
                cursor = self._positions.cursor(JOURNAL_SOURCE)
                journal = self._journal = JournalFollower(options, cursor, self._options.host, now)
            except (JournalUnavailable, OSError) as err:
                self._journal_failed(now, str(err))
        self._metrics.journal_up.set(1 if journal is not None else 0)
        return journal

    def _journal_failed(self, now: float, reason: str) -> None:
        if reason != self._journal_error:
            log.error("journal collection failed, retrying in 30 s: %s", reason)
        self._journal_error = reason
        self._journal_retry_at = now + 30.0

    def _retry_later(self, now: float, reason: str, read_from: list[FollowedFile]) -> None:
        for followed in read_from:
            followed.rewind()
        if self._journal is not None:
            self._journal.rewind()
        self._metrics.failures.labels("retry").inc()
        self._backoff.failed(now)
        if reason != self.last_error:
            log.warning("log push failed, retrying in %.0f s: %s", self._backoff.delay_s, reason)
        self.last_error = reason

    def _count(self, entries: list[LogEntry], result: PushResult) -> None:
        if result.outcome is Outcome.REJECTED:
            self._metrics.failures.labels("rejected").inc()
            self._metrics.rejected.inc(len(entries))
            log.error("log push refused, %d entries dropped: %s", len(entries), result.reason)
            self.last_error = result.reason
            return
        self.last_error = ""
        self._metrics.shipped.inc(len(entries))
        self._metrics.shipped_bytes.inc(sum(len(e.line) for e in entries))

    def _commit(self, read_from: list[FollowedFile]) -> None:
        changed = False
        for followed in read_from:
            position = followed.safe_position()
            if position is not None and position != followed.follower.committed:
                followed.follower.commit(position)
                self._positions.put(followed.key, position)
                changed = True
        journal = self._journal
        if journal is not None:
            cursor = journal.safe_position()
            if cursor is not None and cursor != journal.committed:
                journal.commit(cursor)
                self._positions.put_cursor(JOURNAL_SOURCE, cursor)
                changed = True
        if changed:
            self._positions.save()

    def _discover(self) -> bool:
        """Follow the files that appeared, forget those gone; whether any did."""
        options = self._options
        found = {}
        if options.docker_containers is not None:
            found.update({k: (p, True) for k, p in docker_logs(options.docker_containers).items()})
        found.update({k: (p, False) for k, p in glob_files(options.files).items()})
        changed = False
        for key, (path, docker) in found.items():
            if key not in self._files:
                changed = True
                labels = (
                    docker_labels(path, options.host) if docker else file_labels(path, options.host)
                )
                self._files[key] = FollowedFile(
                    key, path, labels, self._positions.get(key), options.multiline, docker
                )
        for key in [k for k in self._files if k not in found]:
            changed = True
            self._files.pop(key).close()
            self._positions.forget([key])
        self._metrics.files.set(len(self._files))
        return changed

    # --- the agent's thread -------------------------------------------------------------------

    def start(self) -> None:
        self._rounds.start()

    def _round(self) -> bool:
        """A round for the thread, which waits `interval_s` after each: an OSError (a file
        vanished mid-read, a full disk for positions) is logged and the next round tried."""
        self.tick()
        return False

    def stop(self) -> None:
        self._rounds.stop()
        for followed in self._files.values():
            followed.close()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
