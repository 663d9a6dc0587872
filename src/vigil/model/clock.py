"""Time, injected into every stage that keeps state, so that tests drive schedules, timeouts,
group waits and `for:` durations without sleeping (see DESIGN.md)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from typing import Any, Protocol


class Clock(Protocol):
    """Wall-clock seconds since the epoch, and a way to wait for a given instant."""

    def now(self) -> float: ...

    async def sleep_until(self, deadline: float) -> None: ...


class SystemClock:
    """The real clock: `time.time()` and `asyncio.sleep`."""

    def now(self) -> float:
        return time.time()

    async def sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - time.time()))


class ManualClock:
    """A clock that only moves when told to; sleepers wake when `advance` passes their deadline.

    After advancing, callers yield to the event loop (e.g. poll for the effect they expect)
    so the woken tasks can run; `busy()` says whether a task the clock woke is still at work
    (it has neither slept on the clock again nor ended), e.g. waiting for a scrape's answer.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._sleeping: dict[asyncio.Future[None], asyncio.Task[Any] | None] = {}
        self._woken: set[asyncio.Task[Any]] = set()

    def now(self) -> float:
        return self._now

    async def sleep_until(self, deadline: float) -> None:
        if deadline <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (deadline, next(self._order), future))
        task = asyncio.current_task()
        self._sleeping[future] = task
        if task is not None:
            self._woken.discard(task)
        try:
            await future
        finally:
            del self._sleeping[future]

    def advance(self, seconds: float) -> None:
        self.set(self._now + seconds)

    def set(self, instant: float) -> None:
        """Move to `instant` (never backwards) and wake everyone whose deadline has come."""
        self._now = max(self._now, instant)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)
                task = self._sleeping.get(future)
                if task is not None:
                    self._woken.add(task)

    def busy(self) -> bool:
        """Whether a task woken by this clock is still running: a test waits for it (an
        answer over the network, a worker thread) before moving the clock on."""
        self._woken = {task for task in self._woken if not task.done()}
        return bool(self._woken)

    def next_deadline(self) -> float | None:
        """The earliest instant someone is waiting for (cancelled sleepers skipped)."""
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)
        return self._sleepers[0][0] if self._sleepers else None
