"""The scrape manager: one pool per `scrape_configs` job, one loop per target, reloadable.

`apply(config)` diffs against what runs: an unchanged job is left alone; a changed job keeps
the loops (and series caches) of targets that still exist; a target that went away has its
loop stopped and its series marked stale. SIGHUP and `POST /-/reload` call `apply`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping
from dataclasses import replace
from typing import Any

import httpx

from vigil.config.discovery import FileSDConfig, HTTPSDConfig
from vigil.config.http import HTTPClientConfig
from vigil.config.http_client import async_client
from vigil.config.prometheus import Config
from vigil.config.scrape import ScrapeConfig
from vigil.model import Labels
from vigil.model.clock import Clock, SystemClock
from vigil.scrape.discovery import (
    DEFAULT_FILE_POLL_SECONDS,
    Discoverer,
    FileDiscovery,
    HTTPDiscovery,
    StaticDiscovery,
)
from vigil.scrape.loop import Appendable, ScrapeLoop, ScrapeOptions, SeriesState
from vigil.scrape.metrics import ScrapeMetrics
from vigil.scrape.relabel import TargetError, populate_labels
from vigil.scrape.target import DroppedTarget, Target

log = logging.getLogger(__name__)

TargetKey = tuple[Labels, str]


class ScrapePool:
    """One job: its discoverers, its targets (active and dropped) and their loops."""

    def __init__(self, config: ScrapeConfig, manager: ScrapeManager) -> None:
        self.config = config
        self.options = ScrapeOptions.of(config)
        self.dropped: list[DroppedTarget] = []
        self.dropped_count = 0  # before keep_dropped_targets trims the list
        self.target_errors: list[str] = []
        self._manager = manager
        self._client = manager.new_client(config.http_client)
        self._static = StaticDiscovery(())
        self._running_sd: dict[object, tuple[Discoverer, asyncio.Task[None]]] = {}
        self._loops: dict[TargetKey, tuple[ScrapeLoop, asyncio.Task[None]]] = {}
        self._discover()

    # ------------------------------------------------------------------ queries

    def targets(self) -> list[Target]:
        return [loop.target for loop, _ in self._loops.values()]

    def loops(self) -> list[ScrapeLoop]:
        return [loop for loop, _ in self._loops.values()]

    def errors(self) -> list[str]:
        """Discovery and target errors, for `vigil check` and the logs."""
        found = [error for d in self._discoverers() for error in d.errors()]
        return found + self.target_errors

    # ------------------------------------------------------------------ changes

    def _discover(self) -> list[tuple[Discoverer, asyncio.Task[None]]]:
        """Start discoverers for the config's SD entries, reusing running ones whose settings
        are unchanged (so an http_sd list survives a reload); returns the retired ones."""
        discovery = self.config.discovery
        manager = self._manager
        retired = self._running_sd
        running: dict[object, tuple[Discoverer, asyncio.Task[None]]] = {}
        self._static = StaticDiscovery(discovery.static_configs)
        wanted: dict[object, FileSDConfig | HTTPSDConfig] = {}
        for file_sd in discovery.file_sd_configs:
            wanted.setdefault(replace(file_sd, line=0), file_sd)
        for http_sd in discovery.http_sd_configs:
            wanted.setdefault(replace(http_sd, line=0), http_sd)
        for key, sd in wanted.items():
            if key in retired:
                running[key] = retired.pop(key)
                continue
            discoverer: FileDiscovery | HTTPDiscovery
            if isinstance(sd, FileSDConfig):
                discoverer = FileDiscovery(sd, manager.clock, manager.file_poll_interval)
                discoverer.refresh()  # read now: file targets are known when apply() returns
            else:
                client = manager.new_client(sd.http_client)
                discoverer = HTTPDiscovery(sd, manager.clock, client)
            running[key] = (discoverer, manager.spawn(discoverer.run(self.sync)))
        self._running_sd = running
        return list(retired.values())

    def _discoverers(self) -> list[Discoverer]:
        return [self._static, *(d for d, _ in self._running_sd.values())]

    def sync(self) -> None:
        """Recompute the target set from the discoverers' groups and start/stop loops."""
        config = self.config
        wanted: dict[TargetKey, Target] = {}
        dropped: list[DroppedTarget] = []
        errors: list[str] = []
        for discoverer in self._discoverers():
            for group in discoverer.groups():
                for discovered in group.discovered():
                    try:
                        internal, full = populate_labels(discovered, config)
                    except TargetError as err:
                        errors.append(f"{config.job_name}: target {discovered}: {err}")
                        continue
                    if internal is None:
                        dropped.append(DroppedTarget(config.job_name, full))
                        continue
                    target = Target.of(config, internal, full)
                    wanted.setdefault(target.key, target)
        for error in errors:
            if error not in self.target_errors:
                log.warning("%s", error)
        self.target_errors = errors
        self.dropped_count = len(dropped)
        if config.keep_dropped_targets:
            dropped = dropped[: config.keep_dropped_targets]
        self.dropped = dropped
        for key in [key for key in self._loops if key not in wanted]:
            loop, task = self._loops.pop(key)
            task.cancel()
            self._manager.spawn(loop.mark_stale_after_stop())
        for key, target in wanted.items():
            running = self._loops.get(key)
            if running is None:
                self._start(target, None)
                continue
            loop, task = running
            old = loop.target
            if (
                loop.options != self.options
                or loop.client is not self._client
                or old.interval != target.interval
                or old.timeout != target.timeout
            ):
                task.cancel()
                state = loop.state
                if loop.options.series_rules() != self.options.series_rules():
                    state = state.without_caches()
                target.outcome, target.metadata = old.outcome, old.metadata
                self._start(target, state)
            else:
                old.discovered_labels = target.discovered_labels
        forced = ""
        if config.target_limit and len(self._loops) > config.target_limit:
            forced = (
                f"target_limit exceeded (number of targets: {len(self._loops)}, "
                f"limit: {config.target_limit})"
            )
        for loop, _ in self._loops.values():
            loop.forced_error = forced

    def _start(self, target: Target, state: SeriesState | None) -> None:
        manager = self._manager
        loop = ScrapeLoop(
            target,
            self.options,
            self._client,
            manager.appendable,
            manager.clock,
            state,
            manager.metrics,
        )
        self._loops[target.key] = (loop, manager.spawn(loop.run()))

    async def reload(self, config: ScrapeConfig) -> None:
        """Take a changed job config; targets that survive keep their loop state."""
        previous = self.config
        old_client = self._client
        self.config = config
        self.options = ScrapeOptions.of(config)
        if config.http_client != previous.http_client:
            self._client = self._manager.new_client(config.http_client)
        retired = self._discover()
        self.sync()
        await _stop_discoverers(retired)
        if self._client is not old_client:
            await old_client.aclose()

    async def stop(self, mark_stale: bool) -> None:
        """Stop every loop; with `mark_stale` (the job went away) their series go stale."""
        tasks = [task for _, task in self._loops.values()]
        for loop, task in self._loops.values():
            task.cancel()
            if mark_stale:
                self._manager.spawn(loop.mark_stale_after_stop())
        self._loops.clear()
        await _stop_discoverers(list(self._running_sd.values()))
        self._running_sd = {}
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._client.aclose()


