"""Why a container died, never just "137": a pure classifier over the evidence every source left
(Docker events and inspect, cgroup counters, kernel log), and the per-name tally it feeds."""

from __future__ import annotations

import enum
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field

from vigil.exporter.containers.kmsg import OomKill

_SIGKILL = 9


class DeathReason(enum.StrEnum):
    CGROUP_OOM = "cgroup_oom"
    """The container's own memory limit was hit and the kernel killed its main process."""
    HOST_OOM = "host_oom"
    """The whole host ran out of memory and the kernel picked the container's main process."""
    CHILD_OOM = "child_oom"
    """The OOM killer killed a process inside, but the container lives on."""
    SIGKILL = "sigkill"
    """Killed by signal 9 from outside (`docker kill`, a stop timeout), not by the OOM killer."""
    EXIT = "exit"
    """The main process exited by itself with a non-zero code (or another signal)."""
    CLEAN = "clean"
    """Exit code 0."""


@dataclass(frozen=True, slots=True)
class DeathEvidence:
    """What each source says about one container at the moment it died (or had a process killed).
    Every source lies or goes missing somewhere, so the classifier weighs them together."""

    exited: bool
    """False when the container still runs: only a process inside was killed."""
    exit_code: int | None = None
    """As Docker and shells report it: 128+N for signal N (137 for SIGKILL); -N is read as signal N."""
    docker_oom_killed: bool = False
    """`State.OOMKilled` of inspect: missed on some kernels and for killed children (moby#38352)."""
    docker_oom_event: bool = False
    """An `oom` event in Docker's event stream for this container."""
    kill_signal: int | None = None
    """Signal of Docker's last `kill` event (`docker kill`, or `docker stop` after its timeout)."""
    cgroup_oom_kills: int = 0
    """Rise of the cgroup's oom_kill counter (v2 memory.events, v1 memory.oom_control) since start."""
    cgroup_limit_ooms: int | None = None
    """Rise of v2 memory.events `oom` (the cgroup's own limit was hit); None where v1 has no such count."""
    kernel_kills: tuple[OomKill, ...] = ()
    """Kernel log "Killed process" records for processes in the container's cgroup."""
    main_pid: int | None = None
    """The container's PID 1 as the host sees it, to tell its death from a child's."""


def _signal(exit_code: int | None) -> int | None:
    if exit_code is None:
        return None
    if exit_code < 0:
        return -exit_code
    if 128 < exit_code < 160:
        return exit_code - 128
    return None


def _oom_scope(evidence: DeathEvidence) -> DeathReason:
    """cgroup or host OOM: the kernel log says which; else v2's `oom` count; else the cgroup's."""
    if evidence.kernel_kills:
        main = [k for k in evidence.kernel_kills if k.pid == evidence.main_pid]
        kill = (main or list(evidence.kernel_kills))[-1]
        return DeathReason.CGROUP_OOM if kill.scope == "cgroup" else DeathReason.HOST_OOM
    if evidence.cgroup_limit_ooms is not None and evidence.cgroup_oom_kills > 0:
        return DeathReason.CGROUP_OOM if evidence.cgroup_limit_ooms > 0 else DeathReason.HOST_OOM
    return DeathReason.CGROUP_OOM


def classify_death(evidence: DeathEvidence) -> DeathReason | None:
    """The reason for a death, `child_oom` for a kill inside a living container, None for nothing."""
    kernel = bool(evidence.kernel_kills) or evidence.cgroup_oom_kills > 0
    docker = evidence.docker_oom_killed or evidence.docker_oom_event
    if not evidence.exited:
        return DeathReason.CHILD_OOM if kernel or docker else None
    main_killed = evidence.main_pid is not None and any(
        k.pid == evidence.main_pid for k in evidence.kernel_kills
    )
    signal = _signal(evidence.exit_code)
    if signal == _SIGKILL or main_killed:
        # Docker's flags alone do not outweigh a SIGKILL Docker says it sent itself.
        if main_killed or kernel or (docker and evidence.kill_signal != _SIGKILL):
            return _oom_scope(evidence)
        return DeathReason.SIGKILL
    if evidence.exit_code is None:
        if kernel or docker:
            return _oom_scope(evidence)
        return DeathReason.SIGKILL if evidence.kill_signal == _SIGKILL else DeathReason.EXIT
    return DeathReason.CLEAN if evidence.exit_code == 0 else DeathReason.EXIT


@dataclass(frozen=True, slots=True)
class Death:
    """The last death of a container, kept for `vigil_container_last_death_*`."""

    reason: DeathReason
    at: float
    exit_code: int | None
    memory_limit: int | None
    memory_peak: int | None


@dataclass(slots=True)
class _Tally:
    image: str
    deaths: dict[DeathReason, int] = field(default_factory=lambda: dict.fromkeys(DeathReason, 0))
    restarts: int = 0
    last_restart_count: int | None = None
    last: Death | None = None


@dataclass(frozen=True, slots=True)
class ContainerTally:
    """One container name's counters: a stable identity across restarts and re-creations."""

    name: str
    image: str
    deaths: tuple[tuple[DeathReason, int], ...]
    restarts: int
    last: Death | None

    @property
    def oom_kills(self) -> int:
        counts = dict(self.deaths)
        return sum(
            counts[r] for r in (DeathReason.CGROUP_OOM, DeathReason.HOST_OOM, DeathReason.CHILD_OOM)
        )


class DeathLedger:
    """Deaths and restarts per container name, written by the event watcher and read by scrapes
    (hence the lock). Counters only grow, whatever Docker's own counts do."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tallies: dict[str, _Tally] = {}

    def _tally(self, name: str, image: str) -> _Tally:
        tally = self._tallies.get(name)
        if tally is None:
            tally = self._tallies[name] = _Tally(image)
        elif image:
            tally.image = image
        return tally

    def record(self, name: str, image: str, reason: DeathReason, death: Death) -> None:
        with self._lock:
            tally = self._tally(name, image)
            tally.deaths[reason] += 1
            if reason is not DeathReason.CHILD_OOM:
                tally.last = death

    def observe_restart_count(self, name: str, image: str, restart_count: int) -> None:
        """Folds Docker's RestartCount (which resets when a container is re-created or started by
        hand) into a counter that only grows."""
        with self._lock:
            tally = self._tally(name, image)
            previous = tally.last_restart_count
            if previous is None:
                tally.restarts = restart_count
            elif restart_count > previous:
                tally.restarts += restart_count - previous
            elif restart_count < previous:
                tally.restarts += restart_count
            tally.last_restart_count = restart_count

    def tallies(self, names: Iterable[tuple[str, str]] = ()) -> list[ContainerTally]:
        """Every name seen, plus `names` (name, image) with zeros, so a first death is a visible rise."""
        with self._lock:
            for name, image in names:
                self._tally(name, image)
            return [
                ContainerTally(name, t.image, tuple(t.deaths.items()), t.restarts, t.last)
                for name, t in sorted(self._tallies.items())
            ]
