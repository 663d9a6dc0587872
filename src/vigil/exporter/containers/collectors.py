"""The container collectors: cgroup accounting under cAdvisor's names, Docker state and deaths,
and host-wide OOM kills. Each yields what it could read, then raises if something failed, so the
scrape reports `node_scrape_collector_success{collector=…} 0` with the rest of the output intact."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
    StateSetMetricFamily,
)

from vigil.exporter._collector import NoDataError
from vigil.exporter.containers.cgroupfs import CgroupFs, CgroupReadError, CgroupSnapshot
from vigil.exporter.containers.deaths import DeathLedger
from vigil.exporter.containers.docker import Container, DockerClient, DockerError, container_id_in
from vigil.exporter.containers.kmsg import KernelOomLog, read_boot_time, read_vmstat_oom_kills
from vigil.exporter.containers.options import Clock

log = logging.getLogger("vigil.exporter.containers")

_CGROUP_LABELS = ["id", "name", "image"]
_NAME_LABELS = ["name", "image"]
_DOCKER_STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


class ContainerDirectory:
    """Container id → (name, image), filled by the Docker collector and read by the cgroup
    collector for cAdvisor's `name`/`image` labels."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._names: dict[str, tuple[str, str]] = {}

    def replace(self, containers: list[Container]) -> None:
        with self._lock:
            self._names = {c.id: (c.name, c.image) for c in containers}

    def lookup(self, cgroup_id: str) -> tuple[str, str]:
        container = container_id_in(cgroup_id)
        if container is None:
            return "", ""
        with self._lock:
            return self._names.get(container, ("", ""))


class CollectorFailure(Exception):
    """Some of a collector's sources failed; the message names each (file or socket) and why."""


class CgroupCollector:
    """Every memory cgroup: usage, working set, limits, memory.events, CPU and PSI (cAdvisor names)."""

    name = "containers"

    def __init__(self, cgroups: CgroupFs, directory: ContainerDirectory, clock: Clock) -> None:
        self._cgroups = cgroups
        self._directory = directory
        self._clock = clock

    def collect(self) -> Iterator[Metric]:
        if self._cgroups.version is None:
            raise NoDataError(
                f"no cgroup v1 memory controller or cgroup v2 hierarchy at {self._cgroups.root}"
            )
        snapshots: list[CgroupSnapshot] = []
        errors: list[CgroupReadError] = []
        for cgroup_id in self._cgroups.ids():
            try:
                snapshot = self._cgroups.read(cgroup_id)
            except CgroupReadError as err:
                errors.append(err)
                continue
            if snapshot is not None:
                snapshots.append(snapshot)
        yield from self._families(snapshots)
        if errors:
            more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
            raise CollectorFailure(f"{errors[0]}{more}")

    def _families(self, snapshots: list[CgroupSnapshot]) -> list[Metric]:
        def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=labels or _CGROUP_LABELS)

        def counter(name: str, doc: str, labels: list[str] | None = None) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, labels=labels or _CGROUP_LABELS)

        usage = gauge(
            "container_memory_usage_bytes",
            "Current memory usage in bytes, including all memory regardless of when it was accessed",
        )
        working_set = gauge("container_memory_working_set_bytes", "Current working set in bytes.")
        rss = gauge("container_memory_rss", "Size of RSS in bytes.")
        cache = gauge("container_memory_cache", "Number of bytes of page cache memory.")
        swap = gauge("container_memory_swap", "Container swap usage in bytes.")
        peak = gauge("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes")
        failcnt = Metric(
            "container_memory_failcnt", "Number of memory usage hits limits", "counter"
        )
        limit = gauge(
            "container_spec_memory_limit_bytes", "Memory limit for the container (0: no limit)."
        )
        swap_limit = gauge(
            "container_spec_memory_swap_limit_bytes",
            "Memory swap limit for the container (0: no limit).",
        )
        high = gauge(
            "vigil_container_memory_high_bytes",
            "memory.high of the cgroup: above it the kernel throttles and reclaims (0: none, or v1).",
        )
        ooms = counter(
            "container_oom_events_total", "Count of out of memory events observed for the container"
        )
        events = counter(
            "vigil_container_memory_events_total",
            "The cgroup's memory events (v2 memory.events; v1: max from memory.failcnt, oom_kill "
            "from memory.oom_control): high and max warn before an OOM kill.",
            labels=[*_CGROUP_LABELS, "event"],
        )
        cpu = counter(
            "container_cpu_usage_seconds_total",
            "Cumulative cpu time consumed in seconds.",
            labels=[*_CGROUP_LABELS, "cpu"],
        )
        cpu_user = counter(
            "container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds."
        )
        cpu_system = counter(
            "container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds."
        )
        periods = counter(
            "container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals."
        )
        throttled = counter(
            "container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals."
        )
        throttled_seconds = counter(
            "container_cpu_cfs_throttled_seconds_total",
            "Total time duration the container has been throttled.",
        )
        quota = gauge("container_spec_cpu_quota", "CPU quota of the container.")
        period = gauge("container_spec_cpu_period", "CPU period of the container.")
        waiting = counter(
            "container_pressure_memory_waiting_seconds_total",
            "Total time duration tasks in the container have waited due to memory congestion.",
        )
        stalled = counter(
            "container_pressure_memory_stalled_seconds_total",
            "Total time duration no tasks in the container could make progress due to memory congestion.",
        )
        last_seen = gauge("container_last_seen", "Last time a container was seen by the exporter")
        now = self._clock()
        for snap in snapshots:
            labels = [snap.id, *self._directory.lookup(snap.id)]
            usage.add_metric(labels, snap.memory_usage)
            working_set.add_metric(labels, snap.working_set)
            for family, value in (
                (rss, snap.rss),
                (cache, snap.cache),
                (swap, snap.swap),
                (peak, snap.peak),
            ):
                if value is not None:
                    family.add_metric(labels, value)
            if self._cgroups.version == 1 and snap.events.max is not None:  # memory.failcnt
                sample_labels = dict(zip(_CGROUP_LABELS, labels, strict=True))
                failcnt.add_sample("container_memory_failcnt", sample_labels, snap.events.max)
            limit.add_metric(labels, snap.memory_limit or 0)
            swap_limit.add_metric(labels, snap.swap_limit or 0)
            high.add_metric(labels, snap.memory_high or 0)
            ooms.add_metric(labels, snap.events.oom_kill)
            for event, count in snap.events.items():
                events.add_metric([*labels, event], count)
            if snap.cpu is not None:
                c = snap.cpu
                cpu.add_metric([*labels, "total"], c.usage_seconds)
                cpu_values: tuple[tuple[GaugeMetricFamily | CounterMetricFamily, float | None], ...]
                cpu_values = (
                    (cpu_user, c.user_seconds),
                    (cpu_system, c.system_seconds),
                    (periods, c.periods),
                    (throttled, c.throttled_periods),
                    (throttled_seconds, c.throttled_seconds),
                    (quota, c.quota_us),
                    (period, c.period_us),
                )
                for cpu_family, cpu_value in cpu_values:
                    if cpu_value is not None:
                        cpu_family.add_metric(labels, cpu_value)
            if snap.memory_pressure is not None:
                waiting.add_metric(labels, snap.memory_pressure.waiting_seconds)
                stalled.add_metric(labels, snap.memory_pressure.stalled_seconds)
            last_seen.add_metric(labels, now)
        families: list[Metric] = [
            usage, working_set, rss, cache, swap, peak, failcnt, limit, swap_limit, high, ooms, events,
            cpu, cpu_user, cpu_system, periods, throttled, throttled_seconds, quota, period,
            waiting, stalled, last_seen,
        ]  # fmt: skip
        return [f for f in families if f.samples]


