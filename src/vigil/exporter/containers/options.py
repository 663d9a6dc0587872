"""Where the container collectors read from and how often their watchers look: one value, so
tests point every collector at a recorded tree, a fake Docker socket and a fake clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Clock = Callable[[], float]
"""Wall-clock seconds since the epoch; watchers take one so tests drive time without sleeping."""


@dataclass(frozen=True, slots=True)
class ContainerOptions:
    """Every setting of the container half of `vigil agent` (`--path.cgroupfs`,
    `--collector.docker.socket`, `--collector.processes.match`, …)."""

    cgroupfs: Path = Path("/sys/fs/cgroup")
    procfs: Path = Path("/proc")
    kmsg: Path = Path("/dev/kmsg")
    docker_socket: Path | None = Path("/var/run/docker.sock")
    """None turns the Docker collector off (a host without Docker)."""
    process_patterns: tuple[str, ...] = ()
    """`NAME=REGEX` or `REGEX`, matched against each process's command line."""
    docker_timeout: float = 5.0
    """Seconds one Docker API call may take before the collector reports failure."""
    poll_interval: float = 1.0
    """Seconds between two looks of a background watcher (kmsg, cgroup counters, event stream)."""
    resync_interval: float = 30.0
    """Seconds between two full re-reads of the Docker container list, events or not."""
    child_oom_grace: float = 5.0
    """Seconds after an OOM kill in a container without a `die` before it counts as `child_oom`."""
    clock: Clock = field(default=time.time)
