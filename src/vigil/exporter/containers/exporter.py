"""The container half of `vigil agent`, built from one options value: the collectors a scrape runs
and the background watchers the agent's lifespan starts and stops."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from vigil.exporter._collector import HostCollector
from vigil.exporter.containers.cgroupfs import CgroupFs
from vigil.exporter.containers.collectors import (
    CgroupCollector,
    ContainerDirectory,
    DockerCollector,
    OomKillCollector,
)
from vigil.exporter.containers.deaths import DeathLedger
from vigil.exporter.containers.kmsg import KernelOomLog
from vigil.exporter.containers.options import ContainerOptions
from vigil.exporter.containers.processes import ProcessCollector, parse_process_match
from vigil.exporter.containers.watcher import DockerWatcher


class Watcher(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


class ContainerExporter:
    """Collectors for `ScrapeCollector` (docker first: it names the cgroups the next one reports),
    and watchers that follow the event stream and the kernel log between scrapes."""

    def __init__(
        self,
        collectors: Sequence[HostCollector],
        watchers: Sequence[Watcher],
        ledger: DeathLedger,
        docker: DockerCollector | None,
    ) -> None:
        self.collectors = list(collectors)
        self.ledger = ledger
        self._watchers = list(watchers)
        self._docker = docker

    def start(self) -> None:
        for watcher in self._watchers:
            watcher.start()

    def stop(self) -> None:
        """Stops the watchers (each within a poll interval) and closes the Docker connections."""
        for watcher in reversed(self._watchers):
            watcher.stop()
        if self._docker is not None:
            self._docker.close()


def build_exporter(options: ContainerOptions) -> ContainerExporter:
    """Raises ValueError for an invalid `--collector.processes.match` pattern."""
    matches = [parse_process_match(spec) for spec in options.process_patterns]
    cgroups = CgroupFs(options.cgroupfs)
    oom_log = KernelOomLog(options.kmsg, options.poll_interval)
    ledger = DeathLedger()
    directory = ContainerDirectory()
    collectors: list[HostCollector] = []
    watchers: list[Watcher] = [oom_log]
    docker: DockerCollector | None = None
    if options.docker_socket is not None:
        docker = DockerCollector(options.docker_socket, options.docker_timeout, ledger, directory)
        collectors.append(docker)
        watchers.append(DockerWatcher(options, cgroups, oom_log, ledger))
    collectors.append(CgroupCollector(cgroups, directory, options.clock))
    collectors.append(OomKillCollector(options.procfs, oom_log))
    if matches:
        collectors.append(ProcessCollector(options.procfs, matches, oom_log, os.getpid()))
    return ContainerExporter(collectors, watchers, ledger, docker)