class DockerCollector:
    """Docker's view of each container (state, exit code, restart policy, limit) and vigil's
    per-name tally of deaths by reason and restarts, which survives restarts and re-creations."""

    name = "docker"

    def __init__(
        self, socket: Path, timeout: float, ledger: DeathLedger, directory: ContainerDirectory
    ) -> None:
        self._socket = socket
        self._client = DockerClient(socket, timeout)
        self._ledger = ledger
        self._directory = directory

    def close(self) -> None:
        self._client.close()

    def collect(self) -> Iterator[Metric]:
        failure: Exception | None = None
        containers: list[Container] = []
        if not self._socket.exists():
            failure = NoDataError(f"no Docker socket at {self._socket}")
        else:
            try:
                containers = self._client.containers()
            except DockerError as err:
                failure = err
            else:
                self._directory.replace(containers)
        for container in containers:
            self._ledger.observe_restart_count(
                container.name, container.image, container.restart_count
            )
        yield from self._container_families(containers)
        yield from self._ledger_families([(c.name, c.image) for c in containers])
        if failure is not None:
            raise failure

    def _container_families(self, containers: list[Container]) -> list[Metric]:
        running = GaugeMetricFamily(
            "vigil_container_running",
            "1 when the container runs, 0 otherwise.",
            labels=_NAME_LABELS,
        )
        state = StateSetMetricFamily(
            "vigil_container_state",
            "The container's state as Docker reports it.",
            labels=_NAME_LABELS,
        )
        exit_code = GaugeMetricFamily(
            "vigil_container_last_exit_code",
            "Exit code of the container's last run (137: SIGKILL, by the OOM killer or not; see "
            "vigil_container_deaths_total for why).",
            labels=_NAME_LABELS,
        )
        oom_flag = GaugeMetricFamily(
            "vigil_container_docker_oom_killed",
            "Docker's State.OOMKilled for the last run (misses some OOM kills; prefer "
            "vigil_container_oom_killed_total).",
            labels=_NAME_LABELS,
        )
        limit = GaugeMetricFamily(
            "vigil_container_memory_limit_bytes",
            "HostConfig.Memory of the container (0: no limit).",
            labels=_NAME_LABELS,
        )
        info = InfoMetricFamily(
            "vigil_container",
            "The container's id and restart policy.",
            labels=[*_NAME_LABELS, "id", "restart_policy"],
        )
        for c in containers:
            labels = [c.name, c.image]
            running.add_metric(labels, 1.0 if c.running else 0.0)
            states = dict.fromkeys(_DOCKER_STATES, False)
            states[c.status] = True
            state.add_metric(labels, states)
            exit_code.add_metric(labels, c.exit_code)
            oom_flag.add_metric(labels, 1.0 if c.oom_killed else 0.0)
            limit.add_metric(labels, c.memory_limit or 0)
            info.add_metric([*labels, c.id, c.restart_policy], {})
        return [running, state, exit_code, oom_flag, limit, info]

    def _ledger_families(self, current: list[tuple[str, str]]) -> list[Metric]:
        deaths = CounterMetricFamily(
            "vigil_container_deaths_total",
            "Container deaths by why they died: cgroup_oom, host_oom, child_oom (a process inside "
            "was OOM-killed, the container lives on), sigkill, exit (non-zero code), clean.",
            labels=[*_NAME_LABELS, "reason"],
        )
        ooms = CounterMetricFamily(
            "vigil_container_oom_killed_total",
            "OOM kills in the container, of its main process or a child, from the kernel log, the "
            "cgroup and Docker together.",
            labels=_NAME_LABELS,
        )
        restarts = CounterMetricFamily(
            "vigil_container_restarts_total",
            "Restarts of the container by its restart policy, per name across re-creations.",
            labels=_NAME_LABELS,
        )
        last_at = GaugeMetricFamily(
            "vigil_container_last_death_timestamp_seconds",
            "When the container last died.",
            labels=_NAME_LABELS,
        )
        last_reason = InfoMetricFamily(
            "vigil_container_last_death",
            "Why the container last died.",
            labels=[*_NAME_LABELS, "reason"],
        )
        last_limit = GaugeMetricFamily(
            "vigil_container_last_death_memory_limit_bytes",
            "The container's memory limit when it last died (0: no limit).",
            labels=_NAME_LABELS,
        )
        last_peak = GaugeMetricFamily(
            "vigil_container_last_death_memory_peak_bytes",
            "The container's peak memory usage in the run that last died.",
            labels=_NAME_LABELS,
        )
        for tally in self._ledger.tallies(current):
            labels = [tally.name, tally.image]
            for reason, count in tally.deaths:
                deaths.add_metric([*labels, reason.value], count)
            ooms.add_metric(labels, tally.oom_kills)
            restarts.add_metric(labels, tally.restarts)
            if tally.last is not None:
                last_at.add_metric(labels, tally.last.at)
                last_reason.add_metric([*labels, tally.last.reason.value], {})
                last_limit.add_metric(labels, tally.last.memory_limit or 0)
                if tally.last.memory_peak is not None:
                    last_peak.add_metric(labels, tally.last.memory_peak)
        return [deaths, ooms, restarts, last_at, last_reason, last_limit, last_peak]


