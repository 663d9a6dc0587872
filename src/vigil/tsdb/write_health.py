"""Whether the storage can write now, known without writing anything: every WAL write reports
here, so what watches the storage (the built-in storage alert, the heartbeat, the receivers'
503s) never depends on the storage it watches.

Failing writes are logged once when they start, then at most once per `log_every_s` with the
count refused meanwhile, and once when writes succeed again: a full disk under a stream of
scrapes and pushes is a few lines a minute, not a traceback per request. Writes succeed again
when one as big as the smallest that failed does: on a full disk a small record (a rule's
few series) still fits in the slack of the last block, and must not resolve the alert.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

log = logging.getLogger(__name__)

LOG_EVERY_S = 60.0


@dataclass(frozen=True, slots=True)
class WriteFailure:
    """Writes fail since `since_s` (wall clock) for `reason`; `refused` writes so far."""

    reason: str
    since_s: float
    refused: int

    def describe(self, now_s: float) -> str:
        return (
            f"storage cannot write ({self.reason}) for {now_s - self.since_s:.0f}s, "
            f"{self.refused} writes refused"
        )


class WriteHealth:
    """`failed`/`succeeded` are called by the writer (under its lock, from any thread);
    `failure()` is read by anyone. The gauge `vigil_tsdb_writes_failing` is 1 while the
    last write failed: the live series the storage alert reads."""

    def __init__(
        self,
        clock: Callable[[], float],
        registry: CollectorRegistry | None = None,
        log_every_s: float = LOG_EVERY_S,
    ) -> None:
        self._clock = clock
        self._log_every_s = log_every_s
        self._lock = threading.Lock()
        self._failure: WriteFailure | None = None
        self._smallest_failed = 0  # bytes: a write this big must succeed to end the failure
        self._logged_at = 0.0
        self._refused_at_log = 0
        self._gauge = Gauge(
            "vigil_tsdb_writes_failing",
            "1 while writes to the storage fail (the last write-ahead log write failed), else 0.",
            registry=registry if registry is not None else CollectorRegistry(),
        )

    def failure(self) -> WriteFailure | None:
        """Why writes fail now, or None when the last write succeeded."""
        return self._failure

    def problem(self) -> str | None:
        """`failure()` as one sentence, or None."""
        failure = self._failure
        return None if failure is None else failure.describe(self._clock())

    def failed(self, reason: str, size: int) -> None:
        """A write of `size` bytes failed."""
        now = self._clock()
        with self._lock:
            failure = self._failure
            if failure is None or size < self._smallest_failed:
                self._smallest_failed = size
            if failure is None:
                self._failure = WriteFailure(reason, now, 1)
                self._gauge.set(1)
                self._logged_at, self._refused_at_log = now, 1
                log.error(
                    "storage cannot write (%s): writes are refused until it can; "
                    "the storage alert fires and the heartbeat stops",
                    reason,
                )
                return
            self._failure = failure = WriteFailure(reason, failure.since_s, failure.refused + 1)
            if now - self._logged_at < self._log_every_s:
                return
            refused = failure.refused - self._refused_at_log
            self._logged_at, self._refused_at_log = now, failure.refused
        log.error(
            "storage still cannot write (%s) after %.0fs: %d writes refused in the last %.0fs",
            reason,
            now - failure.since_s,
            refused,
            self._log_every_s,
        )

    def succeeded(self, size: int) -> None:
        """A write of `size` bytes succeeded."""
        if self._failure is None or size < self._smallest_failed:  # the common case: no lock
            return
        now = self._clock()
        with self._lock:
            failure, self._failure = self._failure, None
            self._gauge.set(0)
        if failure is not None:
            log.warning(
                "storage writes again after %.0fs (%d writes refused meanwhile)",
                now - failure.since_s,
                failure.refused,
            )
