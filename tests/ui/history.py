"""Realistic history for UI tests and bench/ui.py: a day of one host's node_exporter data.

The series are those of a real node_exporter scrape (`../shared/fixtures/exposition/`),
relabelled `job="node", instance="host1:9100"`: counters grow from their fixture value at
a rate like the fixture's own (its value over the fixture host's uptime), busier by day
than by night and noisy from scrape to scrape; the CPU modes of each CPU add up to one
second per second; gauges that move on a real host (memory, filesystems, load, sockets)
wander around their fixture value, the rest stay put. Beside them `up` and the scrape
series a Prometheus would add, and (optionally) three Docker containers as vigil's
container collectors name them.

Everything is generated as numpy arrays and written straight into vigil blocks (the
writer `vigil tsdb import` uses) before a server opens the data dir: a day of 15 s data
takes about a second. The blocks are laid out as compaction would leave them (one block
up to the last 2 h boundary, one after it), so a server starting on them does no work;
the newest block ends at the last sample, so the server's own scrapes after it are
accepted. `write_openmetrics` renders the same samples for `promtool tsdb
create-blocks-from openmetrics`, so a real Prometheus can be given the same history.

    python -m tests.ui.history DATA_DIR [--hours 24]
"""

from __future__ import annotations

import argparse
import math
import re
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from vigil.exposition import MetricType, parse_text
from vigil.model import METRIC_NAME, Labels
from vigil.tsdb import SeriesData
from vigil.tsdb.block import write_block

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

NODE_FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "fixtures"
    / "exposition"
    / "node-exporter-1.5.0.txt"
)
JOB = "node"
INSTANCE = "host1:9100"
NODENAME = "host1"
BLOCK_MS = 2 * 3600 * 1000
DAY_S = 86400.0

# Untyped node_exporter families that are really gauges; every other untyped one
# (netstat, vmstat) is a kernel counter.
_UNTYPED_GAUGES = frozenset({"node_netstat_Tcp_CurrEstab", "node_netstat_Ip_Forwarding"})
# Gauges that move on a real host, with how far they wander (fraction of their value).
_WANDERING = (
    (re.compile(r"node_load(1|5|15)"), 0.6),
    (re.compile(r"node_procs_(running|blocked)"), 0.8),
    (
        re.compile(r"node_memory_(MemFree|MemAvailable|Cached|Buffers|Active.*|Inactive.*)_bytes"),
        0.08,
    ),
    (
        re.compile(
            r"node_memory_(AnonPages|Mapped|Shmem|Slab|SReclaimable|SUnreclaim|KReclaimable)_bytes"
        ),
        0.08,
    ),
    (re.compile(r"node_memory_(Committed_AS|PageTables|Dirty|Writeback)_bytes"), 0.2),
    (re.compile(r"node_filesystem_(avail|free)_bytes|node_filesystem_files_free"), 0.01),
    (re.compile(r"node_sockstat_.*|node_netstat_Tcp_CurrEstab|node_nf_conntrack_entries"), 0.3),
    (re.compile(r"node_filefd_allocated|node_entropy_available_bits|node_disk_io_now"), 0.2),
    (re.compile(r"node_timex_(offset|maxerror|estimated_error)_seconds"), 0.5),
    (re.compile(r"node_scrape_collector_duration_seconds|go_gc_duration_seconds"), 0.5),
    (re.compile(r"go_(goroutines|threads|memstats_.*bytes|memstats_heap_objects)"), 0.2),
    (re.compile(r"process_(resident_memory_bytes|open_fds|virtual_memory_bytes)"), 0.1),
)
# Disk counters of a just-booted host count the boot's reads: a quarter of that rate.
_COUNTER_RATE_FACTOR = ((re.compile(r"node_disk_"), 0.25),)
_CPU_BUSY_MODES = ("user", "system", "iowait", "softirq", "irq", "nice", "steal")


