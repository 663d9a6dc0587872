"""The rounds of a shipper: the agent's log collector and the server's log and span
forwarders each do their work in rounds (`tick`, which tests call with a clock they drive);
a worker thread repeats them, and a round whose far end failed backs the next ones off."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class Backoff:
    """After a failed round the next waits 1 s, then twice as long each failure more, up to
    `max_s`; a round that succeeds starts the doubling afresh."""

    def __init__(self, max_s: float) -> None:
        self.max_s = max_s
        self.delay_s = 0.0
        self._next_attempt = 0.0

    def waiting(self, now: float) -> bool:
        """Whether a round at `now` should do nothing yet."""
        return now < self._next_attempt

    def failed(self, now: float) -> None:
        self.delay_s = min(self.max_s, max(1.0, self.delay_s * 2))
        self._next_attempt = now + self.delay_s

    def succeeded(self) -> None:
        self.delay_s = 0.0


class IdlePace:
    """The wait before a shipper's next round: `interval_s` after a round that found work,
    twice as long after each round that found none, up to `idle_max_s`. A quiet host's files
    are looked at every few seconds instead of every second; the first line after a quiet
    spell waits at most `idle_max_s`."""

    def __init__(self, interval_s: float, idle_max_s: float) -> None:
        self.interval_s = interval_s
        self.idle_max_s = max(interval_s, idle_max_s)
        self.wait_s = interval_s

    def worked(self) -> None:
        self.wait_s = self.interval_s

    def idle(self) -> None:
        self.wait_s = min(self.idle_max_s, self.wait_s * 2)


class Paced(Protocol):
    """Anything whose `wait_s` says how long to wait before the next round (an IdlePace)."""

    @property
    def wait_s(self) -> float: ...


class RoundThread:
    """Runs `run_round()` in a daemon thread named `name` until `stop`: again at once while it
    returns True (there is more to send), else after `interval_s` (a number, or a pace whose
    `wait_s` is read after each round). A round raising one of `errors` is logged as
    `failure: error` and the rounds go on."""

    def __init__(
        self,
        name: str,
        run_round: Callable[[], bool],
        interval_s: float | Paced,
        failure: str,
        errors: tuple[type[Exception], ...] = (OSError,),
    ) -> None:
        self.name = name
        self._round = run_round
        self._interval_s = interval_s
        self._failure = failure
        self._errors = errors
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                more = self._round()
            except self._errors as err:
                log.error("%s: %s", self._failure, err)
                more = False
            if not more:
                self._stop.wait(self._wait_s())

    def _wait_s(self) -> float:
        interval = self._interval_s
        return float(interval) if isinstance(interval, float | int) else interval.wait_s

    def stop(self) -> None:
        """Ask the rounds to end and wait for the one running."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