class OomKillCollector:
    """OOM kills on the whole host, in containers or not: the /proc/vmstat counter and the last
    victim from the kernel log."""

    name = "oomkill"

    def __init__(self, procfs: Path, oom_log: KernelOomLog) -> None:
        self._procfs = procfs
        self._oom_log = oom_log

    def collect(self) -> Iterator[Metric]:
        errors: list[str] = []
        try:
            self._oom_log.poll()
        except OSError as err:
            errors.append(f"{self._oom_log.path}: {err.strerror or err}")
        try:
            total = read_vmstat_oom_kills(self._procfs)
        except (OSError, ValueError) as err:
            errors.append(f"{self._procfs / 'vmstat'}: {err}")
            total = None
        yield CounterMetricFamily(
            "vigil_oom_kills_total",
            "Processes killed by the kernel's OOM killer since boot (/proc/vmstat oom_kill), in "
            "cgroups or not.",
            value=total if total is not None else self._oom_log.seen(),
        )
        last = self._oom_log.last()
        if last is not None:
            yield InfoMetricFamily(
                "vigil_oom_last_victim",
                "The last process the OOM killer killed, from the kernel log; scope is cgroup (a "
                "memory cgroup's limit) or host (the machine ran out).",
                value={
                    "process": last.process,
                    "pid": str(last.pid),
                    "cgroup": last.task_cgroup,
                    "oom_cgroup": last.oom_cgroup,
                    "scope": last.scope,
                },
            )
            boot = read_boot_time(self._procfs)
            if boot is not None:
                yield GaugeMetricFamily(
                    "vigil_oom_last_victim_timestamp_seconds",
                    "When the OOM killer killed its last victim.",
                    value=boot + last.uptime_seconds,
                )
            if last.anon_rss_bytes is not None:
                yield GaugeMetricFamily(
                    "vigil_oom_last_victim_anon_rss_bytes",
                    "Anonymous memory the last OOM victim held when killed.",
                    value=last.anon_rss_bytes,
                )
        if errors:
            raise CollectorFailure("; ".join(errors))
