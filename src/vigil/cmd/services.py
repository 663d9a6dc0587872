"""A process as two lists, as Prometheus's `cmd/prometheus/main.go` has it: services started
in order and stopped in reverse, and named reloaders applied in order to each new config.
Adding a stage adds one line to each list; nothing is started, stopped or reloaded by hand."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

log = logging.getLogger("vigil.services")

C = TypeVar("C")


async def _nothing() -> None:
    return None


@dataclass(frozen=True, slots=True)
class Service:
    """One part of the process with a start and a stop (either may do nothing)."""

    name: str
    start: Callable[[], Awaitable[None]] = _nothing
    stop: Callable[[], Awaitable[None]] = _nothing


def background(name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> Service:
    """A coroutine that runs for the life of the process: started as a task, cancelled on stop."""
    task: asyncio.Task[None] | None = None

    async def start() -> None:
        nonlocal task
        task = asyncio.get_running_loop().create_task(run(), name=name)

    async def stop() -> None:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    return Service(name, start, stop)


class Services:
    """Starts services in list order; `stop` stops those started, last first, and goes on
    past one that fails (logged with its name) so the rest still close their files."""

    def __init__(self, services: Sequence[Service]) -> None:
        self._services = tuple(services)
        self._started: list[Service] = []

    async def start(self) -> None:
        for service in self._services:
            await service.start()
            self._started.append(service)

    async def stop(self) -> None:
        while self._started:
            service = self._started.pop()
            try:
                await service.stop()
            except Exception:
                log.exception("stopping %s failed", service.name)


@dataclass(frozen=True, slots=True)
class Reloader(Generic[C]):
    """One stage's part of a reload: `apply` takes the new config or raises why it cannot,
    keeping the stage's running config."""

    name: str
    apply: Callable[[C], Awaitable[None]]


async def apply_all(reloaders: Sequence[Reloader[C]], config: C) -> list[str]:
    """Apply `config` to each reloader in order; one that raises is logged with its name and
    the rest still apply. Returns `name: reason` for each that refused."""
    refused = []
    for reloader in reloaders:
        try:
            await reloader.apply(config)
        except Exception as err:
            log.error("%s refused the new config and keeps its running one: %s", reloader.name, err)
            refused.append(f"{reloader.name}: {err}")
    return refused