async def _stop_discoverers(running: list[tuple[Discoverer, asyncio.Task[None]]]) -> None:
    for _, task in running:
        task.cancel()
    await asyncio.gather(*(task for _, task in running), return_exceptions=True)
    for discoverer, _ in running:
        if isinstance(discoverer, HTTPDiscovery):
            await discoverer.close()


class ScrapeManager:
    """All scrape pools of a config; owns every task the scrape stage runs."""

    def __init__(
        self,
        appendable: Appendable,
        *,
        clock: Clock | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        file_poll_interval: float = DEFAULT_FILE_POLL_SECONDS,
        metrics: ScrapeMetrics | None = None,
    ) -> None:
        self.appendable = appendable
        self.metrics = metrics if metrics is not None else ScrapeMetrics()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.file_poll_interval = file_poll_interval
        self._transport = transport
        self._pools: dict[str, ScrapePool] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def pools(self) -> Mapping[str, ScrapePool]:
        return self._pools

    def new_client(self, config: HTTPClientConfig) -> httpx.AsyncClient:
        """A client for a job or an http_sd entry; one that cannot be built fails each request
        with the reason, so its targets show `up` 0 with it and apply() never raises."""
        return async_client(
            config,
            transport=self._transport,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
            timeout=None,  # scrape timeouts are measured on the injected clock
        )

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run `work` as a task this manager cancels on stop()."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("scrape task failed", exc_info=task.exception())

    async def apply(self, config: Config) -> None:
        """Make the running pools match `config` (first start, SIGHUP, `/-/reload`)."""
        wanted = {job.job_name: job for job in config.scrape_configs}
        for name in [name for name in self._pools if name not in wanted]:
            await self._pools.pop(name).stop(mark_stale=True)
        for name, job in wanted.items():
            pool = self._pools.get(name)
            if pool is None:
                pool = self._pools[name] = ScrapePool(job, self)
                pool.sync()
            elif pool.config != job:
                await pool.reload(job)

    async def stop(self) -> None:
        """Shut down: stop every task; no staleness markers (the server comes back)."""
        for pool in self._pools.values():
            await pool.stop(mark_stale=False)
        self._pools.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def active_targets(self) -> dict[str, list[Target]]:
        return {name: pool.targets() for name, pool in sorted(self._pools.items())}

    def dropped_targets(self) -> dict[str, list[DroppedTarget]]:
        return {name: list(pool.dropped) for name, pool in sorted(self._pools.items())}

    def dropped_counts(self) -> dict[str, int]:
        return {name: pool.dropped_count for name, pool in sorted(self._pools.items())}

    def loops(self) -> list[ScrapeLoop]:
        return [loop for pool in self._pools.values() for loop in pool.loops()]

    def errors(self) -> list[str]:
        return [error for pool in self._pools.values() for error in pool.errors()]