@dataclass(frozen=True, slots=True)
class History:
    """Series on one shared time grid: `values[i]` are the samples of `labels[i]`."""

    timestamps: I64
    labels: list[Labels]
    values: F64  # shape (series, samples)

    @property
    def samples(self) -> int:
        return int(self.values.size)

    def __add__(self, other: History) -> History:
        if not np.array_equal(self.timestamps, other.timestamps):
            raise ValueError("histories on different time grids")
        return History(
            self.timestamps, [*self.labels, *other.labels], np.vstack([self.values, other.values])
        )

    def select(self, names: Collection[str]) -> History:
        """Only the series of these metric names."""
        keep = [i for i, ls in enumerate(self.labels) if ls.get(METRIC_NAME) in names]
        return History(self.timestamps, [self.labels[i] for i in keep], self.values[keep])


def time_grid(hours: float, step_s: float, end_ms: int | None = None) -> I64:
    """Scrape timestamps (ms) every `step_s` over `hours`, the last at `end_ms` (default now)."""
    end = int(time.time() * 1000) if end_ms is None else end_ms
    step = int(step_s * 1000)
    n = int(hours * 3600 * 1000 // step) + 1
    return end - step * np.arange(n - 1, -1, -1, dtype=np.int64)


def node_history(
    timestamps: I64,
    *,
    seed: int = 1,
    job: str = JOB,
    instance: str = INSTANCE,
    nodename: str = NODENAME,
    fixture: Path = NODE_FIXTURE,
) -> History:
    """The fixture scrape's series over `timestamps`, plus `up` and the scrape series."""
    rng = np.random.default_rng(seed)
    families = parse_text(fixture.read_text())
    by_name = {s.name: s.value for f in families for s in f.samples if not s.labels}
    uptime = by_name["node_time_seconds"] - by_name["node_boot_time_seconds"]
    start_s = timestamps[0] / 1000.0
    t_s = timestamps / 1000.0
    target = {"job": job, "instance": instance}
    labels: list[Labels] = []
    rows: list[F64] = []
    cpu: dict[str, dict[str, tuple[Labels, float]]] = {}
    for family in families:
        for sample in family.samples:
            full = Labels.from_dict({**dict(sample.labels), **target, METRIC_NAME: sample.name})
            if sample.name == "node_uname_info":
                full = full.with_label("nodename", nodename)
            if sample.name == "node_cpu_seconds_total":
                cpu.setdefault(sample.labels.get("cpu"), {})[sample.labels.get("mode")] = (
                    full,
                    sample.value,
                )
                continue
            labels.append(full)
            rows.append(
                _series(family.type, sample.name, sample.value, t_s, start_s, uptime, by_name, rng)
            )
    for modes in cpu.values():
        for full, row in _cpu_rows(modes, t_s, rng):
            labels.append(full)
            rows.append(row)
    n = len(timestamps)
    _balance_memory([ls.get(METRIC_NAME) for ls in labels], rows, by_name, rng)
    scrape = {
        "up": np.ones(n),
        "scrape_duration_seconds": np.round(0.02 * _wander(n, rng, 0.4) + 0.005, 6),
        "scrape_samples_scraped": np.full(n, float(len(rows))),
        "scrape_samples_post_metric_relabeling": np.full(n, float(len(rows))),
        "scrape_series_added": np.zeros(n),
    }
    for name, row in scrape.items():
        labels.append(Labels.from_dict({**target, METRIC_NAME: name}))
        rows.append(row)
    return History(timestamps, labels, np.vstack(rows))


def _series(
    mtype: MetricType,
    name: str,
    value: float,
    t_s: F64,
    start_s: float,
    uptime: float,
    fixture: dict[str, float],
    rng: np.random.Generator,
) -> F64:
    n = len(t_s)
    if name == "node_time_seconds":
        return t_s.copy()
    if name == "node_boot_time_seconds":
        return np.full(n, math.floor(start_s - uptime))
    if name == "process_start_time_seconds":
        return np.full(n, math.floor(start_s - uptime + 2))
    counter = mtype is MetricType.COUNTER or (
        mtype is MetricType.UNKNOWN and name not in _UNTYPED_GAUGES
    )
    if name.endswith(("_sum", "_count")) and mtype is MetricType.SUMMARY:
        counter = True
    if counter:
        if value <= 0 or not math.isfinite(value):
            return np.full(n, value)
        rate = value / uptime
        rate *= next((f for pattern, f in _COUNTER_RATE_FACTOR if pattern.match(name)), 1.0)
        grown = value + np.cumsum(_rates(rate, t_s, rng))
        return np.floor(grown) if value == math.floor(value) else np.round(grown, 3)
    spread = next((s for pattern, s in _WANDERING if pattern.fullmatch(name)), 0.0)
    if spread == 0.0 or value == 0 or not math.isfinite(value):
        return np.full(n, value)
    moved = value * np.maximum(_wander(n, rng, spread), 0.0)
    if name.startswith("node_filesystem_"):
        size = fixture.get("node_filesystem_size_bytes", math.inf)
        moved = np.minimum(moved, size)
    return np.round(moved) if value == math.floor(value) and value > 10 else np.round(moved, 4)


_MEMORY = "node_memory_{}_bytes"


def _balance_memory(
    names: list[str], rows: list[F64], fixture: dict[str, float], rng: np.random.Generator
) -> None:
    """MemFree and MemAvailable from the other rows, as the kernel's sums have them: what
    applications use wanders, caches wander, free memory is what is left."""
    where = {name: i for i, name in enumerate(names)}
    parts = [
        _MEMORY.format(k)
        for k in ("MemTotal", "MemFree", "MemAvailable", "Cached", "Buffers", "SReclaimable")
    ]
    if not all(p in where for p in parts):
        return
    total, free, available, *caches = (fixture[p] for p in parts)
    cached: F64 = np.sum([rows[where[p]] for p in parts[3:]], axis=0)
    used0 = max(total - free - sum(caches), total * 0.05)
    used = used0 * np.maximum(_wander(len(cached), rng, 0.3), 0.3)
    new_free = np.maximum(total - used - cached, 0.0)
    rows[where[parts[1]]] = np.round(new_free).astype(np.float64)
    unavailable = free + sum(caches) - available
    rows[where[parts[2]]] = np.round(np.maximum(new_free + cached - unavailable, 0.0)).astype(
        np.float64
    )


def _rates(rate: float, t_s: F64, rng: np.random.Generator) -> F64:
    """Per-step increments of a counter averaging `rate`/s: busier by day, noisy per scrape."""
    step = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 15.0
    increments: F64 = rate * step * _daily(t_s, rng) * rng.lognormal(-0.045, 0.3, len(t_s))
    increments[0] = 0.0
    return increments


def _daily(t_s: F64, rng: np.random.Generator) -> F64:
    """1 ± 0.5 over the day (peak in the afternoon, UTC), with a slower wobble."""
    phase = rng.uniform(0, 2 * math.pi)
    day = np.sin(2 * math.pi * (t_s / DAY_S - 0.375))
    wobble = np.sin(2 * math.pi * t_s / 5400.0 + phase)
    out: F64 = 1.0 + 0.4 * day + 0.1 * wobble
    return out


def _wander(n: int, rng: np.random.Generator, spread: float) -> F64:
    """A mean-one path that moves by about `spread`: slow sines plus scrape noise."""
    x = np.linspace(0.0, 1.0, n)
    path = np.ones(n)
    for cycles, weight in ((1.0, 0.5), (7.0, 0.3), (53.0, 0.15)):
        path += spread * weight * np.sin(2 * math.pi * cycles * x + rng.uniform(0, 2 * math.pi))
    out: F64 = path + spread * 0.1 * rng.standard_normal(n)
    return out


def _cpu_rows(
    modes: dict[str, tuple[Labels, float]], t_s: F64, rng: np.random.Generator
) -> Iterator[tuple[Labels, F64]]:
    """One CPU's modes: busy modes at their fixture share (by day and noise), idle the rest
    of each second, all rounded to 10 ms as /proc/stat counts."""
    total = sum(v for _, v in modes.values()) or 1.0
    step = float(t_s[1] - t_s[0]) if len(t_s) > 1 else 15.0
    busy_sum = np.zeros(len(t_s))
    for mode in _CPU_BUSY_MODES:
        if mode not in modes:
            continue
        full, value = modes[mode]
        if value <= 0:
            yield full, np.full(len(t_s), value)
            continue
        share = np.minimum(_rates(value / total, t_s, rng) / step, 0.9 / len(_CPU_BUSY_MODES))
        busy_sum += share
        yield full, np.round(value + np.cumsum(share * step), 2)
    if "idle" in modes:
        full, value = modes["idle"]
        idle = (1.0 - busy_sum) * step
        idle[0] = 0.0
        yield full, np.round(value + np.cumsum(idle), 2)


_CONTAINERS = (
    # name, image, cpu cores used, memory used (bytes), memory limit (bytes, 0 = none), leaks
    ("shop-api", "registry.example.com/shop-api:1.8.2", 0.35, 620 << 20, 1 << 30, True),
    ("postgres", "postgres:16", 0.12, 410 << 20, 0, False),
    ("nginx", "nginx:1.27", 0.02, 24 << 20, 128 << 20, False),
)
_OOM_AT = 0.7  # where in the history the leaking container is OOM-killed and restarted


def container_history(
    timestamps: I64, *, seed: int = 2, job: str = JOB, instance: str = INSTANCE
) -> History:
    """Three Docker containers as vigil's container collectors name them (cgroup series by
    `id`, `name`, `image`; Docker series by `name`, `image`). One leaks memory up to its
    limit, is OOM-killed 70 % into the history and restarted by Docker (same id, its cgroup
    counters from zero, the death and restart counted)."""
    rng = np.random.default_rng(seed)
    t_s = timestamps / 1000.0
    n = len(timestamps)
    labels: list[Labels] = []
    rows: list[F64] = []

    def add(name: str, extra: dict[str, str], row: F64) -> None:
        labels.append(
            Labels.from_dict({"job": job, "instance": instance, **extra, METRIC_NAME: name})
        )
        rows.append(row)

    kill = int(n * _OOM_AT)
    after = np.arange(n) >= kill
    for k, (name, image, cores, memory, limit, leaks) in enumerate(_CONTAINERS):
        cid = f"/system.slice/docker-{k:02d}{'a3f9c2' * 10}{k:02d}.scope"
        cgroup = {"id": cid, "name": name, "image": image}
        named = {"name": name, "image": image}
        died = after.astype(np.float64) if leaks else np.zeros(n)
        increments = _rates(cores, t_s, rng)
        if leaks:
            increments[kill] = 0.0
            cpu = np.where(
                after, np.cumsum(np.where(after, increments, 0.0)), np.cumsum(increments)
            )
            cpu = np.round(cpu + np.where(after, 0.0, 3600 * cores), 3)
            phase = np.where(after, (np.arange(n) - kill) / n, np.arange(n) / max(kill, 1))
            used = np.round(limit * (0.5 + 0.47 * phase) * (1 + 0.01 * rng.standard_normal(n)))
        else:
            cpu = np.round(np.cumsum(increments) + 3600 * cores, 3)
            used = np.round(memory * np.maximum(_wander(n, rng, 0.15), 0.2))
        if limit:
            used = np.minimum(used, limit * 0.97)
        add("container_cpu_usage_seconds_total", {**cgroup, "cpu": "total"}, cpu)
        add("container_cpu_user_seconds_total", cgroup, np.round(cpu * 0.8, 3))
        add("container_cpu_system_seconds_total", cgroup, np.round(cpu * 0.2, 3))
        throttled = np.cumsum(increments * 0.05) if limit and not leaks else np.zeros(n)
        add("container_cpu_cfs_throttled_seconds_total", cgroup, np.round(throttled, 3))
        add("container_memory_usage_bytes", cgroup, used)
        add("container_memory_working_set_bytes", cgroup, np.round(used * 0.9))
        add("container_memory_rss", cgroup, np.round(used * 0.75))
        add("container_memory_cache", cgroup, np.round(used * 0.2))
        add("container_memory_swap", cgroup, np.zeros(n))
        add("container_memory_max_usage_bytes", cgroup, np.maximum.accumulate(used))
        add("container_spec_memory_limit_bytes", cgroup, np.full(n, float(limit)))
        pressure = np.cumsum(increments * (0.02 * used / limit if limit else 0.001))
        add("container_pressure_memory_waiting_seconds_total", cgroup, np.round(pressure, 4))
        add("container_oom_events_total", cgroup, np.zeros(n))
        add("container_last_seen", cgroup, np.floor(t_s))
        add("vigil_container_running", named, np.ones(n))
        add("vigil_container_last_exit_code", named, 137.0 * died)
        add("vigil_container_restarts_total", named, died)
        add("vigil_container_deaths_total", {**named, "reason": "oom_killed"}, died)
        add("vigil_container_oom_killed_total", named, died)
        add("vigil_container_memory_limit_bytes", named, np.full(n, float(limit)))
    return History(timestamps, labels, np.vstack(rows))


def write_blocks(history: History, data_dir: Path) -> list[Path]:
    """The history as vigil blocks under `data_dir`: everything before the last 2 h
    boundary in one block, the rest (up to the last sample) in another — the layout
    leveled compaction leaves, so a server opening the dir does not compact it."""
    ts = history.timestamps
    first, last = int(ts[0]), int(ts[-1])
    boundary = (last // BLOCK_MS) * BLOCK_MS
    windows = [(first, boundary - 1), (boundary, last)] if first < boundary else [(first, last)]
    written = []
    for lo, hi in windows:
        a, b = np.searchsorted(ts, [lo, hi + 1])
        if a == b:
            continue
        part = ts[a:b]
        series = (
            SeriesData(ls, part, history.values[i, a:b]) for i, ls in enumerate(history.labels)
        )
        written.append(write_block(data_dir, series, lo, hi))
    return written


def write_history(
    data_dir: Path,
    *,
    hours: float = 24.0,
    step_s: float = 15.0,
    end_ms: int | None = None,
    containers: bool = True,
) -> History:
    """Generate the node (and container) history ending now and write it under `data_dir`."""
    grid = time_grid(hours, step_s, end_ms)
    history = node_history(grid)
    if containers:
        history = history + container_history(grid)
    write_blocks(history, data_dir)
    return history


def write_openmetrics(history: History, path: Path) -> int:
    """The samples as an OpenMetrics file (series after series, `# EOF` last), as `promtool
    tsdb create-blocks-from openmetrics` reads it; returns the number of samples."""
    seconds = (history.timestamps // 1000).tolist()
    millis = (history.timestamps % 1000).tolist()
    stamps = [f" {s}.{m:03d}\n" for s, m in zip(seconds, millis, strict=True)]
    with path.open("w") as out:
        for ls, row in zip(history.labels, history.values, strict=True):
            rest = ls.without(METRIC_NAME)
            inner = ",".join(f'{k}="{_escape(v)}"' for k, v in rest)
            prefix = ls.get(METRIC_NAME) + ("{" + inner + "}" if inner else "") + " "
            out.writelines(
                prefix + repr(v) + stamp for v, stamp in zip(row.tolist(), stamps, strict=True)
            )
        out.write("# EOF\n")
    return history.samples


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--step", type=float, default=15.0, help="seconds between samples")
    parser.add_argument("--no-containers", action="store_true")
    args = parser.parse_args()
    began = time.perf_counter()
    history = write_history(
        args.data_dir, hours=args.hours, step_s=args.step, containers=not args.no_containers
    )
    print(
        f"{len(history.labels)} series, {history.samples} samples in "
        f"{time.perf_counter() - began:.2f} s under {args.data_dir}"
    )


if __name__ == "__main__":
    main()
