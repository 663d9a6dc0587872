"""Follows Docker's event stream and each container's cgroup and kernel-log trail, so that when a
container dies (or loses a process to the OOM killer) the evidence is gathered before Docker tears
the cgroup down, classified, and tallied per container name."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path

from vigil.exporter.containers.cgroupfs import (
    CgroupFs,
    CgroupReadError,
    CgroupSnapshot,
    MemoryEvents,
)
from vigil.exporter.containers.deaths import (
    Death,
    DeathEvidence,
    DeathLedger,
    DeathReason,
    classify_death,
)
from vigil.exporter.containers.docker import Container, DockerClient, DockerError, DockerEvent
from vigil.exporter.containers.kmsg import KernelOomLog, OomKill
from vigil.exporter.containers.options import ContainerOptions

log = logging.getLogger("vigil.exporter.containers.watcher")


@dataclass(slots=True)
class _Watch:
    """The evidence trail of one container since its last start (mutable, watcher thread only)."""

    container: Container
    cgroup: str | None = None
    baseline: MemoryEvents | None = None
    last: CgroupSnapshot | None = None
    peak: int = 0
    kill_signal: int | None = None
    docker_oom_event: bool = False
    kills: list[OomKill] = field(default_factory=list)
    oom_deadline: float | None = None
    dead: bool = False


def cgroup_of_pid(procfs: Path, pid: int, version: int | None) -> str | None:
    """The memory cgroup of a process from /proc/PID/cgroup (`N:memory:/path` on v1, `0::/path` on v2)."""
    try:
        text = (procfs / str(pid) / "cgroup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if (version == 2 and controllers == "") or (
            version == 1 and "memory" in controllers.split(",")
        ):
            return path
    return None


def _rise(now: int | None, before: int | None) -> int | None:
    """How much a kernel counter grew; a smaller value means a new cgroup that started from 0."""
    if now is None or before is None:
        return now
    return now - before if now >= before else now


class DockerWatcher:
    """One background thread: reads `GET /events`, and every poll interval looks at the kernel log
    and the cgroup counters of running containers. Tests call `sync`, `handle_event` and `tick`."""

    def __init__(
        self,
        options: ContainerOptions,
        cgroups: CgroupFs,
        oom_log: KernelOomLog | None,
        ledger: DeathLedger,
    ) -> None:
        assert options.docker_socket is not None
        self._options = options
        self._clock = options.clock
        self._cgroups = cgroups
        self._oom_log = oom_log
        self._ledger = ledger
        self._client = DockerClient(options.docker_socket, options.docker_timeout)
        self._watches: dict[str, _Watch] = {}
        self._orphan_kills: list[OomKill] = []
        self._kill_cursor = -1
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def sync(self) -> None:
        """Re-reads every container; new ones get a baseline of their cgroup counters."""
        containers = {c.id: c for c in self._client.containers()}
        for gone in set(self._watches) - set(containers):
            del self._watches[gone]
        for container in containers.values():
            watch = self._watches.get(container.id)
            if watch is None:
                watch = self._watches[container.id] = _Watch(container, dead=not container.running)
                if container.running:
                    self._restart_trail(watch)
            watch.container = container
            self._ledger.observe_restart_count(
                container.name, container.image, container.restart_count
            )

    def _restart_trail(self, watch: _Watch) -> None:
        self._claim_orphans(watch)  # kills from before this start belong to no death of this run
        watch.cgroup = self._find_cgroup(watch.container)
        watch.last = self._read(watch.cgroup)
        watch.baseline = watch.last.events if watch.last else None
        watch.peak = watch.last.memory_usage if watch.last else 0
        watch.kill_signal = None
        watch.docker_oom_event = False
        watch.kills = []
        watch.oom_deadline = None
        watch.dead = False

    def _find_cgroup(self, container: Container) -> str | None:
        if container.pid:
            found = cgroup_of_pid(self._options.procfs, container.pid, self._cgroups.version)
            if found is not None:
                return found
        for candidate in (f"/docker/{container.id}", f"/system.slice/docker-{container.id}.scope"):
            if self._cgroups.memory_dir(candidate).is_dir():
                return candidate
        return None

    def _read(self, cgroup: str | None) -> CgroupSnapshot | None:
        if cgroup is None:
            return None
        try:
            return self._cgroups.read(cgroup)
        except CgroupReadError as err:
            log.warning("container cgroup %s: %s", cgroup, err)
            return None

    def handle_event(self, event: DockerEvent) -> None:
        if event.type != "container":
            return
        watch = self._watches.get(event.id)
        action = event.action.split(":", 1)[0]
        if action in ("create", "start", "rename") or watch is None:
            self._refresh_one(event.id)
            watch = self._watches.get(event.id)
            if watch is None:
                return
            if action == "start":
                self._restart_trail(watch)
        if action == "oom":
            watch.docker_oom_event = True
            watch.oom_deadline = watch.oom_deadline or self._clock() + self._options.child_oom_grace
        elif action == "kill":
            signal = event.attributes.get("signal", "")
            watch.kill_signal = int(signal) if signal.isdigit() else None
        elif action == "die":
            self._die(watch, event)
        elif action == "destroy":
            self._watches.pop(event.id, None)

    def _refresh_one(self, container_id: str) -> None:
        container = self._client.inspect(container_id)
        if container is None:
            return
        watch = self._watches.get(container_id)
        if watch is None:
            self._watches[container_id] = _Watch(container, dead=not container.running)
        else:
            watch.container = container
        self._ledger.observe_restart_count(container.name, container.image, container.restart_count)

    def _die(self, watch: _Watch, event: DockerEvent) -> None:
        self._take_kernel_kills()
        watch.kills.extend(self._claim_orphans(watch))
        code_text = event.attributes.get("exitCode", "")
        exit_code = int(code_text) if code_text.lstrip("-").isdigit() else None
        main_pid = watch.container.pid or None
        try:
            inspected = self._client.inspect(watch.container.id)
        except DockerError as err:
            log.warning("inspect of dead container %s: %s", watch.container.name, err)
            inspected = None
        container = inspected or watch.container
        evidence, snapshot = self._evidence(
            watch, exited=True, exit_code=exit_code, main_pid=main_pid
        )
        if inspected is not None:
            evidence = DeathEvidence(
                exited=True,
                exit_code=exit_code if exit_code is not None else inspected.exit_code,
                docker_oom_killed=inspected.oom_killed,
                docker_oom_event=evidence.docker_oom_event,
                kill_signal=evidence.kill_signal,
                cgroup_oom_kills=evidence.cgroup_oom_kills,
                cgroup_limit_ooms=evidence.cgroup_limit_ooms,
                kernel_kills=evidence.kernel_kills,
                main_pid=main_pid,
            )
        reason = classify_death(evidence) or DeathReason.EXIT
        peak = max(watch.peak, (snapshot.peak or 0) if snapshot else 0) or None
        limit = container.memory_limit or (snapshot.memory_limit if snapshot else None)
        death = Death(reason, event.time_nano / 1e9, evidence.exit_code, limit, peak)
        self._ledger.record(container.name, container.image, reason, death)
        log.info(
            "container %s (%s) died: %s, exit code %s",
            container.name,
            container.image,
            reason,
            evidence.exit_code,
        )
        watch.container = container
        watch.dead = True
        watch.kills = []
        watch.docker_oom_event = False
        watch.oom_deadline = None

    def _evidence(
        self, watch: _Watch, *, exited: bool, exit_code: int | None, main_pid: int | None
    ) -> tuple[DeathEvidence, CgroupSnapshot | None]:
        live = self._read(watch.cgroup)
        snapshot = live or watch.last
        kills: int | None = 0
        limit_ooms: int | None = None
        if snapshot is not None and watch.baseline is not None:
            kills = _rise(snapshot.events.oom_kill, watch.baseline.oom_kill)
            limit_ooms = _rise(snapshot.events.oom, watch.baseline.oom)
        evidence = DeathEvidence(
            exited=exited,
            exit_code=exit_code,
            docker_oom_event=watch.docker_oom_event,
            kill_signal=watch.kill_signal,
            cgroup_oom_kills=kills or 0,
            cgroup_limit_ooms=limit_ooms,
            kernel_kills=tuple(watch.kills),
            main_pid=main_pid,
        )
        return evidence, snapshot

    def _watch_of(self, kill: OomKill) -> _Watch | None:
        return next((w for w in self._watches.values() if w.container.id in kill.task_cgroup), None)

    def _claim_orphans(self, watch: _Watch) -> list[OomKill]:
        mine = [k for k in self._orphan_kills if watch.container.id in k.task_cgroup]
        self._orphan_kills = [k for k in self._orphan_kills if k not in mine]
        return mine

    def _take_kernel_kills(self) -> None:
        if self._oom_log is None:
            return
        try:
            self._oom_log.poll()
        except OSError as err:
            log.debug("kernel log: %s", err)
        for kill in self._oom_log.recent():
            if kill.seq <= self._kill_cursor:
                continue
            self._kill_cursor = kill.seq
            self._orphan_kills.append(kill)
        unclaimed: list[OomKill] = []
        for kill in self._orphan_kills:
            watch = self._watch_of(kill)
            if watch is None or watch.dead:
                # a container not synced yet (its `die` claims it), or no container at all
                unclaimed.append(kill)
                continue
            watch.kills.append(kill)
            watch.oom_deadline = watch.oom_deadline or self._clock() + self._options.child_oom_grace
        self._orphan_kills = unclaimed[-64:]

    def tick(self) -> None:
        """Looks once at the kernel log and each running container's cgroup; an OOM kill in a
        container that is still running after the grace period counts as `child_oom`."""
        self._take_kernel_kills()
        now = self._clock()
        for watch in self._watches.values():
            if watch.dead:
                continue
            snapshot = self._read(watch.cgroup)
            if snapshot is not None:
                watch.last = snapshot
                watch.peak = max(watch.peak, snapshot.memory_usage)
                base = watch.baseline
                if base is not None and snapshot.events.oom_kill > base.oom_kill:
                    watch.oom_deadline = watch.oom_deadline or now + self._options.child_oom_grace
            if watch.oom_deadline is not None and now >= watch.oom_deadline:
                self._child_oom(watch, now)

    def _child_oom(self, watch: _Watch, now: float) -> None:
        evidence, snapshot = self._evidence(
            watch, exited=False, exit_code=None, main_pid=watch.container.pid or None
        )
        if classify_death(evidence) is DeathReason.CHILD_OOM:
            container = watch.container
            limit = container.memory_limit or (snapshot.memory_limit if snapshot else None)
            peak = (snapshot.peak if snapshot else None) or watch.peak or None
            death = Death(DeathReason.CHILD_OOM, now, None, limit, peak)
            self._ledger.record(container.name, container.image, DeathReason.CHILD_OOM, death)
            victims = ", ".join(f"{k.process} ({k.pid})" for k in watch.kills) or "a process"
            log.warning(
                "container %s: OOM killer killed %s; the container lives on",
                container.name,
                victims,
            )
        if snapshot is not None:
            watch.baseline = snapshot.events
        watch.kills = []
        watch.docker_oom_event = False
        watch.oom_deadline = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="vigil-docker-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._client.close()

    def _run(self) -> None:
        since = f"{self._clock():.9f}"
        seen: set[tuple[int, str, str]] = set()
        next_sync = next_tick = 0.0
        failing = False
        while not self._stop.is_set():
            try:
                if self._clock() >= next_sync:
                    self.sync()
                    next_sync = self._clock() + self._options.resync_interval
                for event in self._client.events(since, read_timeout=self._options.poll_interval):
                    stamp = f"{event.time_nano // 10**9}.{event.time_nano % 10**9:09d}"
                    key = (event.time_nano, event.id, event.action)
                    if key in seen:  # replayed by `since` after a reconnect
                        continue
                    if stamp != since:
                        seen.clear()
                        since = stamp
                    seen.add(key)
                    self.handle_event(event)
                    if self._stop.is_set():
                        break
                    if self._clock() >= next_tick:
                        self.tick()
                        next_tick = self._clock() + self._options.poll_interval
                self.tick()
                next_tick = self._clock() + self._options.poll_interval
                if failing:
                    log.info("Docker event stream on %s is back", self._options.docker_socket)
                failing = False
            except DockerError as err:
                if not failing and self._client.socket.exists():
                    log.error("Docker event stream: %s", err)
                elif not failing:
                    log.info("no Docker socket at %s; looking again later", self._client.socket)
                failing = True
                self._stop.wait(self._options.poll_interval)
